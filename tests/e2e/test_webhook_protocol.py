"""The WeChat protocol over real HTTP: signatures, 安全模式, replays, hostile XML, retries, concurrency.

A small counting router stands in for the conversation so these tests isolate the webhook and the
pipeline; the full bot is driven end to end in test_conversations.py.
"""
from __future__ import annotations

import asyncio
import base64
import logging
import os
import time

import pytest

from bot.app import create_app
from bot.clock import Clock
from bot.config import Settings
from bot.services import build_services
from bot.store.base import StoreError
from bot.turn import Incoming, Reply, Turn
from bot.web.simulator import build_message_xml, read_reply, signed_query
from bot.webhook import to_incoming
from integrations.wechat.crypto import MessageCrypto
from integrations.wechat.signature import sign
from tests.wechat_client import WeChatSender, next_msg_id

TOKEN = "test-token"
AES_KEY = base64.b64encode(os.urandom(32)).decode().rstrip("=")  # a real 43-character EncodingAESKey
APPID = "wx1234567890abcdef"


class CountingRouter:
    """Counts turns in the guardian's session; slow when asked to, to exercise the reply budget."""

    def __init__(self) -> None:
        self.delay = 0.0

    async def respond(self, turn: Turn) -> Reply:
        if self.delay:
            await asyncio.sleep(self.delay)
        count = turn.session.get("count", 0) + 1
        # A read-modify-write split by an await: interleaved turns would lose counts.
        await asyncio.sleep(0)
        turn.session["count"] = count
        inc = turn.incoming
        return Reply(text=f"第{count}条 {inc.kind} {inc.event} {inc.event_key} {inc.text}".strip())


def make_settings(tmp_path, **kw) -> Settings:
    return Settings(wechat_token=TOKEN, wechat_appid=APPID, data_dir=tmp_path, store_url=f"sqlite:///{tmp_path}/bot.db",
                    admin_token="admin", simulator=False, **kw)


@pytest.fixture
async def bot(aiohttp_client, tmp_path):
    router = CountingRouter()
    settings = make_settings(tmp_path)
    services = build_services(settings, clock=Clock())
    client = await aiohttp_client(create_app(settings, services, router=router, background=False))
    return client, WeChatSender(client, TOKEN), router, services


async def test_url_check_echoes_with_good_signature_and_403_otherwise(bot):
    client, *_ = bot
    ts, nonce = str(int(time.time())), "n1"
    resp = await client.get("/wechat", params={"signature": sign(TOKEN, ts, nonce), "timestamp": ts,
                                               "nonce": nonce, "echostr": "hello123"})
    assert resp.status == 200 and await resp.text() == "hello123"
    resp = await client.get("/wechat", params={"signature": "0" * 40, "timestamp": ts, "nonce": nonce, "echostr": "x"})
    assert resp.status == 403


async def test_text_message_gets_xml_reply(bot):
    _, sender, *_ = bot
    assert await sender.say("u1", "你好") == "第1条 text   你好"


async def test_forged_signature_is_refused_and_changes_nothing(bot):
    _, sender, _, services = bot
    resp = await sender.post_xml(build_message_xml("u1", text="hi", msg_id=next_msg_id()), signature="f" * 40)
    assert resp.status == 403
    session, version = await services.sessions.load("u1")
    assert version == 0


async def test_stale_timestamp_is_a_replay(bot):
    client, *_ = bot
    old = str(int(time.time()) - 3600)
    resp = await client.post("/wechat", params={"timestamp": old, "nonce": "n", "signature": sign(TOKEN, old, "n")},
                             data=build_message_xml("u1", text="hi", msg_id=next_msg_id()).encode())
    assert resp.status == 403


async def test_oversize_body_is_413(bot):
    _, sender, *_ = bot
    resp = await sender.post_xml(build_message_xml("u1", text="长" * 40000, msg_id=next_msg_id()))
    assert resp.status == 413


