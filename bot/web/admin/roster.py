"""Roster upload (CSV/XLSX) with its row-by-row report and the list of imported schools, page and API."""
from __future__ import annotations

from aiohttp import web

from bot.roster_import import LABELS as ROSTER_LABELS
from bot.roster_import import RosterReport, import_roster, school_names
from bot.web.admin.auth import AdminAuth
from bot.web.admin.core import AdminContext, Auth, h, json_response, short_time

MAX_UPLOAD = 10 * 1024 * 1024


class RosterViews:
    def __init__(self, ctx: AdminContext) -> None:
        self.ctx = ctx
        self.schools = school_names(ctx.services.settings.policies_dir)

    def add_routes(self, router: web.UrlDispatcher, guard: AdminAuth) -> None:
        router.add_get("/admin/roster", guard.page(self.roster_form))
        router.add_post("/admin/roster", guard.page(self.roster_upload))
        router.add_post("/admin/api/roster", guard.api(self.api_roster))

    async def roster_form(self, request: web.Request, auth: Auth, report: RosterReport | None = None) -> web.Response:
        schools = await self.ctx.services.roster.schools()
        listing = "".join(f"<tr><td>{h(s['school_code'])}</td><td>{h(s.get('school_name', ''))}</td>"
                          f"<td class=\"num\">{s.get('count', 0)}</td><td>{h(short_time(s.get('imported_at', '')))}</td></tr>"
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
        return await self.ctx.render(auth, "名单导入", body)

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
        report = await import_roster(self.ctx.services.roster, data, filename, self.ctx.services.clock.now(),
                                     schools=self.schools, import_good_rows=good_rows)
        return await self.roster_form(request, auth, report)


    async def api_roster(self, request: web.Request) -> web.Response:
        data, filename, good_rows = await self._read_upload(request)
        report = await import_roster(self.ctx.services.roster, data, filename, self.ctx.services.clock.now(),
                                     schools=self.schools, import_good_rows=good_rows)
        return json_response(report.to_dict(), 200 if report.ok or report.imported else 422)
