"""Changes that span records are stored together or not at all (Store.put_all): an order with its
application's move to 待缴费, a payment with the order and the application it settles — on every backend."""
from __future__ import annotations

from typing import Any

import pytest

from bot.store.base import StoreError
from bot.store.repos import AWAITING_PAYMENT, PRE_APPROVED
from integrations.payment import PaymentNotice


class FailingWrites:
    """Passes everything to the real store, but a write (put or put_all) of a `kind` record (with
    `status`, if given) fails as if the database went away mid-change."""

    def __init__(self, inner: Any, kind: str, status: str | None = None) -> None:
        self.inner, self.kind, self.status, self.failing = inner, kind, status, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _fails(self, kind: str, data: dict) -> bool:
        return self.failing and kind == self.kind and self.status in (None, data.get("status"))

    async def put(self, kind: str, key: str, data: dict, **kwargs: Any) -> int:
        if self._fails(kind, data):
            raise StoreError("database gone")
        return await self.inner.put(kind, key, data, **kwargs)

    async def put_all(self, writes: list) -> None:
        if any(self._fails(w.kind, w.data) for w in writes):
            raise StoreError("database gone")
        await self.inner.put_all(writes)


async def test_a_payment_whose_order_cannot_be_written_leaves_the_application_unpaid(bot):
    app = await bot.enrol_child()
    await bot.submit(app)
    order = await bot.fulfilment.orders.get(app["id"])
    failing = FailingWrites(bot.services.store, "order")
    bot.services.applications.store = bot.fulfilment.orders.store = failing
    failing.failing = True
    with pytest.raises(StoreError):
        await bot.fulfilment.on_payment(PaymentNotice(order["order_no"], order["amount_fen"], "T-1"))
    assert await bot.status(app["id"]) == AWAITING_PAYMENT  # not 已缴费 with an unpaid order
    assert (await bot.fulfilment.orders.get(app["id"]))["status"] == "created"
    failing.failing = False  # the platform repeats its notification: now it all lands, once
    assert await bot.fulfilment.on_payment(PaymentNotice(order["order_no"], order["amount_fen"], "T-1")) == (True, "ok")
    assert (await bot.fulfilment.orders.get(app["id"]))["status"] == "paid"
    payments = await bot.services.store.query("payment", application_id=app["id"])
    assert [r.data["transaction_id"] for _, r in payments] == ["T-1"]
    assert await bot.fulfilment.on_payment(PaymentNotice(order["order_no"], order["amount_fen"], "T-1")) == (True, "duplicate")
    assert await bot.services.store.count("payment", application_id=app["id"]) == 1


async def test_an_order_whose_application_cannot_move_to_awaiting_payment_is_not_created(bot):
    app = await bot.enrol_child()
    failing = FailingWrites(bot.services.store, "application", AWAITING_PAYMENT)
    await bot.submit(app, run_followups=False)
    bot.services.applications.store = bot.fulfilment.orders.store = failing
    failing.failing = True
    with pytest.raises(StoreError):  # 预审通过, the order is made at the platform, then storing both fails
        await bot.fulfilment.apply_review(await bot.services.applications.get(app["id"]), _approved())
    assert await bot.status(app["id"]) == PRE_APPROVED
    order = await bot.fulfilment.orders.get(app["id"])
    assert order is None or order["status"] != "created"  # no created order beside an application not awaiting it
    failing.failing = False
    await bot.fulfilment.issue_order(await bot.services.applications.get(app["id"]))  # the sweep's retry
    assert await bot.status(app["id"]) == AWAITING_PAYMENT
    assert (await bot.fulfilment.orders.get(app["id"]))["order_no"] == order["order_no"]  # the same number


def _approved():
    from integrations.enrollment import APPROVED, ReviewResult

    return ReviewResult(APPROVED)


async def test_a_notification_arriving_while_the_records_database_is_away_is_refused_then_applied_once(bot, http):
    """Over HTTP: the platform gets a FAIL answer (not a crash), notifies again, and the payment is applied once."""
    app = await bot.enrol_child()
    await bot.submit(app)
    order = await bot.fulfilment.orders.get(app["id"])
    body = bot.fulfilment.payments.callback_body(order["order_no"], order["amount_fen"], bot.clock.now())
    failing = FailingWrites(bot.services.store, "order")
    bot.services.applications.store = bot.fulfilment.orders.store = failing
    failing.failing = True
    refused = await http.post("/pay/notify", data=body)
    assert refused.status == 400 and (await refused.json())["code"] == "FAIL"
    assert await bot.status(app["id"]) == AWAITING_PAYMENT
    failing.failing = False
    for _repeat in range(2):  # the platform's next notification, and a repeat of it
        accepted = await http.post("/pay/notify", data=body)
        assert (await accepted.json())["code"] == "SUCCESS"
    assert await bot.status(app["id"]) != AWAITING_PAYMENT
    assert await bot.services.store.count("payment", application_id=app["id"]) == 1
