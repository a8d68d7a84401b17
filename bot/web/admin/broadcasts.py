"""Broadcasts to segments (composer, preview, progress) and the automatic reminder plan, pages and API."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.broadcast.jobs import DELIVERY_LABELS, JOB_STATUS_LABELS, JobError
from bot.broadcast.segments import STATUS_FILTERS, Segment, SegmentError, count, overview
from bot.privacy import redact
from bot.web.admin.auth import AdminAuth
from bot.web.admin.core import AdminContext, Auth, h, json_body, json_response, parse_local, short_time


class BroadcastViews:
    def __init__(self, ctx: AdminContext) -> None:
        self.ctx = ctx
        self.store, self.jobs, self.reminders = ctx.store, ctx.jobs, ctx.reminders

    def add_routes(self, router: web.UrlDispatcher, guard: AdminAuth) -> None:
        page, api = guard.page, guard.api
        router.add_get("/admin/broadcasts", page(self.broadcasts))
        router.add_post("/admin/broadcasts", page(self.broadcast_create))
        router.add_get("/admin/broadcasts/{job_id}", page(self.broadcast_detail))
        router.add_post("/admin/broadcasts/{job_id}/cancel", page(self.broadcast_cancel))
        router.add_post("/admin/broadcasts/{job_id}/resend-unknown", page(self.broadcast_resend_unknown))
        router.add_get("/admin/reminders", page(self.reminder_schedule))
        router.add_post("/admin/api/segments/preview", api(self.api_preview))
        router.add_get("/admin/api/segments", api(self.api_segments))
        router.add_get("/admin/api/broadcasts", api(self.api_broadcasts))
        router.add_post("/admin/api/broadcasts", api(self.api_broadcast_create))
        router.add_get("/admin/api/broadcasts/{job_id}", api(self.api_broadcast_get))
        router.add_post("/admin/api/broadcasts/{job_id}/cancel", api(self.api_broadcast_cancel))
        router.add_post("/admin/api/broadcasts/{job_id}/resend-unknown", api(self.api_broadcast_resend_unknown))
        router.add_get("/admin/api/reminders", api(self.api_reminders))

    async def broadcasts(self, request: web.Request, auth: Auth, error: str = "", values: dict | None = None
                         ) -> web.Response:
        values = values or {}
        options = lambda items, chosen: "".join(  # noqa: E731
            f'<option value="{h(k)}"{" selected" if k == chosen else ""}>{h(v)}</option>' for k, v in items)
        schemes = [("", "全部险种")] + [(sid, self.ctx.scheme_name(sid)) for sid in self.ctx.scheme_ids()]
        composer = f"""
<form method="post" action="/admin/broadcasts" class="card" id="composer">
  <input type="hidden" name="csrf" value="{h(auth.csrf)}">
  <div class="row">
    <div><label for="scheme">险种</label><select name="scheme" id="scheme">{options(schemes, values.get("scheme", ""))}</select></div>
    <div><label for="status">办理状态</label><select name="status" id="status">{options(STATUS_FILTERS.items(), values.get("status", ""))}</select></div>
  </div>
  <div class="row">
    <div><label for="district">区县（可空）</label><input type="text" name="district" id="district" value="{h(values.get("district", ""))}" placeholder="如 浦东新区"></div>
    <div><label for="school_code">学校代码（可空）</label><input type="text" name="school_code" id="school_code" value="{h(values.get("school_code", ""))}"></div>
  </div>
  <p><input type="checkbox" name="window_only" id="window_only" value="1"><label class="inline" for="window_only">只发给48小时内互动过的用户（客服消息限制）</label></p>
  <label for="text">消息内容</label>
  <textarea name="text" id="text" maxlength="600" required>{h(values.get("text", ""))}</textarea>
  <label for="send_at">定时发送（可空，空为立即发送；北京时间）</label>
  <input type="datetime-local" name="send_at" id="send_at" value="{h(values.get("send_at", ""))}">
  <p><button type="button" class="secondary" id="preview-button">预览接收人数</button>
     <span id="preview-result" class="muted"></span></p>
  <p><button type="submit" id="send-button">确认发送</button></p>
