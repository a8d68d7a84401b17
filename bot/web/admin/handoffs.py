"""The 转人工 inbox: guardians' requests for a person, staff replies and closing, page and API.

A reply goes out as a customer-service message, or as a template notice when the guardian is outside
WeChat's 48-hour window (then the whole text follows when they next write), exactly as broadcasts do
(bot.delivery). Texts are kept masked: personal numbers never reach the inbox in full.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.delivery import deliver
from bot.privacy import redact
from bot.store.repos import CANCELLED, DONE, EXPIRED, HANDOFF_CLOSED, HANDOFF_LABELS, HANDOFF_OPEN, REJECTED
from bot.web.admin.applications import masked_application
from bot.web.admin.auth import AdminAuth
from bot.web.admin.core import AdminContext, Auth, h, json_body, json_response, short_time

REPLY_CHARS = 600  # a customer-service text stays well inside WeChat's limit
FINISHED = {DONE, REJECTED, EXPIRED, CANCELLED}
SENDERS = {"guardian": "家长", "staff": "工作人员"}


class HandoffError(ValueError):
    """A reply or close that cannot be done; `status` is the HTTP status the API answers."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def delivery_label(result: Any) -> str:
    """How a staff reply went out, in the words staff read on the page."""
    if result.ok:
        return {"template": "对方超过48小时未互动：已发模板通知，全文在其下次留言时送达",
                "outbox": "已送达（模拟器消息箱）"}.get(result.detail, "已发送（客服消息）")
    if result.status in ("retry", "paused"):
        return "暂未送达，系统稍后自动重发"
    return "暂未送达，已保留，家长下次留言时补发"


