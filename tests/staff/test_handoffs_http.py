"""The 转人工 inbox through the real server: a guardian asks for a person over signed WeChat XML, staff
read and answer through the admin API (replies reach the fake WeChat API), and in headless Chromium."""
from __future__ import annotations

import datetime as dt
import itertools
import json
import time

import aiohttp
import pytest

from bench.common import post_text
from bot.web.simulator import build_message_xml, read_reply, signed_query
from dialogs.validators import generate_id_number
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.server_process import ServerProcess

APPID, SECRET, TOKEN, ADMIN = "wxhandofftest001", "handoff-secret", "e2e-token", "e2e-admin"
BEARER = {"Authorization": f"Bearer {ADMIN}"}
PHONE = "17612342353"
_ids = itertools.count(int(time.time() * 1000))


@pytest.fixture
async def fake_api():
    async with FakeWeChatAPI.running(appid=APPID, secret=SECRET) as fake:
        yield fake


def start_server(tmp_path, fake_api, **env: str) -> ServerProcess:
    return ServerProcess(tmp_path / "data", env={
        "WECHAT_APPID": APPID, "WECHAT_SECRET": SECRET, "WECHAT_API_BASE": fake_api.base_url,
        "WECHAT_TEMPLATE_ID": "tmpl-handoff", "BOT_ADMIN_TOKEN": ADMIN, **env}).start()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


async def say(http, server, user: str, text: str) -> str:
    status, reply = await post_text(http, server.base_url, user, text, next(_ids), token=TOKEN)
    assert status == 200, reply
    return reply


async def click(http, server, user: str, key: str) -> str:
    params, body = signed_query(TOKEN, build_message_xml(user, event="CLICK", key=key, create_time=next(_ids)), None)
    async with http.post(server.base_url + "/wechat", params=params, data=body.encode()) as resp:
        assert resp.status == 200
        return read_reply(await resp.text(), None)


async def inbox(http, server) -> dict:
    async with http.get(server.base_url + "/admin/api/handoffs", headers=BEARER) as resp:
        assert resp.status == 200
        return await resp.json()


async def post(http, server, path: str, body: dict | None = None) -> tuple[int, dict]:
    async with http.post(server.base_url + path, json=body or {}, headers=BEARER) as resp:
        return resp.status, await resp.json()


