"""Pre-review by a remote platform over HTTP: pending at submission, decided later by a signed
callback or found by polling; forged callbacks are refused."""
from __future__ import annotations

import json

import pytest

from bot.fulfilment import Fulfilment, expire_overdue
from bot.store.repos import AWAITING_PAYMENT, REJECTED, SUBMITTED
from tests.fakes.enrollment_platform import FakeEnrollmentPlatform
from tests.integrations.harness import Bot, make_services


@pytest.fixture
async def platform():
    async with FakeEnrollmentPlatform.running() as server:
        yield server


@pytest.fixture
async def remote(tmp_path, sqlite_store, engine, platform, http_for):
    services = make_services(tmp_path, sqlite_store)
    env = {"ENROLLMENT_BACKEND": "http", "ENROLLMENT_BASE": platform.base_url,
           "ENROLLMENT_SECRET": platform.secret.decode()}
    fulfilment = Fulfilment(services, engine, env=env)
    services.extras.update(engine=engine, fulfilment=fulfilment)
    bot = Bot(services, fulfilment)
    client = await http_for(bot)
    base = str(client.make_url("")).rstrip("/")
    fulfilment.payments.public_url = base
    fulfilment.backend.callback_url = base + "/enrollment/callback"
    bot.client = client
    yield bot
    await fulfilment.backend.close()


async def test_decision_by_callback(remote, platform):
    app = await remote.enrol_child()
    await remote.submit(app)
    assert await remote.status(app["id"]) == SUBMITTED
    [(reference, case)] = platform.cases.items()
    assert case["child"]["name"] and "guardian" not in case  # only what the review needs
    assert await platform.decide(reference, "approved") == 200
    assert await remote.status(app["id"]) == AWAITING_PAYMENT
    assert "预审通过" in (await remote.messages(app["user_id"]))[0]


async def test_decision_by_polling(remote, platform):
    app = await remote.enrol_child()
    await remote.submit(app)
    [reference] = platform.cases
    platform.cases[reference].update(status="rejected", reason="已参加本市职工医保")
    remote.clock.advance(minutes=2)
    await expire_overdue(remote.services)  # the sweep polls pending reviews
    assert await remote.status(app["id"]) == REJECTED
    assert "已参加本市职工医保" in (await remote.messages(app["user_id"]))[0]


async def test_forged_callback_is_refused(remote, platform):
    app = await remote.enrol_child()
    await remote.submit(app)
    body = json.dumps({"application_id": app["id"], "status": "approved"}).encode()
    resp = await remote.client.post("/enrollment/callback", data=body,
                                    headers={"X-Timestamp": "1", "X-Signature": "0" * 64})
    assert resp.status == 400
    assert await remote.status(app["id"]) == SUBMITTED