@pytest.mark.parametrize("payload", [
    # billion laughs
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;">]><xml><ToUserName>a</ToUserName><FromUserName>u</FromUserName>'
    '<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lol3;</Content><MsgId>1</MsgId></xml>',
    # external entity (XXE)
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><ToUserName>a</ToUserName>'
    '<FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content>'
    '<MsgId>2</MsgId></xml>',
    "<xml><ToUserName>a</ToUserName><FromUserName>u</FromUserName><Content>unclosed",
    "not xml at all",
    "<other><a>1</a></other>",
    "<xml><ToUserName>a</ToUserName></xml>",
    "\xff\xfe garbage",
])
async def test_hostile_or_malformed_xml_is_400(bot, payload):
    _, sender, *_ = bot
    resp = await sender.post_xml(payload)
    assert resp.status == 400


async def test_every_message_kind_gets_an_answer(bot):
    _, sender, _, services = bot
    assert "subscribe" in await sender.event("u2", "subscribe")
    assert "click ENROLL" in await sender.event("u2", "CLICK", "ENROLL")
    assert "view" in await sender.event("u2", "VIEW", "https://example.invalid/")
    assert "subscribe school:S001" in await sender.event("u2", "subscribe", "qrscene_school:S001")
    assert "scan school:S002" in await sender.event("u2", "SCAN", "school:S002")
    assert "unsubscribe" in await sender.event("u2", "unsubscribe")
    assert "image" in await sender.image("u2")
    voice = ("<xml><ToUserName>a</ToUserName><FromUserName>u2</FromUserName><CreateTime>1</CreateTime>"
             "<MsgType>voice</MsgType><MediaId>m</MediaId><Format>amr</Format><Recognition>我要参保</Recognition>"
             f"<MsgId>{next_msg_id()}</MsgId></xml>")
    resp = await sender.post_xml(voice)
    assert "voice   我要参保" in read_reply(await resp.text(), None)
    location = ("<xml><ToUserName>a</ToUserName><FromUserName>u2</FromUserName><CreateTime>1</CreateTime>"
                "<MsgType>location</MsgType><Location_X>31.2</Location_X><Location_Y>121.4</Location_Y>"
                f"<Scale>15</Scale><Label>x</Label><MsgId>{next_msg_id()}</MsgId></xml>")
    resp = await sender.post_xml(location)
    assert "location" in read_reply(await resp.text(), None)


def test_message_fields_map_to_incoming():
    base = {"ToUserName": "gh_1", "FromUserName": "u", "CreateTime": "7"}
    assert to_incoming(base | {"MsgType": "text", "Content": "你好", "MsgId": "42"}) == Incoming(
        user_id="u", kind="text", text="你好", msg_id="42", create_time=7, account="gh_1")
    scanned = to_incoming(base | {"MsgType": "event", "Event": "subscribe", "EventKey": "qrscene_school:S1"})
    assert (scanned.kind, scanned.event, scanned.event_key, scanned.msg_id) == ("event", "subscribe", "school:S1", "")
    view = to_incoming(base | {"MsgType": "event", "Event": "VIEW", "EventKey": "https://example.invalid/"})
    assert (view.event, view.event_key) == ("view", "https://example.invalid/")
    # Events nobody answers (a template message's delivery report) stay events: no reply text is sent.
    report = to_incoming(base | {"MsgType": "event", "Event": "TEMPLATESENDJOBFINISH", "Status": "success"})
    assert (report.kind, report.event) == ("event", "templatesendjobfinish")
    assert to_incoming(base | {"MsgType": "location", "MsgId": "43"}).kind == "location"
    assert to_incoming(base | {"MsgType": "device_text", "MsgId": "44"}).kind == "other"
    with pytest.raises(ValueError):  # the webhook answers 400
        to_incoming(base | {"MsgType": "text", "Content": "x", "MsgId": "not-a-number"})


async def test_same_msgid_three_times_advances_once_with_identical_replies(bot):
    _, sender, _, services = bot
    msg_id = next_msg_id()
    replies = [await sender.say("u3", "同一条", msg_id=msg_id) for _ in range(3)]
    assert replies == ["第1条 text   同一条"] * 3
    session, _ = await services.sessions.load("u3")
    assert session["count"] == 1


