"""The embedded default provider: a hosted checkout link in the style of a government payment
platform (一网通办 公共支付平台).

Order numbers look like the platform's (`YWTB` + merchant code + time + serial). The guardian gets
an HMAC-signed link with an expiry to the checkout page (`GET /pay/checkout?order=..&exp=..&sig=..`,
served by bot/web/payment_routes.py, standing in for the platform's page); paying there makes the
"platform" send a signed callback (`POST /pay/notify`) back to us. Both signatures are checked in
constant time.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from typing import Any
from urllib.parse import urlencode

from integrations.payment.base import Ack, InvalidNotification, OrderRequest, PaymentNotice, check_signed_link

CALLBACK_TOLERANCE = dt.timedelta(minutes=10)  # older callbacks are replays


class HostedCheckoutProvider:
    name = "checkout"

    def __init__(self, secret: bytes, public_url: str, merchant_code: str = "31000000",
                 checkout_path: str = "/pay/checkout", notify_path: str = "/pay/notify",
                 checkout_url: str = "") -> None:
        if len(secret) < 16:
            raise ValueError("checkout secret must be at least 16 bytes")
        self._secret = secret
        self.public_url = public_url.rstrip("/")
        self.merchant_code = merchant_code
        self.checkout_path, self.notify_path = checkout_path, notify_path
        # The platform's hosted checkout page; unset = this server's own simulated cashier.
        self.checkout_url = checkout_url or self.public_url + checkout_path

    @property
    def is_local(self) -> bool:
        return self.checkout_url == self.public_url + self.checkout_path

    @property
    def notify_url(self) -> str:
        return self.public_url + self.notify_path

    def new_order_no(self, now: dt.datetime) -> str:
        return f"YWTB{self.merchant_code}{now.strftime('%Y%m%d%H%M%S')}{secrets.randbelow(10**4):04d}"

    async def create_order(self, order: OrderRequest) -> str:
        exp = int(order.expires_at.timestamp())
        sig = self._link_signature(order.order_no, order.amount_fen, exp)
        return f"{self.checkout_url}?{urlencode({'order': order.order_no, 'exp': exp, 'sig': sig})}"

    # ----- the checkout link -----------------------------------------------------------------
    def _link_signature(self, order_no: str, amount_fen: int, exp: int) -> str:
        message = f"link|{order_no}|{amount_fen}|{exp}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def verify_link(self, order_no: str, amount_fen: int, exp: str, sig: str, now: dt.datetime) -> None:
        """Raises LinkInvalid / LinkExpired. `amount_fen` comes from our order record, so a link
        signed for another amount does not verify."""
        check_signed_link(order_no, exp, sig, now, lambda exp_int: self._link_signature(order_no, amount_fen, exp_int))

    # ----- the platform's callback -----------------------------------------------------------
    def callback_body(self, order_no: str, amount_fen: int, now: dt.datetime) -> bytes:
        """What the platform posts to `notify_url` once the guardian has paid."""
        fields: dict[str, Any] = {
            "order_no": order_no, "amount_fen": amount_fen, "status": "PAID",
            "trade_no": "T" + now.strftime("%Y%m%d%H%M%S") + secrets.token_hex(6).upper(),
            "paid_at": now.isoformat(timespec="seconds"), "timestamp": int(now.timestamp()),
            "nonce": secrets.token_hex(8),
        }
        fields["sign"] = self._callback_signature(fields)
        return json.dumps(fields, ensure_ascii=False).encode()

    def _callback_signature(self, fields: dict[str, Any]) -> str:
        canonical = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "sign" and fields[k] != "")
        return hmac.new(self._secret, b"callback|" + canonical.encode(), hashlib.sha256).hexdigest()

    def parse_notification(self, body: bytes, now: dt.datetime) -> PaymentNotice:
        try:
            fields = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise InvalidNotification("malformed body") from None
        if not isinstance(fields, dict) or not all(k in fields for k in ("order_no", "amount_fen", "sign", "timestamp")):
            raise InvalidNotification("missing fields")
        if not hmac.compare_digest(self._callback_signature(fields).encode(), str(fields["sign"]).encode()):
            raise InvalidNotification("signature")
        try:
            sent_at = dt.datetime.fromtimestamp(int(fields["timestamp"]), dt.timezone.utc)
            amount = int(fields["amount_fen"])
        except (TypeError, ValueError, OverflowError, OSError):
            raise InvalidNotification("malformed timestamp or amount") from None
        if abs(now - sent_at) > CALLBACK_TOLERANCE:
            raise InvalidNotification("stale callback")
        if fields.get("status") != "PAID":
            raise InvalidNotification(f"status {fields.get('status')!r}")
        return PaymentNotice(order_no=str(fields["order_no"]), amount_fen=amount,
                             transaction_id=str(fields.get("trade_no", "")), paid_at=str(fields.get("paid_at", "")),
                             provider=self.name, raw={k: v for k, v in fields.items() if k != "sign"})

    def ack(self, ok: bool, message: str = "") -> Ack:
        body = json.dumps({"code": "SUCCESS" if ok else "FAIL", "message": message or ("OK" if ok else "ERROR")},
                          ensure_ascii=False)
        return Ack(200 if ok else 400, body, "application/json")
