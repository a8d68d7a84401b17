"""Issue 15 item 1: a body that arrives in several TCP segments is read whole — the webhook (plain and
安全模式) and the payment notification each get a genuine request split 50 ms apart."""
from __future__ import annotations

import pytest

from bot.web.simulator import build_message_xml, read_reply, signed_query
from integrations.wechat.crypto import MessageCrypto
from tests.e2e.test_webhook_protocol import AES_KEY, APPID, TOKEN, bot  # noqa: F401 - the fixture
from tests.split_body import post_in_pieces
from tests.wechat_client import next_msg_id


@pytest.mark.parametrize("pieces", [2, 5])
async def test_webhook_reads_a_body_split_over_segments(bot, pieces):  # noqa: F811
    client, *_ = bot
    params, body = signed_query(TOKEN, build_message_xml("u-split", text="分段到达的消息", msg_id=next_msg_id()), None)
    status, payload = await post_in_pieces(client.host, client.port, "/wechat", params, body.encode(), pieces=pieces)
    assert status == 200, payload
    assert read_reply(payload.decode(), None) == "第1条 text   分段到达的消息"


async def test_webhook_split_oversize_body_is_still_413(bot):  # noqa: F811
    client, *_ = bot
    params, _ = signed_query(TOKEN, "<xml/>", None)
    # No Content-Length check can catch it: the length is announced honestly, the pieces add up past it.
    body = build_message_xml("u-big", text="长" * 30000, msg_id=next_msg_id()).encode()
    status, _ = await post_in_pieces(client.host, client.port, "/wechat", params, body, pieces=4)
    assert status == 413


async def test_encrypted_message_split_over_segments(aiohttp_client, tmp_path):
    from bot.app import create_app
    from bot.clock import Clock
    from bot.services import build_services
    from tests.e2e.test_webhook_protocol import CountingRouter, make_settings

    settings = make_settings(tmp_path, wechat_aes_key=AES_KEY)
    client = await aiohttp_client(create_app(settings, build_services(settings, clock=Clock()),
                                             router=CountingRouter(), background=False))
    aes = MessageCrypto(TOKEN, AES_KEY, APPID)
    params, body = signed_query(TOKEN, build_message_xml("u-aes", text="安全模式", msg_id=next_msg_id()), aes)
    status, payload = await post_in_pieces(client.host, client.port, "/wechat", params, body.encode(), pieces=3)
    assert status == 200, payload
    assert read_reply(payload.decode(), aes) == "第1条 text   安全模式"


async def test_payment_notification_split_over_segments_is_accepted(bot_with_payments):
    bot_, http = bot_with_payments
    app = await bot_.enrol_child()
    await bot_.submit(app)
    order = await bot_.fulfilment.orders.get(app["id"])
    body = bot_.fulfilment.payments.callback_body(order["order_no"], 15000, bot_.clock.now())
    status, payload = await post_in_pieces(http.host, http.port, "/pay/notify", {}, body, pieces=3,
                                           content_type="application/json")
    assert status == 200 and b"SUCCESS" in payload, payload
    assert (await bot_.services.applications.get(app["id"]))["status"] == "paid"  # 办结 once the fund has the money (issue 14)


@pytest.fixture
async def bot_with_payments(tmp_path, sqlite_store):
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from bot.config import ROOT
    from bot.fulfilment import Fulfilment
    from bot.rules import RuleEngine
    from bot.web.payment_routes import setup_payment_routes
    from tests.integrations.harness import Bot, make_services

    engine = RuleEngine.load(ROOT / "policies")
    services = make_services(tmp_path, sqlite_store)
    fulfilment = Fulfilment(services, engine, env={})
    services.extras.update(engine=engine, fulfilment=fulfilment)
    app = web.Application()
    setup_payment_routes(app, services)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield Bot(services, fulfilment), client
    finally:
        await client.close()