async def test_retry_while_first_delivery_in_flight_waits_for_its_result(bot):
    _, sender, router, services = bot
    router.delay = 0.3
    msg_id = next_msg_id()
    replies = await asyncio.gather(*[sender.say("u4", "并发重试", msg_id=msg_id) for _ in range(3)])
    assert replies == ["第1条 text   并发重试"] * 3
    assert (await services.sessions.load("u4"))[0]["count"] == 1


async def test_twenty_concurrent_messages_from_one_guardian_are_serialised(bot):
    _, sender, _, services = bot
    replies = await asyncio.gather(*[sender.say("u5", f"消息{i}") for i in range(20)])
    counts = sorted(int(r.split("条")[0][1:]) for r in replies)
    assert counts == list(range(1, 21))
    assert (await services.sessions.load("u5"))[0]["count"] == 20


async def test_slow_turn_answers_success_and_delivers_later(aiohttp_client, tmp_path):
    router = CountingRouter()
    router.delay = 0.5
    settings = make_settings(tmp_path)
    settings.reply_budget = 0.1
    services = build_services(settings, clock=Clock())
    app = create_app(settings, services, router=router, background=False)
    delivered: list[tuple[str, str]] = []

    async def deliver(_services, openid, text):
        delivered.append((openid, text))

    from bot.app import PIPELINE

    app[PIPELINE].deliver = deliver
    client = await aiohttp_client(app)
    sender = WeChatSender(client, TOKEN)
    resp = await sender.post_xml(build_message_xml("u6", text="慢", msg_id=next_msg_id()))
    assert await resp.text() == "success"
    await app[PIPELINE].drain(timeout=3)
    assert delivered == [("u6", "第1条 text   慢")]


async def test_safe_mode_round_trip_with_real_aes_key(aiohttp_client, tmp_path):
    settings = make_settings(tmp_path, wechat_aes_key=AES_KEY)
    services = build_services(settings, clock=Clock())
    client = await aiohttp_client(create_app(settings, services, router=CountingRouter(), background=False))
    crypto = MessageCrypto(TOKEN, AES_KEY, APPID)
    sender = WeChatSender(client, TOKEN, crypto)
    assert await sender.say("u7", "加密消息") == "第1条 text   加密消息"
    # A wrong msg_signature is refused.
    params, body = signed_query(TOKEN, build_message_xml("u7", text="x", msg_id=next_msg_id()), crypto)
    params["msg_signature"] = "0" * 40
    resp = await client.post("/wechat", params=params, data=body.encode())
    assert resp.status == 403
    # A message encrypted for another AppID is refused.
    other = MessageCrypto(TOKEN, AES_KEY, "wxother")
    params, body = signed_query(TOKEN, build_message_xml("u7", text="x", msg_id=next_msg_id()), other)
    resp = await client.post("/wechat", params=params, data=body.encode())
    assert resp.status == 403


async def test_store_down_answers_busy_in_chinese_and_logs(aiohttp_client, tmp_path, caplog):
    class DeadStore:
        def __getattr__(self, name):
            async def fail(*args, **kwargs):
                raise StoreError("connection refused")
            return fail

    settings = make_settings(tmp_path)
    services = build_services(settings, store=DeadStore(), clock=Clock())
    client = await aiohttp_client(create_app(settings, services, router=CountingRouter(), background=False))
    with caplog.at_level(logging.WARNING):
        reply = await WeChatSender(client, TOKEN).say("u8", "在吗")
    assert reply == "系统繁忙，请稍后再试。"
    assert any("store unavailable" in r.getMessage() for r in caplog.records)
    assert (await client.get("/healthz")).status == 503


async def test_health_and_metrics(bot):
    client, sender, *_ = bot
    await sender.say("u9", "hi")
    assert (await client.get("/healthz")).status == 200
    text = await (await client.get("/metrics")).text()
    assert 'bot_messages_total{kind="text"} 1' in text
    assert "bot_reply_seconds_bucket" in text


def test_simulator_is_on_only_without_a_real_account():
    assert Settings.from_env({}).simulator is True
    assert Settings.from_env({"WECHAT_TOKEN": "real"}).simulator is False
    assert Settings.from_env({"WECHAT_TOKEN": "real", "BOT_SIMULATOR": "1"}).simulator is True
    assert Settings.from_env({"BOT_SIMULATOR": "0"}).simulator is False
