"""Admin pages and the admin JSON API under /admin (see docs/ADMIN_API.md).

Login with BOT_ADMIN_TOKEN (constant-time compare) → a random session id in an HttpOnly,
SameSite=Strict cookie; the session (with its CSRF token) lives in the store, so every worker
accepts it. Every POST form carries the CSRF token; the JSON API takes either
`Authorization: Bearer <BOT_ADMIN_TOKEN>` or the session cookie plus an `X-CSRF-Token` header.
Pages show personal numbers only masked (`*****2980`, `176****2353`).
"""
from __future__ import annotations

import datetime as dt
import hmac
import html
import json
import logging
import secrets
import string
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from bot.broadcast import install
from bot.broadcast.jobs import DELIVERY_LABELS, JOB_STATUS_LABELS, BroadcastJobs, JobError
from bot.broadcast.reminders import ReminderScheduler
from bot.broadcast.segments import STATUS_FILTERS, Segment, SegmentError, count
from bot.clock import SHANGHAI
from bot.privacy import mask_id, mask_phone, redact
from bot.roster_import import LABELS as ROSTER_LABELS
from bot.roster_import import RosterReport, import_roster, school_names
from bot.services import Services
from bot.conversation import STARTED_COUNTER
from bot.store.repos import (AWAITING_PAYMENT, DONE, PAID, PRE_APPROVED, STATUS_LABELS, SUBMITTED,
                             Applications, Subscribers)

log = logging.getLogger("bot.web.admin")

ASSETS = Path(__file__).parent / "admin"
SESSION_KIND = "admin_session"
COOKIE = "bot_admin"
LOGIN_COOKIE = "bot_admin_login"  # CSRF token of the login form (before a session exists)
SESSION_TTL = 8 * 3600
LOGIN_FAILURES_ALLOWED = 10  # per client address per 10 minutes
MAX_UPLOAD = 10 * 1024 * 1024
SEARCH_LIMIT = 50
MESSAGE_COUNTER_TTL = 40 * 86400  # as the pipeline creates it, should we read it first
FUNNEL = (("开始办理", None), ("已提交", {SUBMITTED, PRE_APPROVED, AWAITING_PAYMENT, PAID, DONE}),
          ("预审通过", {PRE_APPROVED, AWAITING_PAYMENT, PAID, DONE}), ("已缴费", {PAID, DONE}))
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def h(value: Any) -> str:
    return html.escape(str(value if value is not None else ""), quote=True)


@dataclass
class Auth:
    via: str  # "bearer" | "session"
    session_id: str = ""
    csrf: str = ""


def setup_admin(app: web.Application, services: Services) -> None:
    jobs, reminders = install(services)
    site = AdminSite(services, jobs, reminders)
    site.add_routes(app.router)

    async def stop_sending(_app: web.Application) -> None:
        await jobs.stop()  # sends in flight finish and are recorded; the next start resumes the rest

    app.on_shutdown.append(stop_sending)