</form>"""
        overview = "".join(f'<tr><td>{h(row["label"])}</td><td class="num">{row["count"]}</td></tr>'
                           for row in await self.segment_overview())
        segments = f'<table id="segments"><tr><th>分组（全部险种）</th><th class="num">人数</th></tr>{overview}</table>'
        rows = "".join(self._job_row(job) for job in await self.jobs.list(limit=50))
        table = (f"<table><tr><th>编号</th><th>类型</th><th>标题</th><th>对象</th><th>状态</th><th>创建时间</th></tr>{rows}</table>"
                 if rows else '<p class="muted">还没有群发任务。</p>')
        notice = f'<p class="notice error">{h(error)}</p>' if error else ""
        return await self.ctx.render(auth, "群发消息", f"{notice}<h2>新建群发</h2>{composer}<h2>分组概览</h2>{segments}"
                                              f"<h2>群发记录</h2>{table}",
                            status=400 if error else 200)

    def _job_row(self, job: dict[str, Any]) -> str:
        kind = "自动提醒" if job.get("kind") == "reminder" else "群发"
        return (f'<tr><td><a href="/admin/broadcasts/{quote(job["id"])}">{h(job["id"])}</a></td><td>{kind}</td>'
                f'<td>{h(redact(job.get("title", "")))}</td><td>{h(job.get("segment_label", ""))}</td>'
                f'<td>{h(JOB_STATUS_LABELS.get(job["status"], job["status"]))}</td><td>{h(short_time(job["created_at"]))}</td></tr>')

    async def broadcast_create(self, request: web.Request, auth: Auth) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items() if k != "csrf"}
        try:
            job = await self._create_job(form)
        except (SegmentError, JobError, ValueError) as exc:
            return await self.broadcasts(request, auth, error=str(exc), values=form)
        raise web.HTTPSeeOther(f"/admin/broadcasts/{quote(job['id'])}")

    async def _create_job(self, data: dict[str, Any]) -> dict[str, Any]:
        segment_data = data.get("segment") if isinstance(data.get("segment"), dict) else {
            k: data.get(k, "") for k in ("scheme", "district", "school_code", "status", "window_only")}
        segment = Segment.from_dict(segment_data)
        send_at = parse_local(str(data.get("send_at") or ""), JobError, "定时发送的时间格式不对，应为 2026-09-20T10:00。")
        if send_at is not None and send_at < self.ctx.services.clock.now() - dt.timedelta(minutes=1):
            raise JobError("定时发送的时间已经过去了，请重新选择。")
        return await self.jobs.create(str(data.get("text") or ""), segment, send_at=send_at, created_by="admin")

    async def broadcast_detail(self, request: web.Request, auth: Auth) -> web.Response:
        job_id = request.match_info["job_id"]
        job = await self.jobs.get(job_id)
        if job is None:
            return await self.ctx.render(auth, "群发任务", '<p class="notice error">没有这个群发任务。</p>', status=404)
        progress = await self.jobs.progress(job_id)
        cancel = "" if job["status"] in ("done", "cancelled") else (
            f'<form method="post" action="/admin/broadcasts/{quote(job_id)}/cancel" id="cancel-form">'
            f'<input type="hidden" name="csrf" value="{h(auth.csrf)}"><button class="danger" type="submit">取消发送</button></form>')
        if progress["counts"]["unknown"] and job["status"] in ("done", "cancelled"):
            cancel += (f'<form method="post" action="/admin/broadcasts/{quote(job_id)}/resend-unknown" id="resend-form">'
                       f'<input type="hidden" name="csrf" value="{h(auth.csrf)}"><p class="muted">有{progress["counts"]["unknown"]}'
                       f'人的消息在发送进程异常退出时状态未知（可能已收到），系统不会自动重发。</p>'
                       f'<button class="secondary" type="submit">仍要重发给这些人</button></form>')
        failed = await self.jobs.deliveries(job_id, "failed", limit=20)
        failures = "".join(f"<tr><td>{h(d['openid'][:6])}…</td><td>{h(d.get('errcode', ''))}</td><td>{h(redact(d.get('detail', '')))}</td></tr>"
                           for d in failed)
        body = f"""
<section class="card">
  <p><b>对象：</b>{h(job.get("segment_label", ""))}　<b>创建：</b>{h(short_time(job["created_at"]))}
     {f'　<b>定时：</b>{h(short_time(job["send_at"]))}' if job.get("send_at") else ""}</p>
  <p><b>内容：</b></p><pre>{h(redact(job.get("text", "")))}</pre>
</section>
<section class="card" id="job-progress" data-job="{h(job_id)}" data-labels="{h(json.dumps(DELIVERY_LABELS, ensure_ascii=False))}">
  <p>状态：<b id="job-status" data-status="{h(progress["status"])}">{h(progress["status_label"])}</b></p>
  <div class="progress"><span id="job-bar" style="width:{progress["percent"]}%"></span></div>
  <p id="job-numbers">已处理 {progress["finished"]} / {progress["total"]}（{progress["percent"]}%）</p>
  <p id="job-counts" class="muted"></p>
  {cancel}
