"""Application search with masked personal data, page and API."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.privacy import mask_id, mask_phone, redact
from bot.store.base import VersionConflict
from bot.store.repos import AWAITING_VERIFICATION, STATUS_LABELS, Applications
from bot.web.admin.auth import AdminAuth
from bot.web.admin.core import AdminContext, Auth, h, json_body, json_response, short_time

SEARCH_LIMIT = 50


class ApplicationViews:
    def __init__(self, ctx: AdminContext) -> None:
        self.ctx = ctx
        self.store = ctx.store

    def add_routes(self, router: web.UrlDispatcher, guard: AdminAuth) -> None:
        router.add_get("/admin/applications", guard.page(self.applications))
        router.add_post("/admin/applications", guard.page(self.applications))  # keeps ID numbers out of URLs
        router.add_get("/admin/api/applications", guard.api(self.api_applications))
        router.add_post("/admin/api/applications", guard.api(self.api_applications))
        router.add_post("/admin/api/applications/{app_id}/verification", guard.api(self.api_verification))

    async def search_applications(self, query: str) -> list[dict[str, Any]]:
        query = query.strip()
        if not query:
            return []
        apps = self.ctx.services.applications
        compact = query.replace(" ", "").upper()
        found: dict[str, dict[str, Any]] = {}
        if len(compact) in (15, 18) and compact[:-1].isdigit():
            found.update((a["id"], a) for a in await apps.find_by_id_number(compact))
        exact = await apps.get(query)
        if exact:
            found[exact["id"]] = exact
        for a in await apps.for_user(query):
            found[a["id"]] = a
        if not found and len(query) >= 2:  # by child's or guardian's name (names are not encrypted)
            for _, rec in await self.store.query(Applications.KIND):
                names = ((rec.data.get("child") or {}).get("name", ""), (rec.data.get("guardian") or {}).get("name", ""))
                if any(query in n for n in names if n):
                    app = await apps.get(rec.data["id"])
                    if app:
                        found[app["id"]] = app
                if len(found) >= SEARCH_LIMIT:
                    break
        return [masked_application(self.ctx, a) for a in sorted(found.values(), key=lambda a: a["created_at"], reverse=True)][:SEARCH_LIMIT]

    async def applications(self, request: web.Request, auth: Auth) -> web.Response:
        query = str((await request.post()).get("q", "") if request.method == "POST" else request.query.get("q", ""))[:60]
        results = await self.search_applications(query)
        rows = "".join(
            f"<tr><td>{h(a['id'])}</td><td>{h(a['scheme_name'])}</td><td>{h(a['status_label'])}</td><td>{h(a['child_name'])}</td>"
            f"<td>{h(a['child_id'])}</td><td>{h(a['guardian_name'])}</td><td>{h(a['guardian_phone'])}</td>"
            f"<td>{h(a['school'])}</td><td>{h(short_time(a['created_at']))}</td></tr>" for a in results)
        form = (f'<form method="post" action="/admin/applications" class="card" id="search-form">'
                f'<input type="hidden" name="csrf" value="{h(auth.csrf)}"><label for="q">申请编号、OpenID、身份证号或姓名</label>'
                f'<input type="search" name="q" id="q" value="{h(redact(query))}"> <button type="submit">查询</button></form>')
        table = (f'<table id="results"><tr><th>申请编号</th><th>险种</th><th>状态</th><th>儿童</th><th>证件号</th><th>监护人</th>'
                 f'<th>电话</th><th>学校</th><th>提交时间</th></tr>{rows}</table>') if rows else (
            '<p class="muted">没有找到。</p>' if query else "")
        return await self.ctx.render(auth, "申请查询", form + table)


    async def api_applications(self, request: web.Request) -> dict[str, Any]:
        body = await json_body(request) if request.method == "POST" else dict(request.query)
        status = str(body.get("status", "") or "")
        if status:  # e.g. awaiting_verification: the exemptions staff still have to verify
            if status not in STATUS_LABELS:
                raise ValueError(f"未知状态：{status[:30]}")
            apps = await self.ctx.services.applications.by_status(status, body.get("scheme") or None)
            ordered = sorted(apps, key=lambda a: a["created_at"])
            return {"applications": [masked_application(self.ctx, a) for a in ordered][:SEARCH_LIMIT]}
        return {"applications": await self.search_applications(str(body.get("q", ""))[:60])}

    async def api_verification(self, request: web.Request) -> web.Response | dict[str, Any]:
        """Staff's verification of a declared exemption: `{"decision": "approve"}` or
        `{"decision": "refuse", "reason": "…"}`. The guardian is told; a refusal sends the payment link or
        the scheme's payment instructions."""
        body = await json_body(request)
        decision = body.get("decision")
        if decision not in ("approve", "refuse"):
            raise ValueError("decision 应为 approve 或 refuse")
        fulfilment = self.ctx.services.extras.get("fulfilment")
        if fulfilment is None:
            return json_response({"error": "服务未就绪"}, 503)
        try:
            app = await fulfilment.record_verification(request.match_info["app_id"], decision == "approve",
                                                       str(body.get("reason") or ""), staff="admin")
        except KeyError:
            return json_response({"error": "没有这个申请"}, 404)
        except VersionConflict:
            return json_response({"error": f"该申请不在“{STATUS_LABELS[AWAITING_VERIFICATION]}”状态"}, 409)
        return {"application": masked_application(self.ctx, app)}


def masked_application(ctx: AdminContext, app: dict[str, Any]) -> dict[str, Any]:
    """What staff may see of an application: personal numbers masked."""
    child, guardian = app.get("child") or {}, app.get("guardian") or {}
    return {
        "id": app["id"], "scheme": app["scheme"], "scheme_name": ctx.scheme_name(app["scheme"]),
        "status": app["status"], "status_label": STATUS_LABELS.get(app["status"], app["status"]),
        "child_name": child.get("name", ""), "child_id": mask_id(child.get("id_number", "")) if child.get("id_number") else "",
        "guardian_name": guardian.get("name", ""),
        "guardian_phone": mask_phone(guardian.get("phone", "")) if guardian.get("phone") else "",
        "school": app.get("school_name") or app.get("school_code", ""), "user": app["user_id"][:6] + "…",
        "created_at": app["created_at"], "updated_at": app.get("updated_at", ""),
    }
