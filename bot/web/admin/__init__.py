"""Admin pages and the admin JSON API under /admin (see docs/ADMIN_API.md).

One module per resource, each holding its pages and its API side by side: `auth` (login and the
guards), `dashboard`, `broadcasts` (with the reminder plan), `roster`, `applications`, `handoffs` (the 转人工 inbox). Pages show
personal numbers only masked (`*****2980`, `176****2353`).
"""
from __future__ import annotations

from aiohttp import web

from bot.broadcast import install
from bot.services import Services
from bot.web.admin.applications import ApplicationViews
from bot.web.admin.auth import AdminAuth
from bot.web.admin.broadcasts import BroadcastViews
from bot.web.admin.core import ASSETS, AdminContext
from bot.web.admin.dashboard import DashboardViews
from bot.web.admin.handoffs import HandoffViews
from bot.web.admin.roster import RosterViews


def setup_admin(app: web.Application, services: Services) -> None:
    jobs, reminders = install(services)
    ctx = AdminContext(services, jobs, reminders)
    guard = AdminAuth(ctx)
    guard.add_routes(app.router)
    for views in (DashboardViews(ctx), BroadcastViews(ctx), RosterViews(ctx), ApplicationViews(ctx),
                  HandoffViews(ctx)):
        views.add_routes(app.router, guard)
    app.router.add_static("/admin/static", ASSETS / "static", show_index=False)

    async def stop_sending(_app: web.Application) -> None:
        await jobs.stop()  # sends in flight finish and are recorded; the next start resumes the rest

    app.on_shutdown.append(stop_sending)
