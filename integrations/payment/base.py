"""The one payment interface every provider implements, and the records that cross it.

A provider creates an order at the payment platform (returning the link the guardian opens) and
turns the platform's asynchronous notification into a verified `PaymentNotice`. It never decides
whether the payment is acceptable for our application: the caller checks the order number and the
amount against its own record (see bot/fulfilment.py).
"""
from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable


class PaymentError(Exception):
    """The platform refused or could not be reached (timeout); the order may be retried later."""


class InvalidNotification(Exception):
    """A notification whose signature, format or origin does not check out: ignore it (and log)."""


class LinkInvalid(InvalidNotification):
    """A pay link (checkout page, JSAPI page) was altered or does not belong to this order."""


class LinkExpired(InvalidNotification):
    """A pay link is past its expiry (the payment deadline)."""


def check_signed_link(order_no: str, exp: str, sig: str, now: dt.datetime, signature_for: Callable[[int], str]) -> None:
    """A pay link's check: `sig` must be `signature_for(exp)` (compared in constant time) and `exp` (epoch
    seconds) not yet past. Raises LinkInvalid / LinkExpired."""
    try:
        exp_int = int(exp)
    except (TypeError, ValueError):
        raise LinkInvalid("exp") from None
    if not hmac.compare_digest(signature_for(exp_int).encode(), str(sig or "").encode()):
        raise LinkInvalid("signature")
    if now.timestamp() > exp_int:
        raise LinkExpired(order_no)


@dataclass(frozen=True)
class OrderRequest:
    order_no: str
    amount_fen: int
    description: str  # shown on the platform's page, no personal data
    expires_at: dt.datetime
    client_ip: str = "127.0.0.1"
    payer_openid: str = ""  # the guardian's OpenID under our 公众号 (WeChat Pay JSAPI pays as this user)


@dataclass(frozen=True)
class PaymentNotice:
    """A verified "paid" notification."""

    order_no: str
    amount_fen: int
    transaction_id: str
    paid_at: str = ""
    provider: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ack:
    """What to answer the platform's notification request."""

    status: int
    body: str
    content_type: str


@runtime_checkable
class PaymentProvider(Protocol):
    name: str

    def new_order_no(self, now: dt.datetime) -> str:
        """A fresh merchant order number in the platform's format."""
        ...

    async def create_order(self, order: OrderRequest) -> str:
        """Create the order at the platform; returns the pay URL. Raises PaymentError (incl. timeout)."""
        ...

    def parse_notification(self, body: bytes, now: dt.datetime) -> PaymentNotice:
        """Verify (constant-time signature check) and parse; raises InvalidNotification."""
        ...

    def ack(self, ok: bool, message: str = "") -> Ack:
        """The answer that tells the platform the notification was handled (or should be retried)."""
        ...
