"""The async WeChat API client against the fake WeChat server over HTTP: token sharing and refresh,
every errcode the brief names, 5xx and timeouts, the daily-quota pause, menu and QR codes."""
from __future__ import annotations

import asyncio

import pytest

from integrations.wechat.api import WeChatAPI, WeChatAPIError
from tests.fakes.wechat_api import FakeWeChatAPI

APPID, SECRET = "wxintegrationtest", "integration-secret"


@pytest.fixture
async def fake():
    async with FakeWeChatAPI.running(appid=APPID, secret=SECRET) as server:
        yield server


@pytest.fixture
async def api(fake, sqlite_store):
    client = WeChatAPI(sqlite_store, APPID, SECRET, base_url=fake.base_url, timeout=1.0, backoff=0.01)
    yield client
    await client.close()


async def test_send_text_fetches_one_token_and_delivers(api, fake):
    for text in ("您好", "第二条"):
        result = await api.send_text("o-1", text)
        assert result.ok and result.status == "sent"
    assert fake.texts_to("o-1") == ["您好", "第二条"]
    assert fake.token_requests == 1


async def test_wrong_secret_is_reported_not_raised(fake, sqlite_store):
    client = WeChatAPI(sqlite_store, APPID, "wrong", base_url=fake.base_url, timeout=1.0, backoff=0.01)
    try:
        result = await client.send_text("o-1", "hi")
    finally:
        await client.close()
    assert not result.ok and result.status == "retry" and "token" in result.detail
    assert fake.messages == []


@pytest.mark.parametrize("errcode,status", [(45015, "undeliverable"), (45047, "held"), (43004, "undeliverable")])
async def test_guardian_errcodes(api, fake, errcode, status):
    fake.fail_openid("o-x", errcode)
    result = await api.send_text("o-x", "预审通过")
    assert (result.ok, result.status, result.errcode) == (False, status, errcode)
    assert (await api.send_text("o-y", "ok")).ok  # other guardians are unaffected


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
async def test_token_errors_refresh_once_and_retry(api, fake, errcode):
    assert (await api.send_text("o-1", "warm-up")).ok
    fake.fail_next(1, errcode=errcode)
    result = await api.send_text("o-1", "after refresh")
    assert result.ok
    assert fake.token_requests == 2
    assert fake.texts_to("o-1") == ["warm-up", "after refresh"]


async def test_token_error_twice_gives_retry(api, fake):
    fake.fail_next(2, errcode=40001)
    result = await api.send_text("o-1", "x")
    assert result.status == "retry" and result.errcode == 40001


async def test_5xx_is_retried_with_backoff(api, fake):
    fake.fail_next(2, http_status=502)
    assert (await api.send_text("o-1", "eventually")).ok
    fake.fail_next(5, http_status=503)
    result = await api.send_text("o-1", "gives up")
    assert result.status == "retry" and "503" in result.detail


async def test_every_call_is_bounded_by_the_timeout(fake, sqlite_store):
    client = WeChatAPI(sqlite_store, APPID, SECRET, base_url=fake.base_url, timeout=0.2, retries=1, backoff=0.01)
    try:
        assert (await client.send_text("o-1", "warm-up")).ok
        fake.fail_next(2, delay=0.6)  # longer than the client's timeout, on both attempts
        result = await client.send_text("o-1", "slow")
    finally:
        await client.close()
    assert result.status == "retry" and result.detail == "timeout"


async def test_daily_quota_pauses_until_tomorrow(api, fake, sqlite_store):
    fake.fail_next(1, errcode=45009)
    first = await api.send_text("o-1", "a")
    assert first.status == "paused"
    calls = len(fake.calls)
    second = await api.send_text("o-2", "b")
    assert second.status == "paused" and len(fake.calls) == calls  # not even attempted
    # The pause is shared: another worker on the same store does not call either.
    other = WeChatAPI(sqlite_store, APPID, SECRET, base_url=fake.base_url, timeout=1.0)
    try:
        assert (await other.send_text("o-3", "c")).status == "paused"
    finally:
        await other.close()
    assert len(fake.calls) == calls
    assert (await api.send_template("o-1", "TPL", {"first": "x"})).ok  # only that API is paused


async def test_token_expiry_during_a_burst_refreshes_once(fake, store):
    """Three workers sharing one store (SQLite and real Redis): one refresh for all of them."""
    workers = [WeChatAPI(store, APPID, SECRET, base_url=fake.base_url, timeout=2.0, backoff=0.01) for _ in range(3)]
    try:
        assert (await workers[0].send_text("o-0", "warm-up")).ok
        fake.expire_tokens()
        results = await asyncio.gather(*(workers[i % 3].send_text(f"o-{i}", f"m{i}") for i in range(60)))
    finally:
        for worker in workers:
            await worker.close()
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    assert len(fake.messages) == 61
    assert fake.token_requests == 2  # the first token, and exactly one refresh shared by all workers


async def test_rate_limit_throttling_is_retried(fake, sqlite_store):
    fake.rate_limit = 5
    client = WeChatAPI(sqlite_store, APPID, SECRET, base_url=fake.base_url, timeout=2.0, backoff=0.4, retries=3)
    try:
        results = await asyncio.gather(*(client.send_text(f"o-{i}", "hi") for i in range(8)))
    finally:
        await client.close()
    assert all(r.ok for r in results)
    assert any(code == 45011 for _, _, code in fake.errors)


async def test_template_menu_and_qrcode(api, fake):
    result = await api.send_template("o-1", "TEMPLATE_ID", {"first": "缴费提醒", "keyword1": {"value": "150元"}},
                                     url="https://example.invalid/x")
    assert result.ok
    [(openid, payload)] = fake.templates
    assert payload["data"]["first"] == {"value": "缴费提醒"} and payload["url"].startswith("https://")

    menu = {"button": [{"name": "我要参保", "type": "click", "key": "ENROLL"}]}
    assert (await api.create_menu(menu)).ok and fake.menus == [menu]
    with pytest.raises(WeChatAPIError):
        await api.create_menu({"button": []})

    code = await api.create_qrcode("school:310104001")
    assert fake.qrcodes[code.ticket]["action_info"]["scene"]["scene_str"] == "school:310104001"
    assert fake.qrcodes[code.ticket]["action_name"] == "QR_LIMIT_STR_SCENE"
    assert (await api.qrcode_image(code)).startswith(b"\x89PNG")
    temporary = await api.create_qrcode("school:1", permanent=False, expire_seconds=600)
    assert temporary.expire_seconds == 600


async def test_fake_daily_quota_and_throttle_as_45009(fake, sqlite_store):
    fake.daily_quota = 2
    client = WeChatAPI(sqlite_store, APPID, SECRET, base_url=fake.base_url, timeout=1.0, backoff=0.01)
    try:
        statuses = [(await client.send_text(f"o-{i}", "x")).status for i in range(4)]
    finally:
        await client.close()
    assert statuses == ["sent", "sent", "paused", "paused"]
    assert len(fake.messages) == 2
