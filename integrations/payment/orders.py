"""Payment orders: one per application (the application id is the idempotency key), store kind "order".

Creating an order calls the payment platform, which may be slow or down; the call is bounded and a
failure leaves the record in "failed" so a later sweep can try again with the same order number.
Only one worker creates a given application's order at a time (a store claim).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any, Awaitable, Callable

from integrations.payment.base import OrderRequest, PaymentError, PaymentProvider

log = logging.getLogger("integrations.payment.orders")

ORDER_KIND = "order"
CREATING, CREATED, PAID, EXPIRED, FAILED = "creating", "created", "paid", "expired", "failed"


class OrderInProgress(PaymentError):
    """Another worker is creating this application's order right now."""


class OrderBook:
    def __init__(self, store: Any, provider: PaymentProvider, create_timeout: float = 8.0) -> None:
        self.store, self.provider, self.create_timeout = store, provider, create_timeout

    async def get(self, application_id: str) -> dict[str, Any] | None:
        rec = await self.store.get(ORDER_KIND, application_id)
        return rec.data if rec else None

    async def by_order_no(self, order_no: str) -> dict[str, Any] | None:
        rows = await self.store.query(ORDER_KIND, limit=1, order_no=order_no)
        return rows[0][1].data if rows else None

    async def ensure_order(self, *, application_id: str, user_id: str, amount_fen: int, description: str,
                           expires_at: dt.datetime, now: dt.datetime,
                           settle: Callable[[dict[str, Any]], Awaitable[None]] | None = None) -> dict[str, Any]:
        """The application's order, created at the platform if it has none yet. Raises PaymentError
        (timeout, refusal) or OrderInProgress; calling again is safe. `settle(write)`, when given, stores
        the created order's record itself — together with the application's change, in one transaction —
        and may refuse (the store's VersionConflict: the application is no longer payable). Its key and index values are
        `record_key` and `index_of`."""
        if amount_fen <= 0:
            raise ValueError("an order needs a positive amount")
        existing = await self.get(application_id)
        if existing and existing["status"] in (CREATED, PAID) and existing["amount_fen"] == amount_fen:
            return existing
        claim = f"order-create:{application_id}"
        if not await self.store.claim(claim, self.create_timeout + 5):
            raise OrderInProgress(application_id)
        try:
            existing = await self.get(application_id)
            if existing and existing["status"] in (CREATED, PAID) and existing["amount_fen"] == amount_fen:
                return existing
            # Reuse the number after a failed attempt so the platform sees one order, not two; a
            # changed amount needs a new number (platforms refuse one number with two amounts).
            reuse = existing and existing["amount_fen"] == amount_fen and existing["status"] != EXPIRED
            order_no = existing["order_no"] if reuse else self.provider.new_order_no(now)
            record = {
                "application_id": application_id, "user_id": user_id, "order_no": order_no,
                "amount_fen": amount_fen, "description": description, "provider": self.provider.name, "status": CREATING,
                "expires_at": expires_at.isoformat(timespec="seconds"), "pay_url": "",
                "created_at": now.isoformat(timespec="seconds"), "attempts": int((existing or {}).get("attempts", 0)) + 1,
            }
            await self._write(record)
            request = OrderRequest(order_no=order_no, amount_fen=amount_fen, description=description,
                                   expires_at=expires_at, payer_openid=user_id)
            try:
                record["pay_url"] = await asyncio.wait_for(self.provider.create_order(request), self.create_timeout)
            except (PaymentError, asyncio.TimeoutError) as exc:
                record.update(status=FAILED, error=_describe(exc))
                await self._write(record)
                log.warning("order creation failed application=%s order=%s: %s", application_id, order_no,
                            _describe(exc))
                raise PaymentError(_describe(exc)) from exc
            record["status"] = CREATED
            record.pop("error", None)
            if settle is None:
                await self._write(record)
            else:
                await settle(record)
            return record
        finally:
            await self.store.release_claim(claim)

    async def update(self, application_id: str, **changes: Any) -> dict[str, Any] | None:
        record = await self.get(application_id)
        if record is None:
            return None
        record.update(changes)
        await self._write(record)
        return record

    async def _write(self, record: dict[str, Any]) -> None:
        await self.store.put(ORDER_KIND, record_key(record), record, index=index_of(record))


def record_key(order: dict[str, Any]) -> str:
    """An order is stored under its application's id (kind ORDER_KIND)."""
    return order["application_id"]


def index_of(order: dict[str, Any]) -> dict[str, str]:
    return {"order_no": order["order_no"], "status": order["status"]}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "支付平台超时"
    return str(exc) or type(exc).__name__
