"""Admin login behind the documented HTTPS proxy: the failure counter follows the real client (the
forwarded address only from a listed proxy), Bearer guesses are throttled too, and the cookies are
Secure when the public URL is https or a trusted proxy says the client came over HTTPS."""
from __future__ import annotations

import ipaddress

import pytest
from aiohttp import web

from bot.broadcast import install
from bot.config import ROOT, parse_networks
from bot.web.admin import setup_admin
from tests.staff.conftest import ADMIN_TOKEN
from tests.staff.test_admin_api import login_form_csrf

LOCAL = "127.0.0.1"  # the test client's address: plays the proxy


@pytest.fixture
async def make_client(services, aiohttp_client):
    from bot.rules import RuleEngine

    async def make(**settings):
        for name, value in settings.items():
            setattr(services.settings, name, value)
        install(services, engine=RuleEngine.load(ROOT / "policies"))
        app = web.Application()
        setup_admin(app, services)
        return await aiohttp_client(app)
    yield make
    if "broadcasts" in services.extras:
        await services.extras["broadcasts"].stop()


async def bad_logins(client, times: int, **headers) -> None:
    csrf = await login_form_csrf(client)
    for _ in range(times):
        resp = await client.post("/admin/login", data={"token": "wrong", "csrf": csrf}, headers=headers)
        assert resp.status == 403


async def login_status(client, **headers) -> int:
    csrf = await login_form_csrf(client)
    resp = await client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf": csrf}, headers=headers,
                             allow_redirects=False)
    return resp.status


async def test_behind_a_trusted_proxy_one_guesser_does_not_lock_out_the_staff(make_client):
    client = await make_client(trusted_proxies=parse_networks(LOCAL))
    await bad_logins(client, 10, **{"X-Forwarded-For": "203.0.113.5"})
    assert await login_status(client, **{"X-Forwarded-For": "203.0.113.5"}) == 429
    # Another staff member behind the same proxy logs in.
    assert await login_status(client, **{"X-Forwarded-For": "198.51.100.7"}) == 303
    # The client cannot dodge the counter by writing its own X-Forwarded-For in front of the proxy's.
    assert await login_status(client, **{"X-Forwarded-For": "10.9.9.9, 203.0.113.5"}) == 429


async def test_forwarded_addresses_from_anyone_else_are_ignored(make_client):
    client = await make_client(trusted_proxies=parse_networks("10.0.0.0/8"))
    for i in range(10):
        csrf = await login_form_csrf(client)
        await client.post("/admin/login", data={"token": "wrong", "csrf": csrf},
                          headers={"X-Forwarded-For": f"203.0.113.{i}"})
    assert await login_status(client, **{"X-Forwarded-For": "198.51.100.7"}) == 429


async def test_bearer_guesses_are_counted_and_throttled(make_client):
    client = await make_client()
    for i in range(10):
        resp = await client.get("/admin/api/stats", headers={"Authorization": f"Bearer guess-{i}"})
        assert resp.status == 401
    resp = await client.get("/admin/api/stats", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert resp.status == 429 and "10分钟" in (await resp.json())["error"]
    assert (await client.get("/admin/", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})).status == 429
    assert await login_status(client) == 429  # one counter for both ways in


@pytest.mark.parametrize("settings, headers, secure", [
    ({"public_url": "https://bot.example.org"}, {}, True),
    ({"trusted_proxies": parse_networks(LOCAL)}, {"X-Forwarded-Proto": "https"}, True),
    ({"trusted_proxies": parse_networks("10.0.0.0/8")}, {"X-Forwarded-Proto": "https"}, False),
    ({}, {}, False),
])
async def test_cookies_are_secure_when_the_client_comes_over_https(make_client, settings, headers, secure):
    client = await make_client(**settings)
    form = await client.get("/admin/login", headers=headers)
    assert bool(form.cookies["bot_admin_login"]["secure"]) is secure
    csrf = form.cookies["bot_admin_login"].value  # sent by hand: a cookie jar keeps Secure cookies off http
    resp = await client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf": csrf},
                             headers=headers | {"Cookie": f"bot_admin_login={csrf}"}, allow_redirects=False)
    assert resp.status == 303 and bool(resp.cookies["bot_admin"]["secure"]) is secure


def test_a_malformed_proxy_setting_names_itself():
    with pytest.raises(ValueError, match="BOT_TRUSTED_PROXIES"):
        parse_networks("10.0.0.0/8, proxy.local")
    assert parse_networks(" 10.0.0.0/8 ; ::1") == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1"))
