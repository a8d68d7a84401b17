"""What every admin resource module shares: the page frame, responses, escaping and the scheme names."""
from __future__ import annotations

import datetime as dt
import html
import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from aiohttp import web

from bot.broadcast.jobs import BroadcastJobs
from bot.broadcast.reminders import ReminderScheduler
from bot.clock import SHANGHAI
from bot.services import Services

ASSETS = Path(__file__).parent
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Auth:
    via: str  # "bearer" | "session"
    session_id: str = ""
    csrf: str = ""


PageHandler = Callable[[web.Request, Auth], Awaitable[web.StreamResponse]]
ApiHandler = Callable[[web.Request], Awaitable[Any]]


class AdminContext:
    """The services the pages use, the page frame and the scheme names."""

    def __init__(self, services: Services, jobs: BroadcastJobs, reminders: ReminderScheduler) -> None:
        self.services, self.jobs, self.reminders = services, jobs, reminders
        self.store = services.store
        self.base = string.Template((ASSETS / "base.html").read_text(encoding="utf-8"))

    async def render(self, auth: Auth, title: str, body: str, status: int = 200) -> web.Response:
        """A page in the frame; the navigation shows how many 转人工 requests wait for staff."""
        now = self.services.clock.now().strftime("%Y-%m-%d %H:%M")
        waiting = await self.services.handoffs.count_open()
        badge = f'<span class="badge" id="nav-handoffs">{waiting}</span>' if waiting else ""
        return html_response(self.base.substitute(title=h(title), body=body, csrf=h(auth.csrf), now=h(now),
                                                  handoffs_badge=badge), status)

    def now_iso(self) -> str:
        return self.services.clock.now().isoformat(timespec="seconds")

    def scheme_ids(self) -> list[str]:
        engine = self.services.extras.get("engine") or getattr(self.reminders, "engine", None)
        return list(getattr(engine, "scheme_ids", []) or [])

    def scheme_name(self, scheme_id: str) -> str:
        engine = self.services.extras.get("engine") or getattr(self.reminders, "engine", None)
        try:
            pack = engine.pack(scheme_id)
            return pack.short_name or pack.name
        except Exception:  # noqa: BLE001 - an application of a scheme no longer shipped
            return scheme_id


def h(value: Any) -> str:
    return html.escape(str(value if value is not None else ""), quote=True)


def short_time(iso: Any) -> str:
    """'2026-09-20T10:00:00+08:00' → '2026-09-20 10:00' (every time shown is Beijing time)."""
    return str(iso or "")[:16].replace("T", " ")


def parse_local(value: str, error: type[Exception], message: str) -> dt.datetime | None:
    """A datetime-local field (Beijing time when no offset is given); `error(message)` when malformed."""
    value = value.strip()
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise error(message) from None
    return when if when.tzinfo else when.replace(tzinfo=SHANGHAI)


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise ValueError("请求体应为 JSON 对象。") from None
    if not isinstance(body, dict):
        raise ValueError("请求体应为 JSON 对象。")
    return body


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False, default=str))


def html_response(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def secure(response: web.StreamResponse) -> web.StreamResponse:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
