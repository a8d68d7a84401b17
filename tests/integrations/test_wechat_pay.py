"""WeChat Pay as the provider, against the fake pay server: unified order, notifications signed with
MD5 and HMAC-SHA256 (verified by our code), forgeries, and a platform that times out while the
guardian's reply still comes at once."""
from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse

import pytest

from bot.fulfilment import Fulfilment, expire_overdue
from bot.store.repos import AWAITING_PAYMENT, PAID, PRE_APPROVED, SUBMITTED
from integrations.payment import InvalidNotification, LinkExpired, OrderRequest, PaymentError, WeChatPayProvider
from integrations.payment.wechat_pay import sign, signature_ok
from tests.fakes.wechat_pay import FakeWeChatPay
from tests.integrations.harness import Bot, make_services

API_KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture
async def pay_server():
    async with FakeWeChatPay.running(appid="wxpaytest", mch_id="1900000109", api_key=API_KEY) as server:
        yield server


async def _pay_bot(tmp_path, store, engine, pay_server, trade_type="NATIVE", sign_type="HMAC-SHA256") -> Bot:
    services = make_services(tmp_path, store)
    env = {"PAY_PROVIDER": "wechat", "WECHAT_PAY_MCH_ID": "1900000109", "WECHAT_PAY_API_KEY": API_KEY,
           "WECHAT_APPID": "wxpaytest", "WECHAT_PAY_BASE": pay_server.base_url, "PAY_TIMEOUT": "0.5",
           "WECHAT_PAY_TRADE_TYPE": trade_type, "WECHAT_PAY_SIGN_TYPE": sign_type}
    fulfilment = Fulfilment(services, engine, env=env)
    services.extras.update(engine=engine, fulfilment=fulfilment)
    return Bot(services, fulfilment)


@pytest.fixture
async def pay_bot(tmp_path, sqlite_store, engine, pay_server, http_for):
    bot = await _pay_bot(tmp_path, sqlite_store, engine, pay_server)
    client = await http_for(bot)
    bot.fulfilment.payments.notify_url = str(client.make_url("/pay/wechat/notify"))
    yield bot
    await bot.fulfilment.payments.close()


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
async def test_wechat_pay_loop_with_both_signature_types(pay_bot, pay_server, sign_type):
    app = await pay_bot.enrol_child()
    await pay_bot.submit(app)
    stored = await pay_bot.services.applications.get(app["id"])
    assert stored["status"] == AWAITING_PAYMENT
    order = pay_server.orders[stored["order_no"]]
    assert order["total_fee"] == "15000" and order["trade_type"] == "NATIVE"
    assert order["time_expire"] == "20260911100000"  # the 24-hour deadline, Beijing time
    assert "weixin://wxpay/bizpayurl" in (await pay_bot.messages(app["user_id"]))[0]

    status, answer = await pay_server.pay(stored["order_no"], sign_type=sign_type)
    assert status == 200 and answer["return_code"] == "SUCCESS"
    assert await pay_bot.status(app["id"]) == PAID
    status, answer = await pay_server.pay(stored["order_no"], sign_type=sign_type)  # WeChat repeats it
    assert answer["return_code"] == "SUCCESS"
    assert sum("缴费成功" in m for m in await pay_bot.messages(app["user_id"])) == 1


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
async def test_tampered_wechat_notification_is_refused(pay_bot, pay_server, sign_type):
    app = await pay_bot.enrol_child()
    await pay_bot.submit(app)
    order_no = (await pay_bot.services.applications.get(app["id"]))["order_no"]
    _status, answer = await pay_server.pay(order_no, sign_type=sign_type, tamper=True)
    assert answer["return_code"] == "FAIL"
    _status, answer = await pay_server.pay(order_no, total_fee=1)  # validly signed, wrong amount
    assert answer["return_code"] == "FAIL"
    assert await pay_bot.status(app["id"]) == AWAITING_PAYMENT


