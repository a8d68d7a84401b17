"""Issue 15 items 5 and 9.

5: a real account (no simulator) with no payment provider refuses to start, naming the settings — unless
payments are switched off on purpose (PAY_PROVIDER=off): then a Shanghai fund guardian is told after
预审通过 that online payment opens later, the application waits without lapsing, and staff see it waiting.
9: a second, distinct payment for an application already paid is recorded for refund, the guardian told
once, and staff see it on the application."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.config import ROOT, Settings
from bot.fulfilment import expire_overdue, payment_setup_problem
from bot.store.repos import DONE, PAID, PRE_APPROVED
from tests.integrations.harness import Bot, make_services
from tests.server_process import ServerProcess

BEARER = {"Authorization": "Bearer adm-token"}
PAID_STATES = (PAID, DONE)  # 已缴费, then 办结 once the fund confirms


def test_production_without_a_provider_is_a_setup_problem():
    real = Settings.from_env({"WECHAT_TOKEN": "real-token"})
    assert not real.simulator
    problem = payment_setup_problem(real, {})
    for setting in ("PAY_PROVIDER=wechat", "PAY_CHECKOUT_URL", "PAY_PROVIDER=off", "WECHAT_PAY_MCH_ID"):
        assert setting in problem
    assert payment_setup_problem(real, {"PAY_PROVIDER": "off"}) == ""
    assert payment_setup_problem(real, {"PAY_CHECKOUT_URL": "https://pay.example/cashier"}) == ""
    assert "WECHAT_PAY_MCH_ID" in payment_setup_problem(real, {"PAY_PROVIDER": "wechat"})
    assert payment_setup_problem(Settings.from_env({}), {}) == ""  # the simulator serves its own cashier


def test_serve_refuses_to_start_and_says_what_to_set(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAY_", "WECHAT_", "BOT_"))}
    env.update(WECHAT_TOKEN="real-token", BOT_DATA_DIR=str(tmp_path), BOT_DATA_KEY="00" * 32)
    proc = subprocess.run([sys.executable, "-m", "bot", "serve", "--port", "1"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode == 1
    assert "PAY_PROVIDER=wechat" in proc.stderr and "PAY_CHECKOUT_URL" in proc.stderr and "PAY_PROVIDER=off" in proc.stderr


def test_serve_starts_with_payments_switched_off(tmp_path):
    server = ServerProcess(tmp_path, env={"BOT_SIMULATOR": "0", "PAY_PROVIDER": "off"})
    try:
        server.start()  # ready: /healthz answered
    finally:
        server.stop()


@pytest.fixture
async def started(tmp_path, sqlite_store, monkeypatch, request):
    """The whole app on a local server, payments configured by the test's PAY_* marks."""
    env = getattr(request, "param", {})
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    services = make_services(tmp_path, sqlite_store, admin_token="adm-token", admin_token_from_env=True)
    client = TestClient(TestServer(create_app(services.settings, services, background=False), host="127.0.0.1"))
    await client.start_server()
    fulfilment = services.extras["fulfilment"]
    if fulfilment.payments is not None:
        fulfilment.payments.public_url = str(client.make_url("")).rstrip("/")
    yield Bot(services, fulfilment), client
    await client.close()


async def _admin_search(client, query: str) -> dict:
    resp = await client.get("/admin/api/applications", params={"q": query}, headers=BEARER)
    assert resp.status == 200, await resp.text()
    [found] = (await resp.json())["applications"]
    return found


@pytest.mark.parametrize("started", [{"PAY_PROVIDER": "off"}], indirect=True)
async def test_payments_off_the_guardian_waits_and_staff_see_it(started):
    bot, client = started
    app = await bot.enrol_child()
    await bot.submit(app)
    stored = await bot.services.applications.get(app["id"])
    assert stored["status"] == PRE_APPROVED and stored["payment_waiting"] is True
    [told] = await bot.messages(app["user_id"])
    assert "预审通过" in told and "在线缴费暂未开放" in told and "href" not in told
    assert await bot.fulfilment.orders.get(app["id"]) is None
    bot.clock.advance(hours=30)  # past the 24-hour payment deadline: nobody could pay, nothing lapses
    await expire_overdue(bot.services)
    assert await bot.status(app["id"]) == PRE_APPROVED
    assert len(await bot.messages(app["user_id"])) == 1  # told once
    assert "暂未开放" in await bot.fulfilment.progress_note(stored)
    found = await _admin_search(client, app["id"])
    assert found["payment_waiting"] is True and "等待" in found["status_label"]
    resp = await client.post("/pay/notify", data=b"{}")
    assert resp.status == 404


async def refunds_due(bot: Bot, app_id: str) -> list[dict]:
    return [rec.data for _key, rec in await bot.services.store.query("payment", application_id=app_id, refund="due")]


async def _notify(client, bot: Bot, order_no: str) -> dict:
    body = bot.fulfilment.payments.callback_body(order_no, 15000, bot.clock.now())
    resp = await client.post("/pay/notify", data=body)
    return {"status": resp.status, **(await resp.json()), "body": body}


async def test_a_second_distinct_payment_is_recorded_for_refund(started):
    bot, client = started
    app = await bot.enrol_child()
    await bot.submit(app)
    order = await bot.fulfilment.orders.get(app["id"])
    first = await _notify(client, bot, order["order_no"])
    assert first["code"] == "SUCCESS" and await bot.status(app["id"]) in PAID_STATES
    again = await client.post("/pay/notify", data=first["body"])  # the platform repeating the same payment
    assert (await again.json())["code"] == "SUCCESS"
    assert await refunds_due(bot, app["id"]) == []
    before = len(await bot.messages(app["user_id"]))

    second = await _notify(client, bot, order["order_no"])  # the guardian paid a second time
    assert second["code"] == "SUCCESS"  # acknowledged: the platform must stop repeating it
    repeat = await client.post("/pay/notify", data=second["body"])
    assert (await repeat.json())["code"] == "SUCCESS"
    [due] = await refunds_due(bot, app["id"])
    assert due["transaction_id"] == json.loads(second["body"])["trade_no"] and due["amount_fen"] == 15000
    messages = await bot.messages(app["user_id"])
    assert len(messages) == before + 1 and "退款" in messages[-1] and "重复缴费" in messages[-1]
    assert await bot.status(app["id"]) in PAID_STATES
    found = await _admin_search(client, app["id"])
    assert [(r["amount_fen"], r["transaction_id"]) for r in found["refunds_due"]] == [(15000, due["transaction_id"])]
    page = await client.post("/admin/applications", data={"q": app["id"]}, headers=BEARER)
    assert "待退款 1 笔，共 150.00 元" in await page.text()
    detail = await (await client.get(f"/admin/api/applications/{app['id']}", headers=BEARER)).json()
    assert sorted(p["refund_due"] != "" for p in detail["payments"]) == [False, True]


@pytest.mark.parametrize("started", [{"PAY_PROVIDER": "off"}], indirect=True)
async def test_when_payment_opens_a_waiting_application_gets_its_link(started):
    from integrations.payment import HostedCheckoutProvider

    bot, _client = started
    app = await bot.enrol_child()
    await bot.submit(app)
    bot.clock.advance(hours=2)
    bot.fulfilment.payments = HostedCheckoutProvider(b"k" * 16, "http://127.0.0.1:9")  # a provider is set
    bot.fulfilment.orders.provider = bot.fulfilment.payments
    await expire_overdue(bot.services)
    assert await bot.status(app["id"]) == "awaiting_payment"
    assert "/pay/checkout" in await bot.pay_link(app["user_id"])
