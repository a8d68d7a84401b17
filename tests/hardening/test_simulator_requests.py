"""Issue 15 item 8: the simulator signs a message and posts it to this server's own bound address, not to
the `Host` the browser named (a forged Host made the server post a signed request to any address and
hand back the answer); and it takes only application/json (a cross-site form can send text/plain)."""
from __future__ import annotations

import json

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from tests.integrations.harness import make_services


async def _simulator(tmp_path, store) -> TestClient:
    services = make_services(tmp_path, store, simulator=True)
    client = TestClient(TestServer(create_app(services.settings, services, background=False), host="127.0.0.1"))
    await client.start_server()
    return client


async def test_a_forged_host_does_not_redirect_the_signed_message(tmp_path, sqlite_store):
    hits: list[str] = []

    async def trap(request: web.Request) -> web.Response:
        hits.append(request.path_qs)
        return web.Response(text="success")

    trap_app = web.Application()
    trap_app.router.add_route("*", "/{tail:.*}", trap)
    trap_server = TestServer(trap_app, host="127.0.0.1")
    await trap_server.start_server()
    client = await _simulator(tmp_path, sqlite_store)
    try:
        resp = await client.post("/simulator/send", json={"user": "o-sim-host", "text": "你好"},
                                 headers={"Host": f"127.0.0.1:{trap_server.port}"})
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["reply"]  # answered by this server's own webhook
        assert hits == []  # nothing signed went to the address in the Host header
    finally:
        await client.close()
        await trap_server.close()


async def test_only_json_is_accepted(tmp_path, sqlite_store):
    client = await _simulator(tmp_path, sqlite_store)
    try:
        body = json.dumps({"user": "o-sim-csrf", "text": "你好"})
        for content_type in ("text/plain", "application/x-www-form-urlencoded", ""):
            resp = await client.post("/simulator/send", data=body, headers={"Content-Type": content_type})
            assert resp.status == 415, content_type
        resp = await client.post("/simulator/send", data=body, headers={"Content-Type": "application/json"})
        assert resp.status == 200
    finally:
        await client.close()
