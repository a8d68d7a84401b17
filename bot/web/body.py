"""Reading a POST body whole, up to a limit.

`request.content.read(n)` returns what has arrived so far, not n bytes: a body split over two TCP
segments (usual for 安全模式 messages, and on real networks for any larger one) was cut short and
refused as bad XML or a forged payment notification. Every POST that reads its body by hand reads it
here, until the end of the body or one byte past the limit.
"""
from __future__ import annotations

from aiohttp import web


class BodyTooLarge(Exception):
    """The body is longer than the route's limit (answer 413)."""


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body; BodyTooLarge once more than `limit` bytes are announced or have arrived."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(limit + 1 - size)
        if not chunk:  # end of the body
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
