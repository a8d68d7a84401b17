"""Payment pages and callbacks, and the simulator's outbox.

  GET  /pay/checkout?order=&exp=&sig=   the simulated platform's checkout page (amount, deadline, 支付),
  POST /pay/checkout                    "pays" and has the platform call back POST /pay/notify — both only
                                        while the simulator is on (a real platform is PAY_CHECKOUT_URL)
  POST /pay/notify                      the configured provider's signed payment notification
  POST /pay/wechat/notify               WeChat Pay's notify_url (same handler)
  GET  /pay/wechat?order=&prepay=&exp=&sig=   WeChat Pay JSAPI: the page that opens WeChat's payment sheet
  POST /enrollment/callback             a remote pre-review platform's signed decision
  GET  /simulator/outbox?user=          messages for a simulated guardian (taken once), when the simulator is on
"""
from __future__ import annotations

import functools
import html
import json
import logging
from typing import Any, Callable

import aiohttp
from aiohttp import web

from bot.delivery import outbox
from bot.fulfilment import yuan
from bot.logs import LogThrottle, log_throttled
from bot.services import Services
from bot.store.base import StoreError
from bot.web.body import BodyTooLarge, read_body
from bot.web.own_origin import own_origin
from integrations.enrollment import CALLBACK_PATH, HttpEnrollmentBackend, InvalidCallback
from integrations.payment import (WECHAT_PAY_PAGE_PATH, HostedCheckoutProvider, InvalidNotification, LinkExpired,
                                  LinkInvalid, WeChatPayProvider)
from integrations.payment.orders import CREATED

log = logging.getLogger("bot.web.payment")

CALLBACK_TIMEOUT = 10.0
MAX_NOTIFY_BYTES = 64 * 1024

PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title}</title>
<style>body{{font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;background:#f2f4f7;margin:0}}
.card{{max-width:420px;margin:40px auto;background:#fff;border-radius:8px;padding:24px;box-shadow:0 1px 4px #0002}}
h1{{font-size:20px;margin:0 0 16px}} .amount{{font-size:32px;color:#c0392b;margin:12px 0}}
dl{{display:grid;grid-template-columns:6em 1fr;gap:6px;color:#444}} dt{{color:#888}} dd{{margin:0;word-break:break-all}}
button{{width:100%;padding:12px;font-size:18px;background:#1a7f37;color:#fff;border:0;border-radius:6px}}
.note{{color:#666;font-size:14px}}</style></head>
<body><div class="card"><h1>{title}</h1>{body}</div></body></html>"""


def setup_payment_routes(app: web.Application, services: Services) -> None:
    if getattr(services.settings, "simulator", True):
        # The simulated cashier "pays" for anyone holding a link: only for the simulator and demos.
        app.router.add_get("/pay/checkout", functools.partial(checkout_page, services=services))
        app.router.add_post("/pay/checkout", functools.partial(checkout_pay, services=services))
    elif getattr(services.extras.get("payments"), "is_local", False):
        log.error("支付未配置：真实公众号请设置 PAY_PROVIDER=wechat，或用 PAY_CHECKOUT_URL 指向支付平台的收银台；"
                  "本地模拟收银台已关闭，缴费链接暂不可用")
    app.router.add_post("/pay/notify", functools.partial(payment_notify, services=services))
    app.router.add_post("/pay/wechat/notify", functools.partial(payment_notify, services=services))
    app.router.add_get(WECHAT_PAY_PAGE_PATH, functools.partial(wechat_pay_page, services=services))
    app.router.add_post(CALLBACK_PATH, functools.partial(enrollment_callback, services=services))
    if getattr(services.settings, "simulator", True):
        app.router.add_get("/simulator/outbox", functools.partial(simulator_outbox, services=services))

    async def close_clients(_app: web.Application) -> None:
        for name in ("wechat_api", "payments", "enrollment"):
            client = services.extras.get(name)
            if client is not None and hasattr(client, "close"):
                await client.close()

    app.on_cleanup.insert(0, close_clients)


def _page(title: str, body: str, status: int = 200) -> web.Response:
    return web.Response(text=PAGE.format(title=html.escape(title), body=body), status=status,
                        content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _refused_log(services: Services) -> LogThrottle:
    """One budget per app for the lines about refused callbacks: a flood of forgeries must not flood the log."""
    return services.extras.setdefault("refused_callback_log", LogThrottle())


def _fulfilment(services: Services):
    fulfilment = services.extras.get("fulfilment")
    if fulfilment is None:
        raise web.HTTPServiceUnavailable(text="payment is not configured")
    return fulfilment


async def _checked_order(services: Services, order_no: str, exp: str, sig: str):
    """(order, error page): the order when the checkout link is genuine, unexpired and still payable."""
    provider = _fulfilment(services).payments
    if not isinstance(provider, HostedCheckoutProvider):
        return None, _page("链接无效", "<p>本服务未启用该支付方式。</p>", 404)
    return await _payable_order(services, order_no, lambda order, now: provider.verify_link(
        order_no, order["amount_fen"], exp, sig, now))


async def _payable_order(services: Services, order_no: str, verify: Callable[[dict, Any], Any]):
    """(order, error page): the order when `verify(order, now)` accepts its link (else LinkInvalid or
    LinkExpired) and the order can still be paid."""
    fulfilment = _fulfilment(services)
    order = await fulfilment.orders.by_order_no(order_no) if order_no else None
    if order is None:
        return None, _page("链接无效", "<p>找不到该订单，请从公众号消息中的缴费链接进入。</p>", 404)
    try:
        verify(order, services.clock.now())
    except LinkExpired:
        return None, _page("缴费期限已过", "<p>该缴费链接已过期，申请已失效。请回到公众号重新申请参保。</p>", 410)
    except LinkInvalid:
        log.warning("checkout link with a bad signature for order %s", order_no)
        return None, _page("链接无效", "<p>缴费链接不完整或已被修改，请从公众号消息中的链接进入。</p>", 403)
    if order["status"] == "paid":
        return None, _page("已缴费", "<p>该订单已支付成功，无需重复缴费。</p>")
    if order["status"] != CREATED:
        return None, _page("无法缴费", "<p>该订单当前不能支付（可能已过期）。请回到公众号回复“进度”查看。</p>", 409)
    return order, None


async def checkout_page(request: web.Request, services: Services) -> web.Response:
    q = request.query
    order, error = await _checked_order(services, q.get("order", ""), q.get("exp", ""), q.get("sig", ""))
    if error is not None:
        return error
    deadline = _fmt_deadline(order.get("expires_at", ""))
    body = (
        '<p class="note">公共支付平台（本地模拟）</p>'
        f'<div class="amount">¥{yuan(order["amount_fen"])}</div>'
        f'<dl><dt>订单号</dt><dd>{html.escape(order["order_no"])}</dd>'
        f'<dt>缴费项目</dt><dd>{html.escape(order.get("description") or "参保缴费")}</dd>'
        f'<dt>缴费截止</dt><dd>{html.escape(deadline)}</dd></dl>'
        '<form method="post" action="/pay/checkout">'
        + "".join(f'<input type="hidden" name="{k}" value="{html.escape(q.get(k, ""))}">' for k in ("order", "exp", "sig"))
        + '<button type="submit">支付</button></form>'
        '<p class="note">请在截止时间前完成支付，逾期需重新申请。</p>')
    return _page("确认缴费", body)


async def wechat_pay_page(request: web.Request, services: Services) -> web.Response:
    """WeChat Pay JSAPI: inside WeChat the button opens the payment sheet for the guardian's order."""
    provider = _fulfilment(services).payments
    if not isinstance(provider, WeChatPayProvider) or provider.trade_type != "JSAPI":
        return _page("链接无效", "<p>本服务未启用该支付方式。</p>", 404)
    q = request.query
    params: dict[str, str] = {}

    def verify(_order: dict, now: Any) -> None:
        params.update(provider.bridge_params(q.get("order", ""), q.get("prepay", ""), q.get("exp", ""),
                                             q.get("sig", ""), now))

    order, error = await _payable_order(services, q.get("order", ""), verify)
    if error is not None:
        return error
    bridge = json.dumps(params).replace("<", "\\u003c")
    body = (
        f'<div class="amount">¥{yuan(order["amount_fen"])}</div>'
        f'<dl><dt>订单号</dt><dd>{html.escape(order["order_no"])}</dd>'
        f'<dt>缴费项目</dt><dd>{html.escape(order.get("description") or "参保缴费")}</dd>'
        f'<dt>缴费截止</dt><dd>{html.escape(_fmt_deadline(order.get("expires_at", "")))}</dd></dl>'
        '<button id="pay" type="button">微信支付</button><p id="msg" class="note">请在截止时间前完成支付，逾期需重新申请。</p>'
        f'<script type="application/json" id="bridge">{bridge}</script>'
        f"<script>{PAY_SCRIPT}</script>")
    return _page("确认缴费", body)


# Inside WeChat, WeixinJSBridge shows the payment sheet; the payment itself is confirmed to us by
# WeChat Pay's signed notification, never by this page.
PAY_SCRIPT = """
document.getElementById('pay').onclick = function () {
  var msg = document.getElementById('msg');
  if (typeof WeixinJSBridge === 'undefined') { msg.textContent = '请在微信中打开此链接完成支付。'; return; }
  var params = JSON.parse(document.getElementById('bridge').textContent);
  WeixinJSBridge.invoke('getBrandWCPayRequest', params, function (res) {
    if (res.err_msg === 'get_brand_wcpay_request:ok') { msg.textContent = '支付完成，缴费结果将通过公众号消息通知您。'; }
    else if (res.err_msg === 'get_brand_wcpay_request:cancel') { msg.textContent = '已取消支付，可在截止时间前再次点击支付。'; }
    else { msg.textContent = '支付没有成功，请稍后再试，或回到公众号回复“人工”。'; }
  });
};
"""


async def checkout_pay(request: web.Request, services: Services) -> web.Response:
    form = await request.post()
    order_no, exp, sig = (str(form.get(k, "")) for k in ("order", "exp", "sig"))
    order, error = await _checked_order(services, order_no, exp, sig)
    if error is not None:
        return error
    provider: HostedCheckoutProvider = _fulfilment(services).payments
    body = provider.callback_body(order_no, order["amount_fen"], services.clock.now())
    url = own_origin(request) + provider.notify_path
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(url, data=body, headers={"Content-Type": "application/json"},
                                 timeout=aiohttp.ClientTimeout(total=CALLBACK_TIMEOUT)) as resp:
                answer = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.error("checkout callback for order %s failed: %s", order_no, type(exc).__name__)
        return _page("支付结果确认中", "<p>支付已提交，结果确认中，请稍后回到公众号回复“进度”查看。</p>", 202)
    if answer.get("code") != "SUCCESS":
        return _page("支付未完成", f"<p>支付未能完成：{html.escape(str(answer.get('message', '')))}。"
                               "请回到公众号回复“进度”查看，或联系人工客服。</p>", 409)
    return _page("支付成功", f'<div class="amount">¥{yuan(order["amount_fen"])}</div>'
                         "<p>支付成功！办结通知已发送到公众号，请返回微信查看。</p>")


async def payment_notify(request: web.Request, services: Services) -> web.Response:
    fulfilment = _fulfilment(services)
    provider = fulfilment.payments
    if provider is None:
        return web.json_response({"code": "FAIL", "message": "payments are off"}, status=404)
    try:
        body = await read_body(request, MAX_NOTIFY_BYTES)
    except BodyTooLarge:
        ack = provider.ack(False, "too large")
        return web.Response(text=ack.body, status=413, content_type=ack.content_type)
    try:
        notice = provider.parse_notification(body, services.clock.now())
    except InvalidNotification as exc:
        log_throttled(log, _refused_log(services), "payment notification refused", reason=str(exc), peer=request.remote or "")
        ack = provider.ack(False, "invalid notification")
        return web.Response(text=ack.body, status=ack.status, content_type=ack.content_type)
    try:
        handled, note = await fulfilment.on_payment(notice)
    except StoreError as exc:  # the records database is away: refused, so the platform notifies again later
        log.warning("payment notification for order %s not applied: store unavailable (%s)", notice.order_no,
                    type(exc).__name__)
        handled, note = False, "temporarily unavailable"
    ack = provider.ack(handled, note)
    return web.Response(text=ack.body, status=ack.status, content_type=ack.content_type)


async def enrollment_callback(request: web.Request, services: Services) -> web.Response:
    fulfilment = _fulfilment(services)
    backend = fulfilment.backend
    if not isinstance(backend, HttpEnrollmentBackend):
        return web.json_response({"code": "FAIL", "message": "not enabled"}, status=404)
    try:
        try:
            body = await read_body(request, MAX_NOTIFY_BYTES)
        except BodyTooLarge:
            raise InvalidCallback("too large") from None
        app_id, result = backend.parse_callback(body, request.headers.get("X-Timestamp", ""),
                                                request.headers.get("X-Signature", ""))
    except InvalidCallback as exc:
        log_throttled(log, _refused_log(services), "pre-review callback refused", reason=str(exc))
        return web.json_response({"code": "FAIL", "message": "invalid callback"}, status=400)
    if not await fulfilment.review_decided(app_id, result):
        return web.json_response({"code": "FAIL", "message": "unknown application"}, status=404)
    return web.json_response({"code": "SUCCESS"})


async def simulator_outbox(request: web.Request, services: Services) -> web.Response:
    user = request.query.get("user", "")[:64]
    if not user:
        return web.json_response({"error": "缺少 user"}, status=400)
    return web.json_response({"messages": await outbox(services).take(user)})


def _fmt_deadline(value: str) -> str:
    return value.replace("T", " ")[:16] if value else "—"
