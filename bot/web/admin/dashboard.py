"""The dashboard: today's messages, subscribers, the funnel, applications by scheme and status."""
from __future__ import annotations

from collections import Counter
from typing import Any

from aiohttp import web

from bot.conversation import STARTED_COUNTER
from bot.store.repos import (DONE, FUNNEL_STAGES, PAID, STATUS_LABELS, Applications, Sessions, Subscribers,
                             application_values)
from bot.web.admin.auth import AdminAuth
from bot.web.admin.core import AdminContext, Auth, h

MESSAGE_COUNTER_TTL = 40 * 86400  # as the pipeline creates it, should we read it first
_FIGURES = ("scheme", "status", "reached")  # the index values the figures are counted from


class DashboardViews:
    def __init__(self, ctx: AdminContext) -> None:
        self.ctx = ctx
        self.store = ctx.store

    def add_routes(self, router: web.UrlDispatcher, guard: AdminAuth) -> None:
        router.add_get("/admin/", guard.page(self.dashboard))
        router.add_get("/admin/api/stats", guard.api(self.api_stats))

    async def stats(self) -> dict[str, Any]:
        # Counted from the applications' index values (scheme, status, furthest funnel stage reached),
        # without reading a record: the same figures at 100 000 guardians in a fraction of a second.
        apps = await application_values(self.store, await self.store.query_index(Applications.KIND, _FIGURES), _FIGURES)
        by_status = Counter(a["status"] for a in apps)
        by_scheme: dict[str, Counter] = {}
        for app in apps:
            by_scheme.setdefault(app["scheme"], Counter())[app["status"]] += 1
        # Forms started (counted by the router) include those not yet submitted; older data may predate the counter.
        funnel = [{"stage": "开始办理", "count": max(len(apps), await self.store.incr(STARTED_COUNTER, 0))}]
        furthest = Counter(a["reached"] for a in apps)  # an application counts in every stage up to its furthest
        for n, (_stage, label, _statuses) in enumerate(FUNNEL_STAGES):
            funnel.append({"stage": label, "count": sum(furthest[stage] for stage, _l, _s in FUNNEL_STAGES[n:])})
        today = self.ctx.services.clock.today().isoformat()
        return {
            "date": today,
            "messages_today": await self.store.incr(f"stats:messages:{today}", 0, ttl=MESSAGE_COUNTER_TTL),
            "subscribers": await self.store.count(Subscribers.KIND, subscribed="1"),
            "applications": len(apps),
            "by_status": dict(by_status), "by_scheme": {k: dict(v) for k, v in sorted(by_scheme.items())},
            "funnel": funnel,
            "handoffs_open": await self.ctx.services.handoffs.count_open(),
            "filling": await self.filling(),
        }

    async def filling(self) -> dict[str, int]:
        """Forms open right now (started, not submitted) by scheme: the segment "已开始填写、未提交" counts them too."""
        counts = {sid: await self.store.count(Sessions.KIND, form_scheme=sid) for sid in self.ctx.scheme_ids()}
        return {sid: n for sid, n in counts.items() if n}

    async def dashboard(self, request: web.Request, auth: Auth) -> web.Response:
        s = await self.stats()
        tiles = "".join(f'<div class="tile">{h(label)}<b>{value}</b></div>' for label, value in (
            ("今日消息", s["messages_today"]), ("关注用户", s["subscribers"]), ("参保申请", s["applications"]),
            ("已缴费", s["by_status"].get(PAID, 0) + s["by_status"].get(DONE, 0))))
        tiles += (f'<a class="tile" id="tile-handoffs" href="/admin/handoffs">待回复人工请求<b>{s["handoffs_open"]}</b></a>')
        top = max([f["count"] for f in s["funnel"]] + [1])
        funnel = "".join(_bar(f["stage"], f["count"], top) for f in s["funnel"])
        statuses = [st for st in STATUS_LABELS if any(st in c for c in s["by_scheme"].values())]
        head = "".join(f'<th class="num">{h(STATUS_LABELS[st])}</th>' for st in statuses)
        schemes = sorted(set(s["by_scheme"]) | set(s["filling"]))
        rows = "".join(
            f"<tr><td>{h(self.ctx.scheme_name(scheme))}</td>"
            f'<td class="num">{s["filling"].get(scheme, 0)}</td>'
            + "".join(f'<td class="num">{s["by_scheme"].get(scheme, {}).get(st, 0)}</td>' for st in statuses)
            + f'<td class="num">{sum(s["by_scheme"].get(scheme, {}).values())}</td></tr>'
            for scheme in schemes)
        table = (f'<table id="by-scheme"><tr><th>险种</th><th class="num">正在填写（未提交）</th>{head}'
                 f'<th class="num">申请合计</th></tr>{rows}</table>' if rows
                 else '<p class="muted">还没有参保申请。</p>')
        body = (f'<div class="tiles">{tiles}</div><h2>办理漏斗（从开始办理到缴费）</h2>'
                f'<section class="card"><div class="bars" id="funnel">{funnel}</div></section>'
                f'<h2>各险种申请状态</h2>{table}')
        return await self.ctx.render(auth, "概览", body)

    async def api_stats(self, request: web.Request) -> dict[str, Any]:
        return await self.stats()


def _bar(label: str, value: int, top: int) -> str:
    width = round(100 * value / top, 1) if top else 0
    return (f'<span>{h(label)}</span><div class="bar"><span style="width:{width}%"></span></div>'
            f'<span class="num">{value}</span>')
