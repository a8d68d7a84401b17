"""A local stand-in for the WeChat official-account API server (api.weixin.qq.com), over real HTTP.

It speaks the same JSON protocol as the real server for the endpoints the bot uses, validates the
access token, records every accepted message, enforces a per-second rate limit and a daily quota,
and can be scripted to fail: errcodes for given openids or for the next N calls, HTTP 5xx, delays.

    async with FakeWeChatAPI.running(appid="wxtest", secret="s3cret") as fake:
        api = WeChatAPI(store, "wxtest", "s3cret", base_url=fake.base_url)
        fake.fail_openid("o-left", 45015)          # that guardian left the 48-hour window
        fake.fail_next(2, http_status=502)          # the next two calls hit a bad gateway
        ...
        assert fake.texts_to("o-1") == ["您好"]

Scripted faults are checked after the token is validated and before the rate limit, so a scripted
40001 is answered even for a valid token (tests the client's refresh path).
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from aiohttp import web

from tests.fakes.server import serving

TOKEN_PATH = "/cgi-bin/stable_token"
ERRMSG = {
    0: "ok",
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40014: "invalid access_token",
    40016: "invalid button size",
    40125: "invalid appsecret",
    41001: "access_token missing",
    42001: "access_token expired",
    44002: "empty post data",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit, mustslower retry next minute",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
}
# A 1x1 transparent PNG: what /cgi-bin/showqrcode returns for a known ticket.
_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@dataclass
class Fault:
    """One scripted misbehaviour: an errcode answer, an HTTP error status, and/or a delay first."""

    errcode: int | None = None
    http_status: int | None = None
    delay: float = 0.0
    path: str | None = None  # only calls to this path; None = every API call except the token endpoint

    def applies_to(self, path: str) -> bool:
        if self.path is None:
            return path != TOKEN_PATH
        return self.path == path


@dataclass
class _OpenidScript:
    errcode: int
    remaining: int | None  # None = for ever


CUSTOMER_SERVICE_ONLY = frozenset({45015, 45047})


@dataclass
class FakeWeChatAPI:
    appid: str = "wxfaketestappid0"
    secret: str = "fake-app-secret"
    rate_limit: int | None = None  # accepted API calls per second (sliding window); None = unlimited
    throttle_errcode: int = 45011  # answered when the per-second rate limit is exceeded
    daily_quota: int | None = None  # message sends per "day" before 45009; reset with new_day()
    token_ttl: int = 7200
    latency: float = 0.0  # added to every answer

    # What was accepted, for assertions.
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # customer-service sends
    templates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # template sends
    menus: list[dict[str, Any]] = field(default_factory=list)
    qrcodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # ticket -> request
    # Every request seen (path, openid or ""), accepted or not, and every errcode answered.
    calls: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str, int]] = field(default_factory=list)  # (path, openid, errcode or HTTP status)
    token_requests: int = 0

    base_url: str = ""
    _tokens: dict[str, float] = field(default_factory=dict)  # token -> monotonic expiry
    _revoked: set[str] = field(default_factory=set)
    _faults: collections.deque[Fault] = field(default_factory=collections.deque)
    _by_openid: dict[str, _OpenidScript] = field(default_factory=dict)
    _window: collections.deque[float] = field(default_factory=collections.deque)
    _sent_today: int = 0

    # ----- scripting -------------------------------------------------------------------------
    def fail_next(self, n: int = 1, errcode: int | None = None, http_status: int | None = None,
                  delay: float = 0.0, path: str | None = None) -> None:
        """The next `n` matching calls answer `errcode` (or HTTP `http_status`), after `delay` seconds.
        With neither errcode nor http_status the call is only delayed (use a delay above the
        client's timeout to simulate a timeout)."""
        for _ in range(n):
            self._faults.append(Fault(errcode=errcode, http_status=http_status, delay=delay, path=path))

    def fail_openid(self, openid: str, errcode: int, times: int | None = None) -> None:
        """Messages to `openid` answer `errcode` (`times` times, or always when None)."""
        self._by_openid[openid] = _OpenidScript(errcode, times)

    def heal_openid(self, openid: str) -> None:
        self._by_openid.pop(openid, None)

    def expire_tokens(self) -> None:
        """Every token issued so far is now expired (→ 42001), as after 7200 s."""
        for token in self._tokens:
            self._tokens[token] = 0.0

    def revoke_tokens(self) -> None:
        """Every token issued so far is now invalid (→ 40001), as when another system refreshed it."""
        self._revoked.update(self._tokens)

    def new_day(self) -> None:
        self._sent_today = 0

    # ----- assertions helpers ----------------------------------------------------------------
    def texts_to(self, openid: str) -> list[str]:
        return [p["text"]["content"] for o, p in self.messages if o == openid and p.get("msgtype") == "text"]

    @property
    def recipients(self) -> list[str]:
        return [o for o, _ in self.messages]

    # ----- server ----------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(TOKEN_PATH, self._stable_token)
        app.router.add_post("/cgi-bin/message/custom/send", self._custom_send)
        app.router.add_post("/cgi-bin/message/template/send", self._template_send)
        app.router.add_post("/cgi-bin/menu/create", self._menu_create)
        app.router.add_post("/cgi-bin/qrcode/create", self._qrcode_create)
        app.router.add_get("/cgi-bin/showqrcode", self._show_qrcode)
        return app

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, **options: Any) -> AsyncIterator["FakeWeChatAPI"]:
        """Serve on 127.0.0.1 at a free port for the duration of the block."""
        fake = cls(**options)
        async with serving(fake.make_app()) as fake.base_url:
            yield fake

    # ----- handlers --------------------------------------------------------------------------
    async def _stable_token(self, request: web.Request) -> web.Response:
        self.calls.append((TOKEN_PATH, ""))
        early = await self._scripted(TOKEN_PATH, "")
        if early is not None:
            return early
        body = await _json_body(request)
        if body is None:
            return self._err(TOKEN_PATH, "", 47001)
        if body.get("grant_type") != "client_credential":
            return self._err(TOKEN_PATH, "", 40002)
        if body.get("appid") != self.appid:
            return self._err(TOKEN_PATH, "", 40013)
        if not secrets.compare_digest(str(body.get("secret", "")), self.secret):
            return self._err(TOKEN_PATH, "", 40125)
        self.token_requests += 1
        now = time.monotonic()
        current = self._current_token(now)
        if current is None or body.get("force_refresh"):
            current = "FAKE_" + secrets.token_urlsafe(24)
            self._tokens[current] = now + self.token_ttl
        return web.json_response({"access_token": current, "expires_in": int(self._tokens[current] - now)})

    async def _custom_send(self, request: web.Request) -> web.Response:
        return await self._message(request, "/cgi-bin/message/custom/send", self.messages)

    async def _template_send(self, request: web.Request) -> web.Response:
        return await self._message(request, "/cgi-bin/message/template/send", self.templates)

    async def _message(self, request: web.Request, path: str, sink: list[tuple[str, dict[str, Any]]]) -> web.Response:
        body = await _json_body(request)
        openid = str((body or {}).get("touser") or "")
        refused = await self._gate(request, path, openid)
        if refused is not None:
            return refused
        if body is None:
            return self._err(path, openid, 44002)
        if not openid:
            return self._err(path, openid, 40003)
        if path.endswith("custom/send") and not _valid_custom(body):
            return self._err(path, openid, 47001)
        if path.endswith("template/send") and not body.get("template_id"):
            return self._err(path, openid, 47001)
        if self.daily_quota is not None and self._sent_today >= self.daily_quota:
            return self._err(path, openid, 45009)
        self._sent_today += 1
        sink.append((openid, body))
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        if path.endswith("template/send"):
            answer["msgid"] = len(sink)
        return web.json_response(answer)

    async def _menu_create(self, request: web.Request) -> web.Response:
        path = "/cgi-bin/menu/create"
        refused = await self._gate(request, path, "")
        if refused is not None:
            return refused
        body = await _json_body(request)
        buttons = (body or {}).get("button")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            return self._err(path, "", 40016)
        for button in buttons:
            subs = button.get("sub_button") or []
            if len(subs) > 5 or not button.get("name"):
                return self._err(path, "", 40016)
            if not subs and button.get("type") not in {"click", "view", "miniprogram", "scancode_push"}:
                return self._err(path, "", 40016)
        self.menus.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _qrcode_create(self, request: web.Request) -> web.Response:
        path = "/cgi-bin/qrcode/create"
        refused = await self._gate(request, path, "")
        if refused is not None:
            return refused
        body = await _json_body(request) or {}
        scene = (body.get("action_info") or {}).get("scene") or {}
        if body.get("action_name") not in {"QR_SCENE", "QR_STR_SCENE", "QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE"} \
                or not (scene.get("scene_str") or scene.get("scene_id")):
            return self._err(path, "", 47001)
        ticket = "gQ" + secrets.token_urlsafe(30)
        self.qrcodes[ticket] = body
        answer: dict[str, Any] = {"ticket": ticket, "url": f"http://weixin.qq.com/q/{ticket[:22]}"}
        if "LIMIT" not in body["action_name"]:
            answer["expire_seconds"] = int(body.get("expire_seconds") or 60)
        return web.json_response(answer)

    async def _show_qrcode(self, request: web.Request) -> web.Response:
        if request.query.get("ticket") not in self.qrcodes:
            return web.Response(status=404, text="ticket not found")
        return web.Response(body=_PNG, content_type="image/jpg")

    # ----- gatekeeping -----------------------------------------------------------------------
    async def _gate(self, request: web.Request, path: str, openid: str) -> web.Response | None:
        """Token check, scripted faults, rate limit: None when the call may proceed."""
        self.calls.append((path, openid))
        if self.latency:
            await asyncio.sleep(self.latency)
        token = request.query.get("access_token", "")
        now = time.monotonic()
        if not token:
            return self._err(path, openid, 41001)
        if token not in self._tokens or token in self._revoked:
            return self._err(path, openid, 40001)
        if self._tokens[token] <= now:
            return self._err(path, openid, 42001)
        early = await self._scripted(path, openid)
        if early is not None:
            return early
        if self.rate_limit is not None:
            while self._window and self._window[0] <= now - 1.0:
                self._window.popleft()
            if len(self._window) >= self.rate_limit:
                return self._err(path, openid, self.throttle_errcode)
            self._window.append(now)
        return None

    async def _scripted(self, path: str, openid: str) -> web.Response | None:
        script = self._by_openid.get(openid) if openid else None
        if script is not None and script.errcode in CUSTOMER_SERVICE_ONLY and not path.endswith("custom/send"):
            script = None  # the 48-hour window and the per-guardian quota limit customer-service messages only
        if script is not None:
            if script.remaining is not None:
                script.remaining -= 1
                if script.remaining <= 0:
                    del self._by_openid[openid]
            return self._err(path, openid, script.errcode)
        fault = next((f for f in self._faults if f.applies_to(path)), None)
        if fault is None:
            return None
        self._faults.remove(fault)
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.http_status is not None:
            self.errors.append((path, openid, fault.http_status))
            return web.Response(status=fault.http_status, text="<html>bad gateway</html>", content_type="text/html")
        if fault.errcode is not None:
            return self._err(path, openid, fault.errcode)
        return None

    def _current_token(self, now: float) -> str | None:
        for token, expiry in self._tokens.items():
            if expiry > now and token not in self._revoked:
                return token
        return None

    def _err(self, path: str, openid: str, errcode: int) -> web.Response:
        self.errors.append((path, openid, errcode))
        return web.json_response({"errcode": errcode, "errmsg": ERRMSG.get(errcode, "error")})


async def _json_body(request: web.Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _valid_custom(body: dict[str, Any]) -> bool:
    msgtype = body.get("msgtype")
    if msgtype == "text":
        return isinstance(body.get("text"), dict) and bool(body["text"].get("content"))
    return msgtype in {"image", "voice", "video", "music", "news", "mpnews", "msgmenu", "miniprogrampage"} \
        and isinstance(body.get(msgtype), dict)