class HandoffViews:
    def __init__(self, ctx: AdminContext) -> None:
        self.ctx = ctx
        self.handoffs = ctx.services.handoffs

    def add_routes(self, router: web.UrlDispatcher, guard: AdminAuth) -> None:
        router.add_get("/admin/handoffs", guard.page(self.inbox))
        router.add_post("/admin/handoffs/{handoff_id}/reply", guard.page(self.reply_form))
        router.add_post("/admin/handoffs/{handoff_id}/close", guard.page(self.close_form))
        router.add_get("/admin/api/handoffs", guard.api(self.api_list))
        router.add_post("/admin/api/handoffs/{handoff_id}/reply", guard.api(self.api_reply))
        router.add_post("/admin/api/handoffs/{handoff_id}/close", guard.api(self.api_close))

    async def listing(self) -> list[dict[str, Any]]:
        return [await self._shown(r) for r in await self.handoffs.listing()]

    async def _shown(self, record: dict[str, Any]) -> dict[str, Any]:
        """What staff see of a request: masked guardian reference, messages, the guardian's open applications."""
        apps = await self.ctx.services.applications.for_user(record["user_id"])
        return {
            "id": record["id"], "status": record["status"],
            "status_label": HANDOFF_LABELS.get(record["status"], record["status"]),
            "guardian": record["user_id"][:6] + "…", "at": record.get("at", ""), "updated_at": record["updated_at"],
            "scheme": record.get("scheme", ""), "source": record.get("source", ""),
            "messages": [{"from": m["from"], "text": redact(m.get("text", "")), "at": m.get("at", ""),
                          **({"delivery": m["delivery"]} if m.get("delivery") else {})}
                         for m in record["messages"]],
            "applications": [masked_application(self.ctx, a) for a in apps if a["status"] not in FINISHED],
        }

    async def reply(self, handoff_id: str, text: str) -> dict[str, Any]:
        text = text.strip()
        if not text:
            raise HandoffError("回复内容不能为空。")
        if len(text) > REPLY_CHARS:
            raise HandoffError(f"回复不能超过{REPLY_CHARS}字。")
        record = await self.handoffs.get(handoff_id)
        if record is None:
            raise HandoffError("没有这个人工客服请求。", 404)
        if record["status"] == HANDOFF_CLOSED:
            raise HandoffError("这个请求已关闭，不能再回复。", 409)
        result = await deliver(self.ctx.services, record["user_id"], text)
        updated = await self.handoffs.reply(handoff_id, self.ctx.services.clock.now(), redact(text),
                                            delivery_label(result))
        return await self._shown(updated)

    async def close(self, handoff_id: str) -> dict[str, Any]:
        record = await self.handoffs.close(handoff_id, self.ctx.services.clock.now())
        if record is None:
            raise HandoffError("没有这个人工客服请求。", 404)
        return await self._shown(record)

    # ----- pages
    async def inbox(self, request: web.Request, auth: Auth, error: str = "") -> web.Response:
        items = await self.listing()
        waiting = sum(1 for i in items if i["status"] == HANDOFF_OPEN)
        head = (f'<p class="muted">待回复 {waiting} 条。家长在请求关闭前发来的消息都会记在这里（机器人照常回复他们）；'
                '回复以客服消息发出，对方超过48小时未互动时改发模板通知。</p>')
        notice = f'<p class="notice error">{h(error)}</p>' if error else ""
        cards = "".join(self._card(item, auth) for item in items)
        body = notice + head + (cards or '<p class="muted">还没有人工客服请求。</p>')
        return await self.ctx.render(auth, "人工客服", body, status=400 if error else 200)

    def _card(self, item: dict[str, Any], auth: Auth) -> str:
        path = f"/admin/handoffs/{quote(item['id'])}"
        messages = "".join(
            f'<li class="{h(m["from"])}"><time>{h(short_time(m["at"]))}</time><b>{h(SENDERS.get(m["from"], m["from"]))}</b>：'
            f'{h(m["text"])}' + (f'<br><span class="muted">{h(m["delivery"])}</span>' if m.get("delivery") else "")
            + "</li>" for m in item["messages"])
        apps = "、".join(f'{h(a["id"])}（{h(a["scheme_name"])}，{h(a["status_label"])}）' for a in item["applications"])
        actions = "" if item["status"] == HANDOFF_CLOSED else (
            f'<form method="post" action="{path}/reply" class="reply-form">'
            f'<input type="hidden" name="csrf" value="{h(auth.csrf)}">'
            f'<label for="text-{h(item["id"])}">回复家长</label>'
            f'<textarea name="text" id="text-{h(item["id"])}" maxlength="{REPLY_CHARS}" required></textarea>'
            f'<p><button type="submit">发送回复</button></p></form>'
            f'<form method="post" action="{path}/close" class="close-form inline-form">'
            f'<input type="hidden" name="csrf" value="{h(auth.csrf)}"><button class="secondary" type="submit">关闭请求</button></form>')
        return (f'<section class="card handoff" id="handoff-{h(item["id"])}" data-status="{h(item["status"])}">'
                f'<p><b>{h(item["status_label"])}</b>　家长 {h(item["guardian"])}　发起：{h(short_time(item["at"]))}'
                f'　编号 {h(item["id"])}</p>'
                + (f'<p class="muted">在办申请：{apps}</p>' if apps else "")
                + f'<ul class="messages">{messages}</ul>{actions}</section>')

    async def reply_form(self, request: web.Request, auth: Auth) -> web.Response:
        form = await request.post()
        try:
            await self.reply(request.match_info["handoff_id"], str(form.get("text", "")))
        except HandoffError as exc:
            return await self.inbox(request, auth, error=str(exc))
        raise web.HTTPSeeOther("/admin/handoffs")

    async def close_form(self, request: web.Request, auth: Auth) -> web.Response:
        try:
            await self.close(request.match_info["handoff_id"])
        except HandoffError as exc:
            return await self.inbox(request, auth, error=str(exc))
        raise web.HTTPSeeOther("/admin/handoffs")

    # ----- API
    async def api_list(self, request: web.Request) -> dict[str, Any]:
        items = await self.listing()
        return {"open": sum(1 for i in items if i["status"] == HANDOFF_OPEN), "handoffs": items}

    async def api_reply(self, request: web.Request) -> web.Response | dict[str, Any]:
        body = await json_body(request)
        try:
            return await self.reply(request.match_info["handoff_id"], str(body.get("text") or ""))
        except HandoffError as exc:
            return json_response({"error": str(exc)}, exc.status)

    async def api_close(self, request: web.Request) -> web.Response | dict[str, Any]:
        try:
            return await self.close(request.match_info["handoff_id"])
        except HandoffError as exc:
            return json_response({"error": str(exc)}, exc.status)
