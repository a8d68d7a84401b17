"""This server's own address, for the requests it makes to itself (the simulator's signed message, the
simulated platform's payment callback)."""
from __future__ import annotations

from aiohttp import web


def own_origin(request: web.Request) -> str:
    """Where this server listens, taken from the socket the request came in on: never from the `Host`
    header (a forged Host would make the server post a signed request anywhere and return the answer),
    nor BOT_PUBLIC_URL (which may be a proxy in front of us)."""
    sock = request.transport.get_extra_info("sockname") if request.transport else None
    if not isinstance(sock, tuple):
        raise web.HTTPServiceUnavailable(text="no local address")
    host, port = sock[0], sock[1]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
