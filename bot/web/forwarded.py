"""Who is really asking, and over which scheme, when an HTTPS proxy stands in front of the server.

X-Forwarded-For and X-Forwarded-Proto are believed only when the connection comes from a proxy listed
in BOT_TRUSTED_PROXIES; anyone else could write them to dodge the admin login throttle.
"""
from __future__ import annotations

import ipaddress
from typing import Iterable

from aiohttp import web

Networks = Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]


def _trusted(address: str, proxies: Networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(request: web.Request, proxies: Networks) -> str:
    """The client's address: the peer, or — through trusted proxies — the nearest address in
    X-Forwarded-For that is not itself a trusted proxy (entries further left are the client's to forge)."""
    proxies = tuple(proxies)
    peer = request.remote or "?"
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [hop.strip() for hop in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop[:64]
    return hops[0][:64] if hops else peer


def is_https(request: web.Request, proxies: Networks, public_url: str = "") -> bool:
    """HTTPS to the client: our own TLS, a trusted proxy's X-Forwarded-Proto, or an https public URL
    (then every link, and so every staff member, comes in over HTTPS)."""
    if request.secure or public_url.lower().startswith("https://"):
        return True
    proxies = tuple(proxies)
    if proxies and _trusted(request.remote or "", proxies):
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        return proto == "https"
    return False
