"""Async client for the WeChat official-account API (customer-service and template messages, menu, QR codes).

wechatpy's client is `requests`-based and would block the event loop, so this is a small aiohttp
client. The access token lives in the shared store (kind "kv") so every worker uses the same one;
only one worker at a time refreshes it (a store lock), via `POST /cgi-bin/stable_token`.

Every call is bounded by `timeout`. Outcomes are reported as a `DeliveryResult` whose `status` tells
the caller what to do next:
  sent          delivered
  retry         transient trouble (5xx, network, throttling, token trouble) — try again later
  undeliverable the guardian is outside the 48-hour window or unfollowed (45015…) — fall back to a template
  held          customer-service quota for this guardian used up (45047) — hold until they write again
  paused        the account's daily quota is used up (45009) — this API is paused until tomorrow
Errors are logged without personal data (the openid is logged as a short hash) and counted in the store.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp

log = logging.getLogger("integrations.wechat.api")

KV_KIND = "kv"
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
OUTSIDE_WINDOW = frozenset({45015, 43004, 43019, 40003})  # out of window / unfollowed / blocked / unknown openid
QUOTA_PER_USER = 45047
DAILY_QUOTA = 45009
THROTTLED = frozenset({-1, 45011, 45033})  # system busy, per-minute quota: transient
TOKEN_MARGIN = 300.0  # refresh this many seconds before WeChat says the token expires
QUOTA_DAY_TZ = ZoneInfo("Asia/Shanghai")  # WeChat's daily quotas reset at midnight Beijing time

SENT, RETRY, UNDELIVERABLE, HELD, PAUSED = "sent", "retry", "undeliverable", "held", "paused"


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    status: str  # sent | retry | undeliverable | held | paused
    errcode: int = 0
    detail: str = ""


@dataclass(frozen=True)
class QRCode:
    ticket: str
    url: str  # the content of the QR code
    image_url: str  # showqrcode address of the image
    expire_seconds: int | None = None


class WeChatAPIError(Exception):
    """A management call (menu, QR code, token) failed; `result` says how."""

    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(f"{result.status}: errcode {result.errcode} {result.detail}")
        self.result = result


def openid_tag(openid: str) -> str:
    """A short stable hash of an openid for logs (openids are personal identifiers)."""
    return hashlib.sha256(openid.encode()).hexdigest()[:10] if openid else "-"


class WeChatAPI:
    def __init__(self, store: Any, appid: str, secret: str, base_url: str = "https://api.weixin.qq.com",
                 timeout: float = 5.0, session: aiohttp.ClientSession | None = None, *,
                 retries: int = 2, backoff: float = 0.2, showqrcode_base: str | None = None) -> None:
        self.store, self.appid, self._secret = store, appid, secret
        self.base_url = base_url.rstrip("/")
        self.showqrcode_base = (showqrcode_base or
                                ("https://mp.weixin.qq.com" if "api.weixin.qq.com" in self.base_url else self.base_url))
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self._session, self._own_session = session, session is None
        self._token: tuple[str, float] | None = None  # this worker's copy: (token, epoch expiry)
        self._paused: dict[str, float] = {}  # path -> epoch until which it is paused (copy of the store)

    # ----- public calls ----------------------------------------------------------------------
    async def send_text(self, openid: str, text: str) -> DeliveryResult:
        payload = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        return await self._deliver("/cgi-bin/message/custom/send", payload, openid)

    async def send_template(self, openid: str, template_id: str, data: dict[str, Any], url: str = "") -> DeliveryResult:
        fields = {k: v if isinstance(v, dict) else {"value": str(v)} for k, v in data.items()}
        payload: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": fields}
        if url:
            payload["url"] = url
        return await self._deliver("/cgi-bin/message/template/send", payload, openid)

    async def create_menu(self, menu: dict[str, Any]) -> DeliveryResult:
        """Publish the custom menu (`{"button": [...]}`); raises WeChatAPIError when refused."""
        result = self._classify(*await self._call("/cgi-bin/menu/create", menu, ""))
        if not result.ok:
            raise WeChatAPIError(result)
        return result

    async def create_qrcode(self, scene_str: str, permanent: bool = True, expire_seconds: int = 2592000) -> QRCode:
        """A parametric QR code whose scan event carries `scene_str` (e.g. "school:310101001")."""
        payload: dict[str, Any] = {
            "action_name": "QR_LIMIT_STR_SCENE" if permanent else "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene_str}},
        }
        if not permanent:
            payload["expire_seconds"] = expire_seconds
        data, failure = await self._call("/cgi-bin/qrcode/create", payload, "")
        if failure is not None or not data or not data.get("ticket"):
            raise WeChatAPIError(self._classify(data, failure))
        ticket = data["ticket"]
        image = f"{self.showqrcode_base}/cgi-bin/showqrcode?{urlencode({'ticket': ticket})}"
        return QRCode(ticket=ticket, url=data.get("url", ""), image_url=image, expire_seconds=data.get("expire_seconds"))

    async def qrcode_image(self, code: QRCode) -> bytes:
        """The QR code's image (JPEG) from showqrcode; raises aiohttp.ClientError on failure."""
        async with self._session_for_loop().get(code.image_url,
                                                timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
            resp.raise_for_status()
            return await resp.read()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
        self._session = None

    # ----- access token ----------------------------------------------------------------------
    @property
    def _token_key(self) -> str:
        return f"wechat_token:{self.appid}"

    async def access_token(self, rejected: str | None = None) -> str:
        """A valid token: this worker's copy, else the shared one, else refreshed by one worker.
        `rejected` is a token WeChat just refused; it is never returned again."""
        now = time.time()
        if self._token and self._token[0] != rejected and self._token[1] - TOKEN_MARGIN > now:
            return self._token[0]
        shared = await self._shared_token(rejected)
        if shared:
            return shared
        deadline = time.monotonic() + self.timeout * 2
        while True:
            lock = await self.store.acquire_lock(f"{self._token_key}:refresh", self.timeout * 2 + 1)
            if lock is not None:
                try:
                    # Another worker may have refreshed while we waited for the lock.
                    return await self._shared_token(rejected) or await self._refresh(force=rejected is not None)
                finally:
                    await self.store.release_lock(f"{self._token_key}:refresh", lock)
            await asyncio.sleep(0.05)
            shared = await self._shared_token(rejected)
            if shared:
                return shared
            if time.monotonic() > deadline:
                raise WeChatAPIError(DeliveryResult(False, RETRY, 0, "token refresh lock timeout"))

    async def _shared_token(self, rejected: str | None) -> str | None:
        rec = await self.store.get(KV_KIND, self._token_key)
        if rec is None:
            return None
        token, expires_at = rec.data.get("token", ""), float(rec.data.get("expires_at", 0))
        if token and token != rejected and expires_at - TOKEN_MARGIN > time.time():
            self._token = (token, expires_at)
            return token
        return None

    async def _refresh(self, force: bool) -> str:
        body = {"grant_type": "client_credential", "appid": self.appid, "secret": self._secret,
                "force_refresh": force}
        data, failure = await self._post("/cgi-bin/stable_token", body, params=None)
        if failure is not None or not data or not data.get("access_token"):
            result = self._classify(data, failure)
            log.error("wechat token refresh failed errcode=%s detail=%s", result.errcode, result.detail)
            raise WeChatAPIError(result)
        expires_at = time.time() + int(data.get("expires_in", 7200))
        self._token = (data["access_token"], expires_at)
        await self.store.put(KV_KIND, self._token_key, {"token": data["access_token"], "expires_at": expires_at},
                             ttl=max(1.0, expires_at - time.time()))
        log.info("wechat access token refreshed (forced=%s)", force)
        return data["access_token"]

    # ----- daily-quota pause -----------------------------------------------------------------
    async def _paused_until(self, path: str) -> float:
        until = self._paused.get(path, 0.0)
        if until > time.time():
            return until
        rec = await self.store.get(KV_KIND, f"wechat_paused:{self.appid}:{path}")
        until = float(rec.data.get("until", 0)) if rec else 0.0
        self._paused[path] = until
        return until if until > time.time() else 0.0

    async def _pause_until_tomorrow(self, path: str) -> None:
        now = dt.datetime.now(QUOTA_DAY_TZ)
        tomorrow = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(0, 0), QUOTA_DAY_TZ)
        until = tomorrow.timestamp()
        self._paused[path] = until
        await self.store.put(KV_KIND, f"wechat_paused:{self.appid}:{path}",
                             {"until": until, "since": time.time()}, ttl=max(1.0, until - time.time()))
        log.warning("wechat api %s paused until %s (daily quota reached)", path, tomorrow.isoformat())

    # ----- transport -------------------------------------------------------------------------
    async def _deliver(self, path: str, payload: dict[str, Any], openid: str) -> DeliveryResult:
        if await self._paused_until(path):
            return DeliveryResult(False, PAUSED, DAILY_QUOTA, "daily quota reached; paused until tomorrow")
        result = self._classify(*await self._call(path, payload, openid))
        if result.errcode == DAILY_QUOTA:
            await self._pause_until_tomorrow(path)
        return result

    async def _call(self, path: str, payload: dict[str, Any], openid: str) -> tuple[dict[str, Any] | None, str | None]:
        """POST with the access token: one token refresh on token errors, bounded retries with
        backoff on 5xx/network/throttling. Returns (answer, None) or (None, failure description)."""
        rejected: str | None = None
        refreshed = False
        attempt = 0
        while True:
            try:
                token = await self.access_token(rejected)
            except WeChatAPIError as exc:
                return None, f"token unavailable: {exc.result.detail or exc.result.errcode}"
            data, failure = await self._post(path, payload, params={"access_token": token})
            errcode = int((data or {}).get("errcode", 0) or 0)
            if data is not None and errcode in TOKEN_ERRORS and not refreshed:
                rejected, refreshed = token, True
                self._token = None
                log.info("wechat %s token refused (errcode=%s); refreshing once", path, errcode)
                continue
            transient = failure is not None or errcode in THROTTLED
            if transient and attempt < self.retries:
                attempt += 1
                await asyncio.sleep(self.backoff * (2 ** (attempt - 1)) * (0.5 + random.random()))
                continue
            if failure is not None or errcode:
                await self._record_error(path, openid, errcode, failure or str((data or {}).get("errmsg", "")))
            return data, failure

    async def _post(self, path: str, body: dict[str, Any], params: dict[str, str] | None
                    ) -> tuple[dict[str, Any] | None, str | None]:
        session = self._session_for_loop()
        try:
            # Serialised by hand: WeChat wants UTF-8 text, not \u escapes (some endpoints show them raw).
            raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
            async with session.post(self.base_url + path, params=params, data=raw,
                                    headers={"Content-Type": "application/json; charset=utf-8"},
                                    timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                if resp.status >= 500:
                    return None, f"HTTP {resp.status}"
                if resp.status >= 400:
                    return {"errcode": -2, "errmsg": f"HTTP {resp.status}"}, None
                data = await resp.json(content_type=None)
                if not isinstance(data, dict):
                    return None, "malformed answer"
                return data, None
        except asyncio.TimeoutError:
            return None, "timeout"
        except (aiohttp.ClientError, ValueError, OSError) as exc:
            return None, f"network: {type(exc).__name__}"

    def _session_for_loop(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    @staticmethod
    def _classify(data: dict[str, Any] | None, failure: str | None) -> DeliveryResult:
        if failure is not None or data is None:
            return DeliveryResult(False, RETRY, 0, failure or "no answer")
        errcode = int(data.get("errcode", 0) or 0)
        detail = str(data.get("errmsg", ""))
        if errcode == 0:
            return DeliveryResult(True, SENT, 0, detail or "ok")
        if errcode in OUTSIDE_WINDOW:
            return DeliveryResult(False, UNDELIVERABLE, errcode, detail)
        if errcode == QUOTA_PER_USER:
            return DeliveryResult(False, HELD, errcode, detail)
        if errcode == DAILY_QUOTA:
            return DeliveryResult(False, PAUSED, errcode, detail)
        if errcode in TOKEN_ERRORS or errcode in THROTTLED:
            return DeliveryResult(False, RETRY, errcode, detail)
        # Anything else is a request WeChat will keep refusing (bad format, too long…): don't retry it.
        return DeliveryResult(False, UNDELIVERABLE, errcode, detail)

    async def _record_error(self, path: str, openid: str, errcode: int, detail: str) -> None:
        log.warning("wechat %s failed user=%s errcode=%s detail=%s", path, openid_tag(openid), errcode, detail[:120])
        try:
            await self.store.incr(f"metric:wechat_api_error:{errcode}")
        except Exception:  # noqa: BLE001 - a metrics hiccup must not turn into a lost message
            log.exception("could not count wechat api error")

