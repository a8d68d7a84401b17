"""Admin login, logout and the guards every page and API handler passes through.

Login with BOT_ADMIN_TOKEN (constant-time compare) → a random session id in an HttpOnly,
SameSite=Strict cookie; the session (with its CSRF token) lives in the store, so every worker
accepts it. Every POST form carries the CSRF token; the JSON API takes either
`Authorization: Bearer <BOT_ADMIN_TOKEN>` or the session cookie plus an `X-CSRF-Token` header.
Wrong tokens — typed into the form or sent as Bearer — are counted per client (the real one behind a
trusted proxy, see bot.web.forwarded); too many in ten minutes and that client is refused with 429.
"""
from __future__ import annotations

import hmac
import logging
import secrets
import string

from aiohttp import web

from bot.broadcast.jobs import JobError
from bot.broadcast.segments import SegmentError
from bot.web.admin.core import (ASSETS, AdminContext, ApiHandler, Auth, Handler, PageHandler, h, html_response,
                                json_response, redirect, secure)
from bot.web.forwarded import client_address, is_https

log = logging.getLogger("bot.web.admin")

SESSION_KIND = "admin_session"
COOKIE = "bot_admin"
LOGIN_COOKIE = "bot_admin_login"  # CSRF token of the login form (before a session exists)
SESSION_TTL = 8 * 3600
LOGIN_FAILURES_ALLOWED = 10  # wrong tokens (form or Bearer) per client address per 10 minutes
LOGIN_FAILURES_WINDOW = 600
TOO_MANY = "登录失败次数过多，请10分钟后再试。"


class TooManyAttempts(Exception):
    """This client sent too many wrong tokens lately: refused before its token is even compared."""


class AdminAuth:
    def __init__(self, ctx: AdminContext) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.login_template = string.Template((ASSETS / "login.html").read_text(encoding="utf-8"))

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/admin", self.root)
        router.add_get("/admin/login", self.login_form)
        router.add_post("/admin/login", self.login)
        router.add_post("/admin/logout", self.page(self.logout))

    def _token_ok(self, token: str) -> bool:
        expected = self.ctx.services.settings.admin_token
        return bool(expected) and hmac.compare_digest(token.encode("utf-8"), expected.encode("utf-8"))

    def _failures_key(self, request: web.Request) -> str:
        return f"admin_login_fail:{client_address(request, self.ctx.services.settings.trusted_proxies)}"

    async def _check_attempts(self, request: web.Request) -> str:
        """The client's failure counter key; TooManyAttempts once it is used up."""
        key = self._failures_key(request)
        if await self.store.incr(key, 0, ttl=LOGIN_FAILURES_WINDOW) >= LOGIN_FAILURES_ALLOWED:
            raise TooManyAttempts()
        return key

    async def _failed(self, key: str) -> None:
        await self.store.incr(key, 1, ttl=LOGIN_FAILURES_WINDOW)
        log.warning("admin token refused")

    def _secure_cookies(self, request: web.Request) -> bool:
        settings = self.ctx.services.settings
        return is_https(request, settings.trusted_proxies, settings.public_url)

    async def authenticate(self, request: web.Request) -> Auth | None:
        """The caller's credentials, None without valid ones; TooManyAttempts for a throttled Bearer client."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            key = await self._check_attempts(request)
            if self._token_ok(header[7:].strip()):
                return Auth("bearer")
            await self._failed(key)
            return None
        session_id = request.cookies.get(COOKIE, "")
        if not session_id or len(session_id) > 100:
            return None
        rec = await self.store.get(SESSION_KIND, session_id)
        return Auth("session", session_id, rec.data["csrf"]) if rec else None

    def page(self, handler: PageHandler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                auth = await self.authenticate(request)
            except TooManyAttempts:
                return secure(web.Response(status=429, text=TOO_MANY))
            if auth is None:
                if request.method == "GET":
                    return redirect("/admin/login")
                return secure(web.Response(status=403, text="请先登录管理后台。"))
            if request.method == "POST" and auth.via == "session":
                form = await request.post()
                if not hmac.compare_digest(str(form.get("csrf", "")), auth.csrf):
                    return secure(web.Response(status=403, text="页面已过期（CSRF 校验失败），请刷新后重试。"))
            return secure(await handler(request, auth))
        return wrapped

    def api(self, handler: ApiHandler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                auth = await self.authenticate(request)
            except TooManyAttempts:
                return secure(json_response({"error": TOO_MANY}, 429))
            if auth is None:
                return secure(json_response({"error": "未登录或令牌错误"}, 401))
            if request.method == "POST" and auth.via == "session" and not hmac.compare_digest(
                    request.headers.get("X-CSRF-Token", ""), auth.csrf):
                return secure(json_response({"error": "CSRF 校验失败"}, 403))
            try:
                result = await handler(request)
            except (SegmentError, JobError, ValueError) as exc:
                return secure(json_response({"error": str(exc)}, 400))
            return secure(result if isinstance(result, web.StreamResponse) else json_response(result))
        return wrapped

    async def root(self, request: web.Request) -> web.StreamResponse:
        return redirect("/admin/")

    async def login_form(self, request: web.Request) -> web.StreamResponse:
        try:
            if await self.authenticate(request):
                return redirect("/admin/")
        except TooManyAttempts:
            pass  # the form itself is shown; the login is refused when sent

        return self._login_page(request, "")

    def _login_page(self, request: web.Request, error: str, status: int = 200) -> web.StreamResponse:
        """The login form, with a double-submit CSRF token (cookie + hidden field) since there is no session yet."""
        token = request.cookies.get(LOGIN_COOKIE, "")
        if not 20 <= len(token) <= 64:
            token = secrets.token_urlsafe(24)
        response = html_response(self.login_template.substitute(error=error, csrf=h(token)), status)
        response.set_cookie(LOGIN_COOKIE, token, max_age=3600, path="/admin", httponly=True, samesite="Strict",
                            secure=self._secure_cookies(request))
        return secure(response)

    async def login(self, request: web.Request) -> web.StreamResponse:
        try:
            failures_key = await self._check_attempts(request)
        except TooManyAttempts:
            return self._login_page(request, f'<p class="notice error">{TOO_MANY}</p>', 429)
        form = await request.post()
        expected_csrf = request.cookies.get(LOGIN_COOKIE, "")
        if not expected_csrf or not hmac.compare_digest(str(form.get("csrf", "")), expected_csrf):
            return self._login_page(request, '<p class="notice error">页面已过期，请重新输入令牌登录。</p>', 403)
        if not self._token_ok(str(form.get("token", ""))):
            await self._failed(failures_key)
            return self._login_page(request, '<p class="notice error">令牌不正确，请重新输入。</p>', 403)
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        await self.store.put(SESSION_KIND, session_id, {"csrf": csrf, "created_at": self.ctx.now_iso()},
                             ttl=SESSION_TTL)
        response = redirect("/admin/")
        response.del_cookie(LOGIN_COOKIE, path="/admin")
        response.set_cookie(COOKIE, session_id, max_age=SESSION_TTL, path="/admin", httponly=True,
                            samesite="Strict", secure=self._secure_cookies(request))
        return secure(response)

    async def logout(self, request: web.Request, auth: Auth) -> web.StreamResponse:
        if auth.session_id:
            await self.store.delete(SESSION_KIND, auth.session_id)
        response = redirect("/admin/login")
        response.del_cookie(COOKIE, path="/admin")
        return response