async def test_request_follow_ups_reply_template_fallback_and_close(tmp_path, fake_api, http):
    server = start_server(tmp_path, fake_api, BOT_STAFF_HOURS="工作日 8:30–16:30")
    try:
        ack = await say(http, server, "o-hand-1", f"我要转人工，电话{PHONE}")
        assert "人工客服" in ack and "工作日 8:30–16:30" in ack
        answer = await say(http, server, "o-hand-1", "少儿住院互助基金一年交多少钱")
        assert "人工客服" not in answer and answer  # the bot still answers while the request is open
        assert "人工客服" in await click(http, server, "o-hand-2", "HUMAN")  # the menu's 人工客服

        listed = await inbox(http, server)
        assert listed["open"] == 2 and PHONE not in json.dumps(listed, ensure_ascii=False)
        first = next(i for i in listed["handoffs"] if i["messages"][0]["text"].startswith("我要转人工"))
        assert first["status"] == "open" and first["guardian"] == "o-hand…"
        assert [m["text"] for m in first["messages"]] == ["我要转人工，电话176****2353", "少儿住院互助基金一年交多少钱"]
        assert all(m["at"].startswith("20") for m in first["messages"])
        async with http.get(server.base_url + "/admin/", headers=BEARER) as resp:
            page = await resp.text()
        assert 'id="nav-handoffs">2<' in page and "待回复人工请求" in page

        status, replied = await post(http, server, f"/admin/api/handoffs/{first['id']}/reply",
                                     {"text": "您好，我是工作人员，请问孩子在哪个区上学？"})
        assert status == 200 and replied["status"] == "answered"
        assert fake_api.texts_to("o-hand-1") == ["您好，我是工作人员，请问孩子在哪个区上学？"]
        staff = replied["messages"][-1]
        assert staff["from"] == "staff" and staff["at"] and "客服消息" in staff["delivery"]

        # Outside the 48-hour window the reply goes as a template notice, as broadcasts do.
        fake_api.fail_openid("o-hand-2", 45015)
        second = next(i for i in (await inbox(http, server))["handoffs"] if i["guardian"] == "o-hand…"
                      and i["id"] != first["id"])
        status, replied = await post(http, server, f"/admin/api/handoffs/{second['id']}/reply", {"text": "请回复您的问题。"})
        assert status == 200 and "模板通知" in replied["messages"][-1]["delivery"]
        assert [o for o, _ in fake_api.templates] == ["o-hand-2"]

        assert (await inbox(http, server))["open"] == 0
        await say(http, server, "o-hand-1", "浦东新区")  # the guardian answers: the request waits for staff again
        assert (await inbox(http, server))["open"] == 1

        status, closed = await post(http, server, f"/admin/api/handoffs/{first['id']}/close")
        assert status == 200 and closed["status"] == "closed"
        await say(http, server, "o-hand-1", "谢谢")
        after = next(i for i in (await inbox(http, server))["handoffs"] if i["id"] == first["id"])
        assert [m["text"] for m in after["messages"]][-1] != "谢谢" and len(after["messages"]) == 4
        assert (await post(http, server, f"/admin/api/handoffs/{first['id']}/reply", {"text": "x"}))[0] == 409
        assert (await post(http, server, "/admin/api/handoffs/H-none/reply", {"text": "x"}))[0] == 404
        assert (await post(http, server, f"/admin/api/handoffs/{second['id']}/reply", {"text": "  "}))[0] == 400
        assert (await post(http, server, "/admin/api/handoffs/H-none/close"))[0] == 404
    finally:
        server.stop()


async def test_no_staff_hours_are_made_up_when_none_are_configured(tmp_path, fake_api, http):
    server = start_server(tmp_path, fake_api)
    try:
        ack = await say(http, server, "o-hand-3", "转人工")
        assert "人工客服" in ack and not any(c.isdigit() for c in ack)
    finally:
        server.stop()


@pytest.mark.browser
async def test_staff_answer_and_close_in_the_inbox_page(tmp_path, fake_api, http, browser):
    server = start_server(tmp_path, fake_api)
    id_number = generate_id_number(dt.date(2017, 5, 1), "男", seq=7)
    try:
        await say(http, server, "o-hand-4", f"人工客服，孩子身份证号 {id_number}，电话{PHONE}")
        page = await (await browser.new_context(locale="zh-CN")).new_page()
        await page.goto(server.base_url + "/admin/login")
        await page.fill("#token", ADMIN)
        await page.click("button[type=submit]")
        await page.wait_for_url("**/admin/")
        assert await page.inner_text("#nav-handoffs") == "1"
        await page.click("a[href='/admin/handoffs']")
        card = page.locator("section.handoff").first
        text = await card.inner_text()
        assert "待回复" in text and "176****2353" in text and PHONE not in await page.content()
        assert id_number not in await page.content() and "*****" + id_number[-4:] in text
        await card.locator("textarea").fill("您好，已收到，我们会尽快处理。")
        await card.locator(".reply-form button").click()
        await page.wait_for_selector("section.handoff[data-status=answered]")
        assert "您好，已收到，我们会尽快处理。" in await page.locator("section.handoff").first.inner_text()
        assert fake_api.texts_to("o-hand-4") == ["您好，已收到，我们会尽快处理。"]
        assert await page.locator("#nav-handoffs").count() == 0
        await page.locator("section.handoff .close-form button").first.click()
        await page.wait_for_selector("section.handoff[data-status=closed]")
        assert await page.locator("section.handoff textarea").count() == 0
    finally:
        server.stop()