def test_signature_checks_are_ours_for_both_types():
    fields = {"appid": "wx1", "mch_id": "1", "total_fee": "100", "out_trade_no": "N1", "nonce_str": "abc"}
    md5 = dict(fields, sign=sign(fields, API_KEY, "MD5"))
    hmac_signed = dict(fields, sign_type="HMAC-SHA256")
    hmac_signed["sign"] = sign(hmac_signed, API_KEY, "HMAC-SHA256")
    assert signature_ok(md5, API_KEY) and signature_ok(hmac_signed, API_KEY)
    assert not signature_ok(dict(hmac_signed, sign=md5["sign"]), API_KEY)  # no downgrade to MD5
    assert not signature_ok(dict(md5, total_fee="1"), API_KEY)
    assert not signature_ok(dict(md5, sign_type="SHA1"), API_KEY)
    provider = WeChatPayProvider("wx1", "1", API_KEY, "http://x/notify")
    with pytest.raises(InvalidNotification):
        provider.parse_notification(b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml>&e;</xml>', None)
    with pytest.raises(InvalidNotification):
        provider.parse_notification(b"<xml><unclosed></xml>", None)


async def test_mweb_trade_type_gives_an_h5_link(tmp_path, sqlite_store, engine, pay_server):
    bot = await _pay_bot(tmp_path, sqlite_store, engine, pay_server, trade_type="MWEB", sign_type="MD5")
    try:
        app = await bot.enrol_child()
        await bot.submit(app)
        assert "wx.tenpay.com" in await bot.pay_link(app["user_id"])
    finally:
        await bot.fulfilment.payments.close()


async def test_platform_timeout_during_order_creation(pay_bot, pay_server):
    app = await pay_bot.enrol_child()
    pay_server.delay_next(1, 2.0)  # longer than PAY_TIMEOUT
    reply, turn = await pay_bot.submit(app, run_followups=False)
    # The guardian's reply is ready before any payment call: order creation is a follow-up.
    assert "已提交" in reply and pay_server.orders == {}
    assert await pay_bot.status(app["id"]) == SUBMITTED

    await pay_bot.run(turn)
    assert await pay_bot.status(app["id"]) == PRE_APPROVED
    [note] = await pay_bot.messages(app["user_id"])
    assert "预审通过" in note and "缴费链接正在生成" in note
    failed = await pay_bot.fulfilment.orders.get(app["id"])
    assert failed["status"] == "failed"

    await expire_overdue(pay_bot.services)  # the background sweep retries with the same order number
    stored = await pay_bot.services.applications.get(app["id"])
    assert stored["status"] == AWAITING_PAYMENT and stored["order_no"] == failed["order_no"]
    assert "点击这里去缴费" in (await pay_bot.messages(app["user_id"]))[-1]


@pytest.fixture
async def jsapi_bot(tmp_path, sqlite_store, engine, pay_server, http_for):
    bot = await _pay_bot(tmp_path, sqlite_store, engine, pay_server, trade_type="JSAPI")
    client = await http_for(bot)
    bot.fulfilment.payments.notify_url = str(client.make_url("/pay/wechat/notify"))
    bot.fulfilment.payments.page_url = str(client.make_url("/pay/wechat"))
    yield bot, client
    await bot.fulfilment.payments.close()


async def _jsapi_link(bot, pay_server) -> tuple[dict, str]:
    app = await bot.enrol_child()
    await bot.submit(app)
    stored = await bot.services.applications.get(app["id"])
    assert stored["status"] == AWAITING_PAYMENT
    return stored, await bot.pay_link(app["user_id"])


async def test_jsapi_pays_inside_wechat_through_our_page(jsapi_bot, pay_server):
    """Inside WeChat a pay link must open a page that hands WeixinJSBridge a prepay id and a paySign."""
    bot, client = jsapi_bot
    app, link = await _jsapi_link(bot, pay_server)
    order = pay_server.orders[app["order_no"]]
    assert order["trade_type"] == "JSAPI" and order["openid"] == app["user_id"]  # paid as the guardian
    assert link.startswith(str(client.make_url("/pay/wechat")))
    resp = await client.get(link.split(str(client.make_url("")), 1)[1])
    page = await resp.text()
    assert resp.status == 200 and "¥150.00" in page and "微信支付" in page
    params = json.loads(re.search(r'<script type="application/json" id="bridge">(.*?)</script>', page).group(1))
    assert params["appId"] == "wxpaytest" and params["package"].startswith("prepay_id=wx")
    assert params["signType"] == "HMAC-SHA256"
    assert params["paySign"] == sign({k: v for k, v in params.items() if k != "paySign"}, API_KEY, "HMAC-SHA256")
    assert API_KEY not in page

    forged = await client.get(link.split(str(client.make_url("")), 1)[1].replace("prepay=wx", "prepay=wy"))
    assert forged.status == 403  # the prepay id is part of what the link signs
    await pay_server.pay(app["order_no"])
    assert await bot.status(app["id"]) == PAID
    paid = await client.get(link.split(str(client.make_url("")), 1)[1])
    assert "已支付成功" in await paid.text()


async def test_jsapi_link_expires_with_the_order(jsapi_bot, pay_server):
    bot, _client = jsapi_bot
    _app, link = await _jsapi_link(bot, pay_server)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query))
    provider = bot.fulfilment.payments
    late = dt.datetime.fromtimestamp(int(query["exp"]) + 1, dt.timezone.utc)
    with pytest.raises(LinkExpired):
        provider.bridge_params(query["order"], query["prepay"], query["exp"], query["sig"], late)


async def test_jsapi_needs_the_payers_openid_and_a_page():
    with pytest.raises(ValueError, match="page_url"):
        WeChatPayProvider("wx", "1", API_KEY, "http://x/notify", trade_type="JSAPI")
    provider = WeChatPayProvider("wx", "1", API_KEY, "http://x/notify", trade_type="JSAPI",
                                 page_url="http://x/pay/wechat", base_url="http://127.0.0.1:9")
    order = OrderRequest("N1", 15000, "参保缴费", dt.datetime(2026, 9, 11, tzinfo=dt.timezone.utc))
    with pytest.raises(PaymentError, match="openid"):
        await provider.create_order(order)  # refused before any call to the platform
    await provider.close()


@pytest.mark.browser
async def test_jsapi_page_in_a_browser(jsapi_bot, pay_server, browser):
    """Outside WeChat the page says to open it in WeChat; inside (a stand-in WeixinJSBridge) the button
    hands over exactly the signed parameters and reports the outcome."""
    bot, _client = jsapi_bot
    _app, link = await _jsapi_link(bot, pay_server)
    page = await browser.new_page()
    await page.goto(link)
    await page.click("#pay")
    assert await page.text_content("#msg") == "请在微信中打开此链接完成支付。"

    await page.add_init_script("""window.WeixinJSBridge = {invoke: function (name, params, done) {
        window.__invoked = [name, params]; done({err_msg: 'get_brand_wcpay_request:ok'}); }};""")
    await page.goto(link)
    await page.click("#pay")
    assert "支付完成" in await page.text_content("#msg")
    name, params = await page.evaluate("window.__invoked")
    assert name == "getBrandWCPayRequest" and params["package"].startswith("prepay_id=")
    assert params["paySign"] == sign({k: v for k, v in params.items() if k != "paySign"}, API_KEY, "HMAC-SHA256")
    await page.close()
