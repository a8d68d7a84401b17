"""Admin HTTP API and pages over aiohttp's test client: auth, CSRF, stats, preview, broadcasts, roster, search."""
from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest
from aiohttp import web

from bot.broadcast import install
from bot.broadcast.jobs import JobSettings
from bot.broadcast.segments import Segment
from bot.config import ROOT
from bot.web.admin import setup_admin
from dialogs.validators import generate_id_number
from tests.staff.conftest import ADMIN_TOKEN, add_subscribers, make_sender

BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def client(services, fake_api, aiohttp_client):
    from bot.rules import RuleEngine

    sender = make_sender(services, fake_api.base_url)
    install(services, sender=sender, engine=RuleEngine.load(ROOT / "policies"), settings=JobSettings(rate=500))
    app = web.Application()
    setup_admin(app, services)
    client = await aiohttp_client(app)
    yield client
    await services.extras["broadcasts"].stop()
    await sender.close()


async def login_form_csrf(client) -> str:
    page = await (await client.get("/admin/login")).text()
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


async def login(client, token: str = ADMIN_TOKEN) -> str:
    resp = await client.post("/admin/login", data={"token": token, "csrf": await login_form_csrf(client)},
                             allow_redirects=False)
    assert resp.status == 303
    cookie = resp.cookies["bot_admin"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    page = await (await client.get("/admin/")).text()
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


async def test_api_refuses_without_or_with_a_wrong_token(client):
    assert (await client.get("/admin/api/stats")).status == 401
    assert (await client.get("/admin/api/stats", headers={"Authorization": "Bearer nope"})).status == 401
    resp = await client.get("/admin/", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/admin/login"
    resp = await client.post("/admin/login", data={"token": "wrong", "csrf": await login_form_csrf(client)})
    assert resp.status == 403 and "令牌不正确" in await resp.text()
    forged = await client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf": "forged-forged-forged-1"})
    assert forged.status == 403 and "bot_admin" not in forged.cookies


async def test_login_failures_are_limited(client):
    csrf = await login_form_csrf(client)
    for _ in range(10):
        await client.post("/admin/login", data={"token": "wrong", "csrf": csrf})
    resp = await client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf": csrf}, allow_redirects=False)
    assert resp.status == 429


async def test_session_cookie_needs_csrf_for_posts(client, services):
    csrf = await login(client)
    assert (await client.get("/admin/api/stats")).status == 200  # cookie works for reads
    assert (await client.post("/admin/api/segments/preview", json={})).status == 403
    resp = await client.post("/admin/api/segments/preview", json={}, headers={"X-CSRF-Token": csrf})
    assert resp.status == 200
    form = await client.post("/admin/broadcasts", data={"text": "x", "csrf": "forged"})
    assert form.status == 403
    await client.post("/admin/logout", data={"csrf": csrf})
    assert (await client.get("/admin/api/stats")).status == 401


async def test_stats_preview_broadcast_and_progress(client, services, fake_api):
    await add_subscribers(services, 30, schemes=["sh-child-fund"])
    await add_subscribers(services, 5, prefix="n", schemes=["nb-civil-servant-children"], district="海曙区")
    now = services.clock.now()
    await services.applications.create("o00000", "sh-child-fund", {"status": "paid"}, now)
    await services.applications.create("o00001", "sh-child-fund", {"status": "awaiting_payment"}, now)
    await services.store.incr(f"stats:messages:{now.date().isoformat()}", 7)

    stats = await (await client.get("/admin/api/stats", headers=BEARER)).json()
    assert stats["messages_today"] == 7 and stats["subscribers"] == 35 and stats["by_status"] == {"paid": 1, "awaiting_payment": 1}
    assert [f["count"] for f in stats["funnel"]] == [2, 2, 2, 1]  # started, submitted, pre-approved, paid

    preview = await (await client.post("/admin/api/segments/preview", headers=BEARER,
                                       json={"scheme": "sh-child-fund", "status": "needs_action"})).json()
    assert preview["count"] == 29
    overview = await (await client.get("/admin/api/segments?scheme=sh-child-fund", headers=BEARER)).json()
    assert {row["status"]: row["count"] for row in overview["segments"]} == {
        "": 30, "started": 0, "submitted": 0, "unpaid": 1, "paid": 1, "verifying": 0, "no_application": 28, "needs_action": 29}
    bad = await client.post("/admin/api/segments/preview", headers=BEARER, json={"status": "whatever"})
    assert bad.status == 400 and "未知的办理状态" in (await bad.json())["error"]
    for body in ({"segment": [1, 2]}, {"since": "yesterday"}, {"colour": "red"}):
        resp = await client.post("/admin/api/segments/preview", headers=BEARER, json=body)
        assert resp.status == 400, body
    assert (await client.post("/admin/api/segments/preview", headers=BEARER, data=b"not json")).status == 400

    resp = await client.post("/admin/api/broadcasts", headers=BEARER,
                             json={"text": "宁波：本月27日前完成缴费。", "segment": {"scheme": "nb-civil-servant-children"}})
    assert resp.status == 201
    job = await resp.json()
    for _ in range(200):
        progress = await (await client.get(f"/admin/api/broadcasts/{job['id']}", headers=BEARER)).json()
        if progress["status"] == "done":
            break
        await asyncio.sleep(0.02)
    assert progress["counts"]["sent"] == 5 and sorted(fake_api.recipients) == [f"n{i:05d}" for i in range(5)]
    listing = await (await client.get("/admin/api/broadcasts", headers=BEARER)).json()
    assert listing["broadcasts"][0]["id"] == job["id"]
    assert (await client.get("/admin/api/broadcasts/nope", headers=BEARER)).status == 404
    empty = await client.post("/admin/api/broadcasts", headers=BEARER, json={"text": "", "segment": {}})
    assert empty.status == 400


async def test_scheduled_broadcast_and_cancel(client, services):
    await add_subscribers(services, 3)
    later = (services.clock.now() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    job = await (await client.post("/admin/api/broadcasts", headers=BEARER,
                                   json={"text": "明天见", "segment": {}, "send_at": later})).json()
    assert job["status"] == "scheduled"
    cancelled = await (await client.post(f"/admin/api/broadcasts/{job['id']}/cancel", headers=BEARER)).json()
    assert cancelled["status"] == "cancelled"
    past = await client.post("/admin/api/broadcasts", headers=BEARER,
                             json={"text": "x", "segment": {}, "send_at": "2020-01-01T10:00"})
    assert past.status == 400


async def test_roster_upload_api_and_application_search_masks_numbers(client, services):
    good = generate_id_number(dt.date(2016, 3, 4), "女", seq=12)
    data = f"姓名,身份证号,班级,学校代码\n王小明,{good},一年级1班,3101010001\n".encode()
    resp = await client.post("/admin/api/roster?filename=r.csv", data=data, headers=BEARER)
    report = await resp.json()
    assert resp.status == 200 and report["imported"] == 1
    bad = f"姓名,身份证号,班级,学校代码\n王小明,{good[:-1]},一年级1班,3101010001\n".encode()
    resp = await client.post("/admin/api/roster?filename=r.csv", data=bad, headers=BEARER)
    assert resp.status == 422 and good[:-1] not in await resp.text()

    app = await services.applications.create(
        "o-guardian-1", "sh-child-fund",
        {"status": "submitted", "child": {"name": "王小明", "id_number": good},
         "guardian": {"name": "王大明", "phone": "17612342353"}}, services.clock.now())
    for q in (good, app["id"], "王小明", "o-guardian-1"):
        found = await (await client.get("/admin/api/applications", params={"q": q}, headers=BEARER)).json()
        assert [a["id"] for a in found["applications"]] == [app["id"]], q
        text = str(found)
        assert good not in text and "17612342353" not in text
        assert found["applications"][0]["child_id"] == "*****" + good[-4:]
        assert found["applications"][0]["guardian_phone"] == "176****2353"
    found = await (await client.post("/admin/api/applications", json={"q": good}, headers=BEARER)).json()
    assert [a["id"] for a in found["applications"]] == [app["id"]]
    csrf = await login(client)
    page = await (await client.post("/admin/applications", data={"q": good, "csrf": csrf})).text()
    assert app["id"] in page and good not in page and "176****2353" in page


async def test_pages_render(client, services):
    await login(client)
    for path in ("/admin/", "/admin/broadcasts", "/admin/reminders", "/admin/roster", "/admin/applications"):
        resp = await client.get(path)
        assert resp.status == 200, path
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert "自动提醒计划" in await (await client.get("/admin/reminders")).text()


async def test_resend_unknown_on_request(client, services, fake_api):
    from bot.broadcast.jobs import delivery_index, delivery_key

    await add_subscribers(services, 2)
    jobs = services.extras["broadcasts"]
    job = await jobs.create("测试", Segment(),
                            send_at=services.clock.now() + dt.timedelta(hours=1))
    await jobs.start(job["id"])
    key = delivery_key(job["id"], "o00001")
    data = dict((await services.store.get("bdelivery", key)).data, state="unknown")
    await services.store.put("bdelivery", key, data, index=delivery_index(data))
    await jobs.dispatch(job["id"])
    await jobs.wait(job["id"])
    assert fake_api.recipients == ["o00000"]
    csrf = await login(client)
    page = await (await client.get(f"/admin/broadcasts/{job['id']}")).text()
    assert "resend-form" in page
    resp = await client.post(f"/admin/broadcasts/{job['id']}/resend-unknown", data={"csrf": csrf})
    assert resp.status == 200
    await jobs.wait(job["id"])
    assert sorted(fake_api.recipients) == ["o00000", "o00001"]