</section>
{f'<h2>发送失败（前20条）</h2><table><tr><th>用户</th><th>错误码</th><th>说明</th></tr>{failures}</table>' if failures else ""}
<p><a href="/admin/broadcasts">返回群发记录</a></p>"""
        return await self.ctx.render(auth, f"群发任务 {job_id}", body)

    async def broadcast_resend_unknown(self, request: web.Request, auth: Auth) -> web.Response:
        job_id = request.match_info["job_id"]
        await self.jobs.resend_unknown(job_id)
        raise web.HTTPSeeOther(f"/admin/broadcasts/{quote(job_id)}")

    async def broadcast_cancel(self, request: web.Request, auth: Auth) -> web.Response:
        job_id = request.match_info["job_id"]
        try:
            await self.jobs.cancel(job_id)
        except JobError as exc:
            return await self.ctx.render(auth, "群发任务", f'<p class="notice error">{h(exc)}</p>', status=404)
        raise web.HTTPSeeOther(f"/admin/broadcasts/{quote(job_id)}")

    async def reminder_rows(self, days: int = 60) -> list[dict[str, Any]]:
        rows = []
        for r in self.reminders.plan(self.ctx.services.clock.now() - dt.timedelta(days=1), days=days + 1):
            job = await self.jobs.get(r.job_id)
            rows.append({"id": r.id, "scheme": r.scheme, "scheme_name": r.scheme_name, "event": r.event_name,
                         "event_at": r.event_at.isoformat(), "fire_at": r.fire_at.isoformat(),
                         "days_before": r.days_before, "job_id": r.job_id if job else "",
                         "status": JOB_STATUS_LABELS.get(job["status"], job["status"]) if job else "未发送"})
        return rows

    async def reminder_schedule(self, request: web.Request, auth: Auth) -> web.Response:
        rows = "".join(
            f"<tr><td>{h(short_time(r['fire_at']))}</td><td>{h(r['scheme_name'])}</td><td>{h(r['event'])}</td>"
            f"<td>{h(short_time(r['event_at']))}</td><td class=\"num\">{r['days_before']}天前</td><td>"
            + (f'<a href="/admin/broadcasts/{quote(r["job_id"])}">{h(r["status"])}</a>' if r["job_id"] else h(r["status"]))
            + "</td></tr>" for r in await self.reminder_rows())
        body = ('<p class="muted">截止、扣款等日期前自动提醒仍需办理的家长（已缴费的不提醒，每人每条只发一次）；'
                '预审通过后缴费截止前4小时另有缴费提醒。以下为未来60天的计划。</p>'
                + (f"<table><tr><th>发送时间</th><th>险种</th><th>事项</th><th>截止/日期</th><th>提前</th><th>状态</th></tr>{rows}</table>"
                   if rows else '<p class="muted">未来60天没有需要提醒的日期。</p>'))
        return await self.ctx.render(auth, "自动提醒计划", body)


    async def api_preview(self, request: web.Request) -> dict[str, Any]:
        body = await json_body(request)
        segment = Segment.from_dict(body.get("segment", body))
        return {"count": await count(self.store, segment, self.ctx.services.clock.now()), "label": segment.describe(),
                "segment": segment.to_dict()}

    async def segment_overview(self, scheme: str = "") -> list[dict[str, Any]]:
        counts = await overview(self.store, Segment(scheme=scheme), self.ctx.services.clock.now())
        return [{"status": key, "label": label, "count": counts[key]} for key, label in STATUS_FILTERS.items()]

    async def api_segments(self, request: web.Request) -> dict[str, Any]:
        scheme = request.query.get("scheme", "")
        return {"scheme": scheme, "segments": await self.segment_overview(scheme)}

    async def api_broadcasts(self, request: web.Request) -> dict[str, Any]:
        return {"broadcasts": await self.jobs.list(limit=int(request.query.get("limit", "50") or 50))}

    async def api_broadcast_create(self, request: web.Request) -> web.Response:
        job = await self._create_job(await json_body(request))
        return json_response(await self.jobs.progress(job["id"]) | {"text": job["text"]}, 201)

    async def api_broadcast_get(self, request: web.Request) -> web.Response | dict[str, Any]:
        try:
            return await self.jobs.progress(request.match_info["job_id"])
        except JobError as exc:
            return json_response({"error": str(exc)}, 404)

    async def api_broadcast_resend_unknown(self, request: web.Request) -> dict[str, Any]:
        job_id = request.match_info["job_id"]
        resent = await self.jobs.resend_unknown(job_id)
        return await self.jobs.progress(job_id) | {"resent": resent}

    async def api_broadcast_cancel(self, request: web.Request) -> web.Response | dict[str, Any]:
        try:
            await self.jobs.cancel(request.match_info["job_id"])
            return await self.jobs.progress(request.match_info["job_id"])
        except JobError as exc:
            return json_response({"error": str(exc)}, 404)

    async def api_reminders(self, request: web.Request) -> dict[str, Any]:
        days = min(max(int(request.query.get("days", "60") or 60), 1), 400)
        return {"reminders": await self.reminder_rows(days)}
