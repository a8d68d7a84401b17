"""The whole product over HTTP: the real app (webhook, pipeline, dialogs, fulfilment, payment routes),
driven through the chat simulator — enrol, get the pay link by message, pay on the checkout page,
receive the confirmation."""
from __future__ import annotations

import asyncio
import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.fulfilment import expire_overdue
from dialogs.validators import generate_id_number
from tests.fakes.wechat_pay import FakeWeChatPay
from tests.integrations.harness import LINK_RE, make_services

SCHOOL_CODE, SCHOOL = "3101010001", "黄浦区北京东路小学"


async def _wait_for(client: TestClient, user: str, needle: str, seen: list[str]) -> str:
    for _ in range(100):
        data = await (await client.get("/simulator/outbox", params={"user": user})).json()
        seen.extend(data["messages"])
        for text in seen:
            if needle in text:
                return text
        await asyncio.sleep(0.05)
    raise AssertionError(f"no message with {needle!r}; got {seen}")


async def _start(tmp_path, store) -> tuple[TestClient, object, str]:
    services = make_services(tmp_path, store)
    child_id = generate_id_number(dt.date(2016, 3, 2), "男", seq=298)
    await services.roster.replace_school(SCHOOL_CODE, SCHOOL, [
        {"name": "韩小明", "id_number": child_id, "class_name": "三(2)班"}], services.clock.now())
    client = TestClient(TestServer(create_app(services.settings, services, background=False), host="127.0.0.1"))
    await client.start_server()
    services.extras["fulfilment"].payments.public_url = str(client.make_url("")).rstrip("/")
    return client, services, child_id


async def _enrol(client: TestClient, user: str, child_id: str) -> str:
    """The guardian's side of the conversation, through the simulator; returns the last reply."""
    resp = await client.post("/simulator/send", json={"user": user, "event": "CLICK", "key": "ENROLL"})
    assert "上海市少儿住院互助基金" in (await resp.json())["reply"]
    reply = ""
    for text in ["上海市少儿住院互助基金集中参保", "同意", "韩小明", child_id, "静安区联航路4号", "是",
                 "否", "北京东路", "韩大明", "17612342353", "确认提交"]:
        resp = await client.post("/simulator/send", json={"user": user, "text": text})
        assert resp.status == 200, await resp.text()
        reply = (await resp.json()).get("reply", "")
    return reply


@pytest.mark.slow
async def test_enrol_pay_and_confirm_through_the_simulator(tmp_path, sqlite_store):
    client, services, child_id = await _start(tmp_path, sqlite_store)
    try:
        user, seen = "sim-e2e-guardian", []
        assert "已提交" in await _enrol(client, user, child_id)

        pay_message = await _wait_for(client, user, "预审通过", seen)
        assert "150.00元" in pay_message and child_id not in pay_message
        link = LINK_RE.findall(pay_message)[0]
        parts = urlsplit(link)
        page = await client.get(parts.path + "?" + parts.query)
        assert page.status == 200 and "150.00" in await page.text()
        paid = await client.post("/pay/checkout", data={k: v[0] for k, v in parse_qs(parts.query).items()})
        assert "支付成功" in await paid.text()

        confirmation = await _wait_for(client, user, "缴费成功", seen)
        assert "确认收到参保费后事项办结" in confirmation and "已办结" not in confirmation
        [application] = await services.applications.for_user(user)
        assert application["status"] == "paid"
    finally:
        await client.close()


@pytest.mark.slow
async def test_reply_is_not_held_up_by_a_hanging_payment_platform(tmp_path, sqlite_store, monkeypatch):
    async with FakeWeChatPay.running() as pay:
        for key, value in {"PAY_PROVIDER": "wechat", "WECHAT_PAY_MCH_ID": pay.mch_id, "WECHAT_PAY_API_KEY": pay.api_key,
                           "WECHAT_APPID": pay.appid, "WECHAT_PAY_BASE": pay.base_url, "PAY_TIMEOUT": "0.5"}.items():
            monkeypatch.setenv(key, value)
        pay.delay_next(1, 3.0)
        client, services, child_id = await _start(tmp_path, sqlite_store)
        try:
            user, seen = "sim-e2e-slow-pay", []
            assert "已提交" in await _enrol(client, user, child_id)  # the reply came; the order is a follow-up
            assert "缴费链接正在生成" in await _wait_for(client, user, "预审通过", seen)
            await expire_overdue(services)  # the background sweep tries again
            assert "weixin://wxpay" in await _wait_for(client, user, "点击这里去缴费", seen)
        finally:
            await client.close()


async def test_the_simulator_takes_any_text_and_refuses_what_is_not_a_message(tmp_path, sqlite_store):
    client, _services, _child_id = await _start(tmp_path, sqlite_store)
    try:
        # Characters no WeChat client sends (control characters, a lone surrogate from a JSON escape)
        # are dropped before the message is built: the guardian still gets an answer, not a 500 or a 502.
        resp = await client.post("/simulator/send", data='{"user": "o-sim-odd", "text": "\\u0000\\ud800\\u0001帮助"}',
                                 headers={"Content-Type": "application/json"})
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["reply"]
        for body in ("[1, 2]", '"text"', "{broken"):
            resp = await client.post("/simulator/send", data=body, headers={"Content-Type": "application/json"})
            assert resp.status == 400 and "请求格式错误" in (await resp.json())["error"]
    finally:
        await client.close()


def test_replies_never_carry_characters_xml_cannot():
    from integrations.wechat.reply import render_text
    from integrations.wechat.safexml import parse_flat_xml

    # A reply that echoes odd input (a school keyword, say) must still be XML WeChat can read.
    fields = parse_flat_xml(render_text("o-1", "gh", "没有找到与“\x00\x0b\ufffe\ud800北京东路”相近的学校"))
    assert fields["Content"] == "没有找到与“北京东路”相近的学校"