class AdminSite:
    def __init__(self, services: Services, jobs: BroadcastJobs, reminders: ReminderScheduler) -> None:
        self.services, self.jobs, self.reminders = services, jobs, reminders
        self.store = services.store
        self.base = string.Template((ASSETS / "base.html").read_text(encoding="utf-8"))
        self.login_page = string.Template((ASSETS / "login.html").read_text(encoding="utf-8"))
        self.schools = school_names(services.settings.policies_dir)

    def add_routes(self, router: web.UrlDispatcher) -> None:
        page, api = self._page, self._api
        router.add_get("/admin", self.root)
        router.add_get("/admin/login", self.login_form)
        router.add_post("/admin/login", self.login)
        router.add_post("/admin/logout", page(self.logout))
        router.add_get("/admin/", page(self.dashboard))
        router.add_get("/admin/broadcasts", page(self.broadcasts))
        router.add_post("/admin/broadcasts", page(self.broadcast_create))
        router.add_get("/admin/broadcasts/{job_id}", page(self.broadcast_detail))
        router.add_post("/admin/broadcasts/{job_id}/cancel", page(self.broadcast_cancel))
        router.add_post("/admin/broadcasts/{job_id}/resend-unknown", page(self.broadcast_resend_unknown))
        router.add_get("/admin/reminders", page(self.reminder_schedule))
        router.add_get("/admin/roster", page(self.roster_form))
        router.add_post("/admin/roster", page(self.roster_upload))
        router.add_get("/admin/applications", page(self.applications))
        router.add_post("/admin/applications", page(self.applications))  # keeps ID numbers out of URLs
        router.add_static("/admin/static", ASSETS / "static", show_index=False)
        router.add_get("/admin/api/stats", api(self.api_stats))
        router.add_post("/admin/api/segments/preview", api(self.api_preview))
        router.add_get("/admin/api/segments", api(self.api_segments))
        router.add_get("/admin/api/broadcasts", api(self.api_broadcasts))
        router.add_post("/admin/api/broadcasts", api(self.api_broadcast_create))
        router.add_get("/admin/api/broadcasts/{job_id}", api(self.api_broadcast_get))
        router.add_post("/admin/api/broadcasts/{job_id}/cancel", api(self.api_broadcast_cancel))
        router.add_post("/admin/api/broadcasts/{job_id}/resend-unknown", api(self.api_broadcast_resend_unknown))
        router.add_get("/admin/api/reminders", api(self.api_reminders))
        router.add_post("/admin/api/roster", api(self.api_roster))
        router.add_get("/admin/api/applications", api(self.api_applications))
        router.add_post("/admin/api/applications", api(self.api_applications))

    # ----- authentication ------------------------------------------------------------------
    def _token_ok(self, token: str) -> bool:
        expected = self.services.settings.admin_token
        return bool(expected) and hmac.compare_digest(token.encode("utf-8"), expected.encode("utf-8"))

    async def _authenticate(self, request: web.Request) -> Auth | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return Auth("bearer") if self._token_ok(header[7:].strip()) else None
        session_id = request.cookies.get(COOKIE, "")
        if not session_id or len(session_id) > 100:
            return None
        rec = await self.store.get(SESSION_KIND, session_id)
        return Auth("session", session_id, rec.data["csrf"]) if rec else None

    def _page(self, handler: Callable[[web.Request, Auth], Awaitable[web.StreamResponse]]) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            auth = await self._authenticate(request)
            if auth is None:
                if request.method == "GET":
                    return _redirect("/admin/login")
                return _secure(web.Response(status=403, text="请先登录管理后台。"))
            if request.method == "POST" and auth.via == "session":
                form = await request.post()
                if not hmac.compare_digest(str(form.get("csrf", "")), auth.csrf):
                    return _secure(web.Response(status=403, text="页面已过期（CSRF 校验失败），请刷新后重试。"))
            return _secure(await handler(request, auth))
        return wrapped

    def _api(self, handler: Callable[[web.Request], Awaitable[Any]]) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            auth = await self._authenticate(request)
            if auth is None:
                return _secure(_json({"error": "未登录或令牌错误"}, 401))
            if request.method == "POST" and auth.via == "session" and not hmac.compare_digest(
                    request.headers.get("X-CSRF-Token", ""), auth.csrf):
                return _secure(_json({"error": "CSRF 校验失败"}, 403))
            try:
                result = await handler(request)
            except (SegmentError, JobError, ValueError) as exc:
                return _secure(_json({"error": str(exc)}, 400))
            return _secure(result if isinstance(result, web.StreamResponse) else _json(result))
        return wrapped

    async def root(self, request: web.Request) -> web.StreamResponse:
        return _redirect("/admin/")

    async def login_form(self, request: web.Request) -> web.StreamResponse:
        if await self._authenticate(request):
            return _redirect("/admin/")
        return self._login_page(request, "")

    def _login_page(self, request: web.Request, error: str, status: int = 200) -> web.StreamResponse:
        """The login form, with a double-submit CSRF token (cookie + hidden field) since there is no session yet."""
        token = request.cookies.get(LOGIN_COOKIE, "")
        if not 20 <= len(token) <= 64:
            token = secrets.token_urlsafe(24)
        response = _html(self.login_page.substitute(error=error, csrf=h(token)), status)
        response.set_cookie(LOGIN_COOKIE, token, max_age=3600, path="/admin", httponly=True, samesite="Strict",
                            secure=request.secure)
        return _secure(response)

    async def login(self, request: web.Request) -> web.StreamResponse:
        client = request.remote or "?"
        failures_key = f"admin_login_fail:{client}"
        if await self.store.incr(failures_key, 0, ttl=600) >= LOGIN_FAILURES_ALLOWED:
            return self._login_page(request, '<p class="notice error">登录失败次数过多，请10分钟后再试。</p>', 429)
        form = await request.post()
        expected_csrf = request.cookies.get(LOGIN_COOKIE, "")
        if not expected_csrf or not hmac.compare_digest(str(form.get("csrf", "")), expected_csrf):
            return self._login_page(request, '<p class="notice error">页面已过期，请重新输入令牌登录。</p>', 403)
        if not self._token_ok(str(form.get("token", ""))):
            await self.store.incr(failures_key, 1, ttl=600)
            log.warning("admin login refused")
            return self._login_page(request, '<p class="notice error">令牌不正确，请重新输入。</p>', 403)
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        await self.store.put(SESSION_KIND, session_id, {"csrf": csrf, "created_at": _now_iso(self.services)},
                             ttl=SESSION_TTL)
        response = _redirect("/admin/")
        response.del_cookie(LOGIN_COOKIE, path="/admin")
        response.set_cookie(COOKIE, session_id, max_age=SESSION_TTL, path="/admin", httponly=True,
                            samesite="Strict", secure=request.secure)
        return _secure(response)

    async def logout(self, request: web.Request, auth: Auth) -> web.StreamResponse:
        if auth.session_id:
            await self.store.delete(SESSION_KIND, auth.session_id)
        response = _redirect("/admin/login")
        response.del_cookie(COOKIE, path="/admin")
        return response

    def _render(self, auth: Auth, title: str, body: str, status: int = 200) -> web.Response:
        now = self.services.clock.now().strftime("%Y-%m-%d %H:%M")
        return _html(self.base.substitute(title=h(title), body=body, csrf=h(auth.csrf), now=h(now)), status)

    # ----- dashboard -------------------------------------------------------------------------
    async def stats(self) -> dict[str, Any]:
        apps = [r.data for _, r in await self.store.query(Applications.KIND)]
        by_status = Counter(a["status"] for a in apps)
        by_scheme: dict[str, Counter] = {}
        for app in apps:
            by_scheme.setdefault(app["scheme"], Counter())[app["status"]] += 1
        reached = [{s["status"] for s in app.get("history", [])} | {app["status"]} for app in apps]
        # Forms started (counted by the router) include those not yet submitted; older data may predate the counter.
        started = max(len(apps), await self.store.incr(STARTED_COUNTER, 0))
        funnel = [{"stage": name, "count": started if needed is None else sum(1 for r in reached if r & needed)}
                  for name, needed in FUNNEL]
        today = self.services.clock.today().isoformat()
        return {
            "date": today,
            "messages_today": await self.store.incr(f"stats:messages:{today}", 0, ttl=MESSAGE_COUNTER_TTL),
            "subscribers": await self.store.count(Subscribers.KIND, subscribed="1"),
            "applications": len(apps),
            "by_status": dict(by_status), "by_scheme": {k: dict(v) for k, v in sorted(by_scheme.items())},
            "funnel": funnel,
        }

    async def dashboard(self, request: web.Request, auth: Auth) -> web.Response:
        s = await self.stats()
        tiles = "".join(f'<div class="tile">{h(label)}<b>{value}</b></div>' for label, value in (
            ("今日消息", s["messages_today"]), ("关注用户", s["subscribers"]), ("参保申请", s["applications"]),
            ("已缴费", s["by_status"].get(PAID, 0) + s["by_status"].get(DONE, 0))))
        top = max([f["count"] for f in s["funnel"]] + [1])
        funnel = "".join(_bar(f["stage"], f["count"], top) for f in s["funnel"])
        statuses = [st for st in STATUS_LABELS if any(st in c for c in s["by_scheme"].values())]
        head = "".join(f'<th class="num">{h(STATUS_LABELS[st])}</th>' for st in statuses)
        rows = "".join(
            f"<tr><td>{h(self._scheme_name(scheme))}</td>"
            + "".join(f'<td class="num">{counts.get(st, 0)}</td>' for st in statuses)
            + f'<td class="num">{sum(counts.values())}</td></tr>'
            for scheme, counts in s["by_scheme"].items())
        table = (f'<table><tr><th>险种</th>{head}<th class="num">合计</th></tr>{rows}</table>' if rows
                 else '<p class="muted">还没有参保申请。</p>')
        body = (f'<div class="tiles">{tiles}</div><h2>办理漏斗（从开始办理到缴费）</h2>'
                f'<section class="card"><div class="bars" id="funnel">{funnel}</div></section>'
                f'<h2>各险种申请状态</h2>{table}')
        return self._render(auth, "概览", body)

    # ----- broadcasts ------------------------------------------------------------------------
    async def broadcasts(self, request: web.Request, auth: Auth, error: str = "", values: dict | None = None
                         ) -> web.Response:
        values = values or {}
        options = lambda items, chosen: "".join(  # noqa: E731
            f'<option value="{h(k)}"{" selected" if k == chosen else ""}>{h(v)}</option>' for k, v in items)
        schemes = [("", "全部险种")] + [(sid, self._scheme_name(sid)) for sid in self._scheme_ids()]
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
        return self._render(auth, "群发消息", f"{notice}<h2>新建群发</h2>{composer}<h2>分组概览</h2>{segments}"
                                              f"<h2>群发记录</h2>{table}",
                            status=400 if error else 200)

    def _job_row(self, job: dict[str, Any]) -> str:
        kind = "自动提醒" if job.get("kind") == "reminder" else "群发"
        return (f'<tr><td><a href="/admin/broadcasts/{quote(job["id"])}">{h(job["id"])}</a></td><td>{kind}</td>'
                f'<td>{h(redact(job.get("title", "")))}</td><td>{h(job.get("segment_label", ""))}</td>'
                f'<td>{h(JOB_STATUS_LABELS.get(job["status"], job["status"]))}</td><td>{h(_short(job["created_at"]))}</td></tr>')

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
        send_at = _parse_local(str(data.get("send_at") or ""))
        if send_at is not None and send_at < self.services.clock.now() - dt.timedelta(minutes=1):
            raise JobError("定时发送的时间已经过去了，请重新选择。")
        return await self.jobs.create(str(data.get("text") or ""), segment, send_at=send_at, created_by="admin")

    async def broadcast_detail(self, request: web.Request, auth: Auth) -> web.Response:
        job_id = request.match_info["job_id"]
        job = await self.jobs.get(job_id)
        if job is None:
            return self._render(auth, "群发任务", '<p class="notice error">没有这个群发任务。</p>', status=404)
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
  <p><b>对象：</b>{h(job.get("segment_label", ""))}　<b>创建：</b>{h(_short(job["created_at"]))}
     {f'　<b>定时：</b>{h(_short(job["send_at"]))}' if job.get("send_at") else ""}</p>
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
        return self._render(auth, f"群发任务 {job_id}", body)

    async def broadcast_resend_unknown(self, request: web.Request, auth: Auth) -> web.Response:
        job_id = request.match_info["job_id"]
        await self.jobs.resend_unknown(job_id)
        raise web.HTTPSeeOther(f"/admin/broadcasts/{quote(job_id)}")

    async def broadcast_cancel(self, request: web.Request, auth: Auth) -> web.Response:
        job_id = request.match_info["job_id"]
        try:
            await self.jobs.cancel(job_id)
        except JobError as exc:
            return self._render(auth, "群发任务", f'<p class="notice error">{h(exc)}</p>', status=404)
        raise web.HTTPSeeOther(f"/admin/broadcasts/{quote(job_id)}")

    # ----- reminders -------------------------------------------------------------------------
    async def reminder_rows(self, days: int = 60) -> list[dict[str, Any]]:
        rows = []
        for r in self.reminders.plan(self.services.clock.now() - dt.timedelta(days=1), days=days + 1):
            job = await self.jobs.get(r.job_id)
            rows.append({"id": r.id, "scheme": r.scheme, "scheme_name": r.scheme_name, "event": r.event_name,
                         "event_at": r.event_at.isoformat(), "fire_at": r.fire_at.isoformat(),
                         "days_before": r.days_before, "job_id": r.job_id if job else "",
                         "status": JOB_STATUS_LABELS.get(job["status"], job["status"]) if job else "未发送"})
        return rows

    async def reminder_schedule(self, request: web.Request, auth: Auth) -> web.Response:
        rows = "".join(
            f"<tr><td>{h(_short(r['fire_at']))}</td><td>{h(r['scheme_name'])}</td><td>{h(r['event'])}</td>"
            f"<td>{h(_short(r['event_at']))}</td><td class=\"num\">{r['days_before']}天前</td><td>"
            + (f'<a href="/admin/broadcasts/{quote(r["job_id"])}">{h(r["status"])}</a>' if r["job_id"] else h(r["status"]))
            + "</td></tr>" for r in await self.reminder_rows())
        body = ('<p class="muted">截止、扣款等日期前自动提醒仍需办理的家长（已缴费的不提醒，每人每条只发一次）；'
                '预审通过后缴费截止前4小时另有缴费提醒。以下为未来60天的计划。</p>'
                + (f"<table><tr><th>发送时间</th><th>险种</th><th>事项</th><th>截止/日期</th><th>提前</th><th>状态</th></tr>{rows}</table>"
                   if rows else '<p class="muted">未来60天没有需要提醒的日期。</p>'))
        return self._render(auth, "自动提醒计划", body)

    # ----- roster ------------------------------------------------------------------------------
    async def roster_form(self, request: web.Request, auth: Auth, report: RosterReport | None = None) -> web.Response:
        schools = await self.services.roster.schools()
        listing = "".join(f"<tr><td>{h(s['school_code'])}</td><td>{h(s.get('school_name', ''))}</td>"
                          f"<td class=\"num\">{s.get('count', 0)}</td><td>{h(_short(s.get('imported_at', '')))}</td></tr>"
                          for s in schools)
        body = (self._report_html(report) if report else "") + f"""
<form method="post" action="/admin/roster" enctype="multipart/form-data" class="card" id="roster-form">
  <input type="hidden" name="csrf" value="{h(auth.csrf)}">
  <p class="muted">上传学校的在籍在册名单（CSV 或 Excel .xlsx）。列：姓名、身份证号、班级、学校代码，可选 学校名称。
  上传后会逐行检查；有问题的行会列出行号和原因。同一学校重新上传会替换原名单。</p>
  <label for="file">名单文件</label><input type="file" name="file" id="file" accept=".csv,.xlsx,.txt" required>
  <p><input type="checkbox" name="import_good_rows" id="import_good_rows" value="1">
     <label class="inline" for="import_good_rows">有问题的行先跳过，只导入无误的行</label></p>
  <button type="submit">上传并检查</button>
</form>
<h2>已导入的学校</h2>""" + (f"<table><tr><th>学校代码</th><th>学校名称</th><th class=\"num\">人数</th><th>导入时间</th></tr>{listing}</table>"
                             if listing else '<p class="muted">还没有导入名单。</p>')
        return self._render(auth, "名单导入", body)

    def _report_html(self, report: RosterReport) -> str:
        css = "ok" if report.ok else "error"
        rows = "".join(f"<tr><td class=\"num\">{p.line}</td><td>{h(ROSTER_LABELS.get(p.field, '整行'))}</td>"
                       f"<td>{h(p.reason)}</td><td>{h(p.value)}</td></tr>" for p in report.problems[:500])
        more = f'<p class="muted">另有{len(report.problems) - 500}处问题未列出。</p>' if len(report.problems) > 500 else ""
        table = (f'<table id="roster-problems"><tr><th class="num">行号</th><th>列</th><th>问题</th><th>内容</th></tr>{rows}</table>{more}'
                 if rows else "")
        return f'<div id="roster-report"><p class="notice {css}">{h(report.filename)}：{h(report.message)}</p>{table}</div>'

    async def _read_upload(self, request: web.Request) -> tuple[bytes, str, bool]:
        """(file bytes, file name, import good rows?) from a multipart form or a raw body (?filename=)."""
        if request.content_type.startswith("multipart/"):
            form = await request.post()  # cached by aiohttp: the CSRF check read it already
            field = form.get("file")
            if not isinstance(field, web.FileField):
                raise ValueError("请选择要上传的名单文件。")
            data = field.file.read(MAX_UPLOAD + 1)
            good_rows = str(form.get("import_good_rows", "")).lower() in {"1", "true", "on", "yes"}
            return data, field.filename or "roster.csv", good_rows
        data = await request.read()
        good_rows = request.query.get("import_good_rows", "").lower() in {"1", "true", "yes"}
        return data, request.query.get("filename", "roster.csv"), good_rows

    async def roster_upload(self, request: web.Request, auth: Auth) -> web.Response:
        try:
            data, filename, good_rows = await self._read_upload(request)
        except ValueError as exc:
            return await self.roster_form(request, auth, RosterReport(filename="", file_error=str(exc)))
        report = await import_roster(self.services.roster, data, filename, self.services.clock.now(),
                                     schools=self.schools, import_good_rows=good_rows)
        return await self.roster_form(request, auth, report)

    # ----- applications -----------------------------------------------------------------------
    async def search_applications(self, query: str) -> list[dict[str, Any]]:
        query = query.strip()
        if not query:
            return []
        apps = self.services.applications
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
        return [self._masked(a) for a in sorted(found.values(), key=lambda a: a["created_at"], reverse=True)][:SEARCH_LIMIT]

    def _masked(self, app: dict[str, Any]) -> dict[str, Any]:
        """What staff may see of an application: personal numbers masked."""
        child, guardian = app.get("child") or {}, app.get("guardian") or {}
        return {
            "id": app["id"], "scheme": app["scheme"], "scheme_name": self._scheme_name(app["scheme"]),
            "status": app["status"], "status_label": STATUS_LABELS.get(app["status"], app["status"]),
            "child_name": child.get("name", ""), "child_id": mask_id(child.get("id_number", "")) if child.get("id_number") else "",
            "guardian_name": guardian.get("name", ""),
            "guardian_phone": mask_phone(guardian.get("phone", "")) if guardian.get("phone") else "",
            "school": app.get("school_name") or app.get("school_code", ""), "user": app["user_id"][:6] + "…",
            "created_at": app["created_at"], "updated_at": app.get("updated_at", ""),
        }

    async def applications(self, request: web.Request, auth: Auth) -> web.Response:
        query = str((await request.post()).get("q", "") if request.method == "POST" else request.query.get("q", ""))[:60]
        results = await self.search_applications(query)
        rows = "".join(
            f"<tr><td>{h(a['id'])}</td><td>{h(a['scheme_name'])}</td><td>{h(a['status_label'])}</td><td>{h(a['child_name'])}</td>"
            f"<td>{h(a['child_id'])}</td><td>{h(a['guardian_name'])}</td><td>{h(a['guardian_phone'])}</td>"
            f"<td>{h(a['school'])}</td><td>{h(_short(a['created_at']))}</td></tr>" for a in results)
        form = (f'<form method="post" action="/admin/applications" class="card" id="search-form">'
                f'<input type="hidden" name="csrf" value="{h(auth.csrf)}"><label for="q">申请编号、OpenID、身份证号或姓名</label>'
                f'<input type="search" name="q" id="q" value="{h(redact(query))}"> <button type="submit">查询</button></form>')
        table = (f'<table id="results"><tr><th>申请编号</th><th>险种</th><th>状态</th><th>儿童</th><th>证件号</th><th>监护人</th>'
                 f'<th>电话</th><th>学校</th><th>提交时间</th></tr>{rows}</table>') if rows else (
            '<p class="muted">没有找到。</p>' if query else "")
        return self._render(auth, "申请查询", form + table)

    # ----- JSON API ----------------------------------------------------------------------------
    async def api_stats(self, request: web.Request) -> dict[str, Any]:
        return await self.stats()

    async def api_preview(self, request: web.Request) -> dict[str, Any]:
        body = await _json_body(request)
        segment = Segment.from_dict(body.get("segment", body))
        return {"count": await count(self.store, segment, self.services.clock.now()), "label": segment.describe(),
                "segment": segment.to_dict()}

    async def segment_overview(self, scheme: str = "") -> list[dict[str, Any]]:
        now = self.services.clock.now()
        return [{"status": key, "label": label, "count": await count(self.store, Segment(scheme=scheme, status=key), now)}
                for key, label in STATUS_FILTERS.items()]

    async def api_segments(self, request: web.Request) -> dict[str, Any]:
        scheme = request.query.get("scheme", "")
        return {"scheme": scheme, "segments": await self.segment_overview(scheme)}

    async def api_broadcasts(self, request: web.Request) -> dict[str, Any]:
        return {"broadcasts": await self.jobs.list(limit=int(request.query.get("limit", "50") or 50))}

    async def api_broadcast_create(self, request: web.Request) -> web.Response:
        job = await self._create_job(await _json_body(request))
        return _json(await self.jobs.progress(job["id"]) | {"text": job["text"]}, 201)

    async def api_broadcast_get(self, request: web.Request) -> web.Response | dict[str, Any]:
        try:
            return await self.jobs.progress(request.match_info["job_id"])
        except JobError as exc:
            return _json({"error": str(exc)}, 404)

    async def api_broadcast_resend_unknown(self, request: web.Request) -> dict[str, Any]:
        job_id = request.match_info["job_id"]
        resent = await self.jobs.resend_unknown(job_id)
        return await self.jobs.progress(job_id) | {"resent": resent}

    async def api_broadcast_cancel(self, request: web.Request) -> web.Response | dict[str, Any]:
        try:
            await self.jobs.cancel(request.match_info["job_id"])
            return await self.jobs.progress(request.match_info["job_id"])
        except JobError as exc:
            return _json({"error": str(exc)}, 404)

    async def api_reminders(self, request: web.Request) -> dict[str, Any]:
        days = min(max(int(request.query.get("days", "60") or 60), 1), 400)
        return {"reminders": await self.reminder_rows(days)}

    async def api_roster(self, request: web.Request) -> web.Response:
        data, filename, good_rows = await self._read_upload(request)
        report = await import_roster(self.services.roster, data, filename, self.services.clock.now(),
                                     schools=self.schools, import_good_rows=good_rows)
        return _json(report.to_dict(), 200 if report.ok or report.imported else 422)

    async def api_applications(self, request: web.Request) -> dict[str, Any]:
        query = (await _json_body(request)).get("q", "") if request.method == "POST" else request.query.get("q", "")
        return {"applications": await self.search_applications(str(query)[:60])}

    # ----- helpers -----------------------------------------------------------------------------
    def _scheme_ids(self) -> list[str]:
        engine = self.services.extras.get("engine") or getattr(self.reminders, "engine", None)
        return list(getattr(engine, "scheme_ids", []) or [])

    def _scheme_name(self, scheme_id: str) -> str:
        engine = self.services.extras.get("engine") or getattr(self.reminders, "engine", None)
        try:
            pack = engine.pack(scheme_id)
            return pack.short_name or pack.name
        except Exception:  # noqa: BLE001 - an application of a scheme no longer shipped
            return scheme_id


def _short(iso: Any) -> str:
    """'2026-09-20T10:00:00+08:00' → '2026-09-20 10:00' (every time shown is Beijing time)."""
    return str(iso or "")[:16].replace("T", " ")


def _bar(label: str, value: int, top: int) -> str:
    width = round(100 * value / top, 1) if top else 0
    return (f'<span>{h(label)}</span><div class="bar"><span style="width:{width}%"></span></div>'
            f'<span class="num">{value}</span>')


def _parse_local(value: str) -> dt.datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise JobError("定时发送的时间格式不对，应为 2026-09-20T10:00。") from None
    return when if when.tzinfo else when.replace(tzinfo=SHANGHAI)


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise ValueError("请求体应为 JSON 对象。") from None
    if not isinstance(body, dict):
        raise ValueError("请求体应为 JSON 对象。")
    return body


def _now_iso(services: Services) -> str:
    return services.clock.now().isoformat(timespec="seconds")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False, default=str))


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _secure(response: web.StreamResponse) -> web.StreamResponse:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
