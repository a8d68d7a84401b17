"""Pre-review by a remote enrolment platform over HTTP (JSON, HMAC-SHA256 signed both ways).

    POST {base}/applications          submit → {"status": "pending"|"approved"|"rejected", "reason", "reference"}
    GET  {base}/applications/{ref}    poll   → same shape
    POST {our callback_url}           the platform's decision later: same shape + "application_id"

Every request and callback carries `X-Signature: hex(HMAC-SHA256(secret, timestamp + "." + body))` and
`X-Timestamp`; callbacks are verified in constant time and refused when older than the tolerance.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import Any

import aiohttp

from integrations.enrollment.base import APPROVED, PENDING, REJECTED, ReviewResult

TOLERANCE = 300  # seconds
# What the platform needs to review; the guardian's phone and address stay with us.
SENT_FIELDS = ("id", "scheme", "school_code", "school_name", "school_year", "category", "exempt", "amount_fen")


class BackendError(Exception):
    """The platform could not be reached or answered nonsense; the application stays submitted."""


class InvalidCallback(Exception):
    """A callback whose signature, age or content does not check out."""


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class HttpEnrollmentBackend:
    def __init__(self, base_url: str, secret: bytes, callback_url: str, timeout: float = 5.0,
                 session: aiohttp.ClientSession | None = None) -> None:
        self.base_url, self._secret = base_url.rstrip("/"), secret
        self.callback_url, self.timeout = callback_url, timeout
        self._session, self._own_session = session, session is None

    async def submit(self, application: dict[str, Any]) -> ReviewResult:
        child = application.get("child") or {}
        payload = {k: application.get(k) for k in SENT_FIELDS}
        payload["child"] = {k: child.get(k) for k in ("name", "id_type", "id_number", "birth_date", "sex")}
        payload["callback_url"] = self.callback_url
        return _result(await self._request("POST", "/applications", payload))

    async def result(self, application: dict[str, Any]) -> ReviewResult:
        reference = application.get("review_reference") or application.get("id")
        return _result(await self._request("GET", f"/applications/{reference}", None))

    def parse_callback(self, body: bytes, timestamp: str, sig: str, now: float | None = None
                       ) -> tuple[str, ReviewResult]:
        """(application id, decision) from a verified callback; raises InvalidCallback."""
        expected = signature(self._secret, timestamp or "", body)
        if not hmac.compare_digest(expected.encode(), (sig or "").encode()):
            raise InvalidCallback("signature")
        try:
            age = abs((now if now is not None else time.time()) - int(timestamp))
            data = json.loads(body)
        except (TypeError, ValueError):
            raise InvalidCallback("malformed") from None
        if age > TOLERANCE:
            raise InvalidCallback("stale")
        if not isinstance(data, dict) or not data.get("application_id"):
            raise InvalidCallback("no application_id")
        try:
            return str(data["application_id"]), _result(data)
        except BackendError as exc:
            raise InvalidCallback(str(exc)) from None

    async def _request(self, method: str, path: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        if self._session is None or self._session.closed:
            self._session, self._own_session = aiohttp.ClientSession(), True
        body = json.dumps(payload, ensure_ascii=False).encode() if payload is not None else b""
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-Timestamp": timestamp,
                   "X-Signature": signature(self._secret, timestamp, body)}
        try:
            async with self._session.request(method, self.base_url + path, data=body or None, headers=headers,
                                             timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                if resp.status != 200:
                    raise BackendError(f"HTTP {resp.status}")
                data = await resp.json(content_type=None)
        except asyncio.TimeoutError as exc:
            raise BackendError("timeout") from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise BackendError(type(exc).__name__) from exc
        if not isinstance(data, dict):
            raise BackendError("malformed answer")
        return data

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
        self._session = None


def _result(data: dict[str, Any]) -> ReviewResult:
    status = data.get("status")
    if status not in (APPROVED, REJECTED, PENDING):
        raise BackendError(f"unknown status {status!r}")
    reason = str(data.get("reason") or "")
    if status == REJECTED and not reason:
        reason = "未通过预审，请联系学校或拨打服务热线咨询。"
    return ReviewResult(status, reason, str(data.get("reference") or ""))
