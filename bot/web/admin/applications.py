"""Applications: the filtered list (scheme, status, school, dates, partial name) with CSV/XLSX export,
one application's page (status timeline, messages sent, payment), search by exact keys, and staff's
verification of declared exemptions — pages and API. Personal numbers are shown only masked."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, fields
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.fulfilment import PAYMENT_KIND, yuan
from bot.privacy import mask_id, mask_phone, redact
from bot.store.base import VersionConflict
from bot.store.repos import (AWAITING_VERIFICATION, HANDOFF_LABELS, PRE_APPROVED, STATUS_LABELS, Applications,
                             created_on)
from bot.web.admin.auth import AdminAuth
from bot.web.admin.core import AdminContext, Auth, h, json_body, json_response, redirect, short_time
from bot.web.admin.export import to_csv, to_xlsx
from integrations.payment.orders import ORDER_KIND

SEARCH_LIMIT = 50
LIST_LIMIT = 200  # rows on the page and in an API answer; an export takes every match
EXPORT_LIMIT = 50_000
ORDER_LABELS = {"creating": "创建中", "created": "待支付", "paid": "已支付", "expired": "已过期", "failed": "创建失败"}
EXPORT_HEADER = ("申请编号", "险种", "状态", "儿童姓名", "证件号（已脱敏）", "监护人", "电话（已脱敏）", "学校", "提交时间")
_CJK = re.compile(r"[\u3400-\u9fff]")


class FilterError(ValueError):
    """A filter staff typed is malformed; the message is Chinese."""


@dataclass(frozen=True)
class AppFilter:
    """The list's filters: text (application id, OpenID, ID number, or part of a name), scheme, status,
    school (its code, or part of its name), and the submission date range (inclusive, Beijing dates)."""

    q: str = ""
    scheme: str = ""
    status: str = ""
    school: str = ""
    date_from: str = ""
    date_to: str = ""

    @classmethod
    def from_mapping(cls, data: Any) -> "AppFilter":
        values = {f.name: str(data.get(f.name) or "").strip()[:60] for f in fields(cls)}
        if values["status"] and values["status"] not in STATUS_LABELS:
            raise FilterError(f"未知状态：{values['status'][:30]}")
        for name in ("date_from", "date_to"):
            if values[name]:
                try:
                    values[name] = dt.date.fromisoformat(values[name]).isoformat()
                except ValueError:
                    raise FilterError("日期格式应为 2026-09-01。") from None
        return cls(**values)

    def index(self) -> dict[str, str]:
        index = {"scheme": self.scheme, "status": self.status}
        if self.school and not _CJK.search(self.school):
            index["school_code"] = self.school
        return {k: v for k, v in index.items() if v}

    def matches(self, app: dict[str, Any]) -> bool:
        created = str(app.get("created_at", ""))[:10]
        school_ok = not self.school or (app.get("school_code") == self.school if not _CJK.search(self.school)
                                        else self.school in str(app.get("school_name") or ""))
        return ((not self.scheme or app["scheme"] == self.scheme) and (not self.status or app["status"] == self.status)
                and school_ok and (not self.date_from or created >= self.date_from)
                and (not self.date_to or created <= self.date_to))

    def in_dates(self, created_on: str) -> bool:
        return (not self.date_from or created_on >= self.date_from) and (not self.date_to or created_on <= self.date_to)


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
        router.add_post("/admin/api/applications/list", guard.api(self.api_list))
        router.add_post("/admin/api/applications/export", guard.api(self.api_export))
        router.add_get("/admin/api/applications/{app_id}", guard.api(self.api_detail))
        router.add_get("/admin/applications/{app_id}", guard.page(self.detail_page))
        router.add_post("/admin/applications/{app_id}/verification", guard.page(self.verification_page))

    async def exact_matches(self, query: str) -> dict[str, dict[str, Any]]:
        """Applications whose id, guardian's OpenID or child's ID number is `query`."""
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
        return found

    async def search_applications(self, query: str) -> list[dict[str, Any]]:
        query = query.strip()
        if not query:
            return []
        apps = self.ctx.services.applications
        found = await self.exact_matches(query)
        if not found and len(query) >= 2:  # by child's or guardian's name (names are not encrypted)
            for _, rec in await self.store.query(Applications.KIND):
                names = ((rec.data.get("child") or {}).get("name", ""), (rec.data.get("guardian") or {}).get("name", ""))
                if any(query in n for n in names if n):
                    app = await apps.get(rec.data["id"])
                    if app:
                        found[app["id"]] = app
                if len(found) >= SEARCH_LIMIT:
                    break
        results = [masked_application(self.ctx, a)
                   for a in sorted(found.values(), key=lambda a: a["created_at"], reverse=True)][:SEARCH_LIMIT]
        return await self._with_refunds(results)

    async def _with_refunds(self, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each application with `refunds_due`: payments that pay for nothing (a second payment, or one after
        the application lapsed). One query for all of them: there are few."""
        due: dict[str, list[dict[str, Any]]] = {}
        for _key, rec in await self.store.query(PAYMENT_KIND, refund="due"):
            due.setdefault(rec.data["application_id"], []).append(
                {"amount_fen": rec.data["amount_fen"], "transaction_id": rec.data["transaction_id"],
                 "reason": rec.data.get("refund_due", ""), "recorded_at": rec.data.get("recorded_at", "")})
        for item in results:
            item["refunds_due"] = due.get(item["id"], [])
        return results

    async def list_applications(self, f: AppFilter, limit: int | None = LIST_LIMIT) -> tuple[list[dict[str, Any]], int]:
        """(the matching applications, newest first, up to `limit`; how many match in all)."""
        apps = self.ctx.services.applications
        exact = await self.exact_matches(f.q) if f.q else {}
        if exact:
            found = sorted((a for a in exact.values() if f.matches(a)), key=_newest, reverse=True)
            return found[:limit], len(found)
        if f.q or (f.school and "school_code" not in f.index()):  # partial names live in the records only
            found = []
            for _, rec in await self.store.query(Applications.KIND, **f.index()):
                data = rec.data
                names = ((data.get("child") or {}).get("name", ""), (data.get("guardian") or {}).get("name", ""))
                if f.matches(data) and (not f.q or any(f.q in n for n in names if n)):
                    found.append(data)
            found.sort(key=_newest, reverse=True)
            keys = [a["id"] for a in found]
        else:  # filters on index values alone: only the shown rows are read
            rows = [(k, await created_on(self.store, k, v))
                    for k, v in await self.store.query_index(Applications.KIND, ("created_on",), **f.index())]
            keys = [k for k, day in sorted(rows, key=lambda r: (r[1], r[0]), reverse=True) if f.in_dates(day)]
        shown = [a for a in [await apps.get(k) for k in keys[:limit]] if a]
        return shown, len(keys)

    async def applications(self, request: web.Request, auth: Auth) -> web.StreamResponse:
        form = await request.post() if request.method == "POST" else request.query
        error, results, total = "", [], 0
        try:
            f = AppFilter.from_mapping(form)
            if form.get("export") in ("csv", "xlsx"):
                return await self._export(f, str(form["export"]))
            if any(asdict(f).values()):
                found, total = await self.list_applications(f)
                results = await self._with_refunds([masked_application(self.ctx, a) for a in found])
        except FilterError as exc:
            f, error = AppFilter(), str(exc)
        rows = "".join(
            f'<tr><td><a href="/admin/applications/{quote(a["id"])}">{h(a["id"])}</a></td><td>{h(a["scheme_name"])}</td>'
            f"<td>{h(a['status_label'])}{_refund_note(a)}</td><td>{h(a['child_name'])}</td><td>{h(a['child_id'])}</td>"
            f"<td>{h(a['guardian_name'])}</td><td>{h(a['guardian_phone'])}</td><td>{h(a['school'])}</td>"
            f"<td>{h(short_time(a['created_at']))}</td></tr>" for a in results)
        body = self._filter_form(auth, f) + (f'<p class="notice error">{h(error)}</p>' if error else "")
        if rows:
            more = f"，显示最新的{len(results)}条（导出包含全部）" if total > len(results) else ""
            body += (f'<p class="muted" id="result-count">共{total}条{more}。</p>'
                     f'<table id="results"><tr><th>申请编号</th><th>险种</th><th>状态</th><th>儿童</th><th>证件号</th>'
                     f'<th>监护人</th><th>电话</th><th>学校</th><th>提交时间</th></tr>{rows}</table>')
        elif any(asdict(f).values()):
            body += '<p class="muted" id="result-count">没有找到。</p>'
        return await self.ctx.render(auth, "申请查询", body, status=400 if error else 200)

    def _filter_form(self, auth: Auth, f: AppFilter) -> str:
        def options(items: list[tuple[str, str]], chosen: str) -> str:
            return "".join(f'<option value="{h(k)}"{" selected" if k == chosen else ""}>{h(v)}</option>' for k, v in items)
        schemes = [("", "全部险种")] + [(sid, self.ctx.scheme_name(sid)) for sid in self.ctx.scheme_ids()]
        statuses = [("", "全部状态")] + list(STATUS_LABELS.items())
        return f"""
<form method="post" action="/admin/applications" class="card" id="search-form">
  <input type="hidden" name="csrf" value="{h(auth.csrf)}">
  <label for="q">申请编号、OpenID、身份证号，或姓名的一部分</label>
  <input type="search" name="q" id="q" value="{h(redact(f.q))}">
  <div class="row">
    <div><label for="scheme">险种</label><select name="scheme" id="scheme">{options(schemes, f.scheme)}</select></div>
    <div><label for="status">状态</label><select name="status" id="status">{options(statuses, f.status)}</select></div>
    <div><label for="school">学校（代码或名称）</label><input type="text" name="school" id="school" value="{h(f.school)}"></div>
  </div>
  <div class="row">
    <div><label for="date_from">提交日期从</label><input type="date" name="date_from" id="date_from" value="{h(f.date_from)}"></div>
    <div><label for="date_to">到</label><input type="date" name="date_to" id="date_to" value="{h(f.date_to)}"></div>
  </div>
  <p><button type="submit">查询</button>
     <button type="submit" class="secondary" name="export" value="csv" id="export-csv">导出 CSV</button>
     <button type="submit" class="secondary" name="export" value="xlsx" id="export-xlsx">导出 Excel</button></p>
</form>"""

    async def _export(self, f: AppFilter, kind: str) -> web.Response:
        """Every matching application (masked), as a download for schools."""
        found, _total = await self.list_applications(f, limit=EXPORT_LIMIT)
        rows = [[a["id"], a["scheme_name"], a["status_label"], a["child_name"], a["child_id"], a["guardian_name"],
                 a["guardian_phone"], a["school"], short_time(a["created_at"])]
                for a in (masked_application(self.ctx, app) for app in found)]
        stamp = self.ctx.services.clock.now().strftime("%Y%m%d-%H%M")
        if kind == "xlsx":
            body, mime = to_xlsx(EXPORT_HEADER, rows), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            body, mime = to_csv(EXPORT_HEADER, rows), "text/csv"
        return web.Response(body=body, content_type=mime, charset="utf-8" if kind == "csv" else None,
                            headers={"Content-Disposition": f'attachment; filename="applications-{stamp}.{kind}"'})

    async def detail(self, app_id: str) -> dict[str, Any] | None:
        """One application as staff see it: masked fields, status timeline, messages sent, payment, 转人工."""
        app = await self.ctx.services.applications.get(app_id)
        if app is None:
            return None
        order_rec = await self.store.get(ORDER_KIND, app_id)
        order = order_rec.data if order_rec else None
        payments = [r.data for _, r in await self.store.query(PAYMENT_KIND, application_id=app_id)]
        messages = await self.ctx.services.sent_messages.for_user(app["user_id"], since=app["created_at"])
        messages += [{"text": d["text"], "at": d["at"], "how": "自动提醒" if d["kind"] == "reminder" else "群发"}
                     for d in await self.ctx.jobs.sent_to(app["user_id"]) if d["at"] >= app["created_at"]]
        messages.sort(key=lambda m: m["at"])
        handoffs = await self.ctx.services.handoffs.for_user(app["user_id"])
        return masked_application(self.ctx, app) | {
            "timeline": [{"status": e["status"], "label": STATUS_LABELS.get(e["status"], e["status"]), "at": e.get("at", ""),
                          "note": redact(str(e.get("note") or ""))} for e in app.get("history", [])],
            "messages": [{"text": redact(m["text"]), "at": m["at"], "how": m.get("how", "")} for m in messages],
            "payment": None if order is None else {
                "order_no": order.get("order_no", ""), "amount_yuan": yuan(int(order.get("amount_fen") or 0)),
                "status": order.get("status", ""), "status_label": ORDER_LABELS.get(order.get("status", ""), order.get("status", "")),
                "created_at": order.get("created_at", ""), "expires_at": order.get("expires_at", ""),
                "provider": order.get("provider", "")},
            "payments": [{"order_no": p.get("order_no", ""), "transaction_id": p.get("transaction_id", ""),
                          "amount_yuan": yuan(int(p.get("amount_fen") or 0)), "paid_at": p.get("paid_at", ""),
                          "refund_due": p.get("refund_due", "")}
                         for p in payments],
            "handoffs": [{"id": r["id"], "status": r["status"], "status_label": HANDOFF_LABELS.get(r["status"], r["status"])}
                         for r in handoffs],
        }

    async def detail_page(self, request: web.Request, auth: Auth) -> web.Response:
        d = await self.detail(request.match_info["app_id"])
        if d is None:
            return await self.ctx.render(auth, "申请详情", '<p class="notice error">没有这个申请。</p>', status=404)
        facts = "".join(f"<tr><th>{h(label)}</th><td>{h(d[key])}</td></tr>" for label, key in (
            ("险种", "scheme_name"), ("状态", "status_label"), ("儿童", "child_name"), ("证件号", "child_id"),
            ("监护人", "guardian_name"), ("电话", "guardian_phone"), ("学校", "school"), ("家长", "user"),
            ("提交时间", "created_at")))
        timeline = "".join(f"<li><time>{h(short_time(e['at']))}</time>{h(e['label'])}"
                           + (f'<span class="muted">（{h(e["note"])}）</span>' if e["note"] else "") + "</li>"
                           for e in d["timeline"])
        messages = "".join(f'<li class="staff"><time>{h(short_time(m["at"]))}</time>{h(m["text"])}'
                           + (f'<span class="muted">（{h(m["how"])}）</span>' if m["how"] in ("群发", "自动提醒") else "")
                           + "</li>" for m in d["messages"])
        pay = d["payment"]
        payment = (f'<p id="payment">订单 {h(pay["order_no"])}：{h(pay["amount_yuan"])}元，{h(pay["status_label"])}'
                   f'（创建 {h(short_time(pay["created_at"]))}，截止 {h(short_time(pay["expires_at"]))}）</p>' if pay
                   else '<p class="muted" id="payment">没有缴费订单（该险种不在这里缴费，或尚未预审通过）。</p>')
        payment += "".join(f'<p>收到付款 {h(p["amount_yuan"])}元，{h(short_time(p["paid_at"]))}，流水 {h(p["transaction_id"])}'
                           + (f'<b class="refund">（待退款：{h(p["refund_due"])}）</b>' if p["refund_due"] else "") + "</p>"
                           for p in d["payments"])
        handoffs = "、".join(f'{h(r["id"])}（{h(r["status_label"])}）' for r in d["handoffs"])
        body = (f'<table id="facts">{facts}</table><h2>状态记录</h2><ul class="messages" id="timeline">{timeline}</ul>'
                f'<h2>发给家长的消息</h2>' + (f'<ul class="messages" id="sent">{messages}</ul>' if messages
                                          else '<p class="muted" id="sent">没有记录。</p>')
                + f"<h2>缴费</h2>{payment}"
                + (f'<p>人工客服请求：<a href="/admin/handoffs">{handoffs}</a></p>' if handoffs else "")
                + (self._verification_form(auth, d["id"]) if d["status"] == AWAITING_VERIFICATION else "")
                + '<p><a href="/admin/applications">返回申请查询</a></p>')
        return await self.ctx.render(auth, f"申请 {d['id']}", body)

    @staticmethod
    def _verification_form(auth: Auth, app_id: str) -> str:
        """Staff's verification of a declared exemption (the same as the API and the CLI)."""
        return (f'<h2>免缴资格审核</h2><form method="post" action="/admin/applications/{h(app_id)}/verification" '
                f'class="card" id="verification"><input type="hidden" name="csrf" value="{h(auth.csrf)}">'
                '<label for="reason">不通过的原因（会告诉家长）</label><input type="text" name="reason" id="reason" maxlength="200"> '
                '<button type="submit" name="decision" value="approve">审核通过（免缴）</button> '
                '<button type="submit" name="decision" value="refuse">审核不通过（发送缴费方式）</button></form>')

    async def verification_page(self, request: web.Request, auth: Auth) -> web.StreamResponse:
        form = await request.post()
        app_id = request.match_info["app_id"]
        fulfilment = self.ctx.services.extras.get("fulfilment")
        try:
            if fulfilment is None:
                raise ValueError("服务未就绪")
            await fulfilment.record_verification(app_id, form.get("decision") == "approve", str(form.get("reason") or ""),
                                                 staff="admin")
        except KeyError:
            return await self.ctx.render(auth, "申请详情", '<p class="notice error">没有这个申请。</p>', status=404)
        except (ValueError, VersionConflict) as exc:
            message = str(exc) if isinstance(exc, ValueError) else f"该申请不在“{STATUS_LABELS[AWAITING_VERIFICATION]}”状态"
            return await self.ctx.render(auth, "免缴资格审核", f'<p class="notice error">{h(message)}</p>'
                                         f'<p><a href="/admin/applications/{h(app_id)}">返回申请</a></p>', status=400)
        return redirect(f"/admin/applications/{app_id}")

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


    async def api_list(self, request: web.Request) -> dict[str, Any]:
        f = AppFilter.from_mapping(await json_body(request))
        found, total = await self.list_applications(f)
        return {"total": total, "applications": await self._with_refunds([masked_application(self.ctx, a) for a in found])}

    async def api_export(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        kind = str(body.get("format") or "csv")
        if kind not in ("csv", "xlsx"):
            raise FilterError("format 应为 csv 或 xlsx")
        return await self._export(AppFilter.from_mapping(body), kind)

    async def api_detail(self, request: web.Request) -> web.Response | dict[str, Any]:
        d = await self.detail(request.match_info["app_id"])
        return d if d is not None else json_response({"error": "没有这个申请"}, 404)


def _newest(app: dict[str, Any]) -> tuple[str, str]:
    return str(app.get("created_at", "")), str(app.get("id", ""))


def masked_application(ctx: AdminContext, app: dict[str, Any]) -> dict[str, Any]:
    """What staff may see of an application: personal numbers masked."""
    child, guardian = app.get("child") or {}, app.get("guardian") or {}
    return {
        "id": app["id"], "scheme": app["scheme"], "scheme_name": ctx.scheme_name(app["scheme"]),
        "status": app["status"], "status_label": STATUS_LABELS.get(app["status"], app["status"])
        + ("（在线缴费未开放，等待中）" if app["status"] == PRE_APPROVED and app.get("payment_waiting") else ""),
        "payment_waiting": bool(app.get("payment_waiting")) and app["status"] == PRE_APPROVED,
        "child_name": child.get("name", ""), "child_id": mask_id(child.get("id_number", "")) if child.get("id_number") else "",
        "guardian_name": guardian.get("name", ""),
        "guardian_phone": mask_phone(guardian.get("phone", "")) if guardian.get("phone") else "",
        "school": app.get("school_name") or app.get("school_code", ""), "user": app["user_id"][:6] + "…",
        "created_at": app["created_at"], "updated_at": app.get("updated_at", ""),
    }


def _refund_note(item: dict[str, Any]) -> str:
    due = item.get("refunds_due") or []
    if not due:
        return ""
    return f'<br><b>待退款 {len(due)} 笔，共 {yuan(sum(p["amount_fen"] for p in due))} 元</b>'
