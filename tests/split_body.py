"""A raw-socket HTTP POST whose body is sent in pieces with a pause between them, as a real network
splits a body over several TCP segments (aiohttp's client always sends it in one write)."""
from __future__ import annotations

import asyncio
from urllib.parse import urlencode


async def post_in_pieces(host: str, port: int, path: str, params: dict[str, str], body: bytes, *,
                         pieces: int = 3, pause: float = 0.05, content_type: str = "text/xml") -> tuple[int, bytes]:
    """(status, response body) of a POST whose body is written in `pieces` parts, `pause` s apart."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        query = f"?{urlencode(params)}" if params else ""
        writer.write((f"POST {path}{query} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
                      f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode("ascii"))
        await writer.drain()
        step = max(1, -(-len(body) // pieces))
        for start in range(0, len(body), step):
            await asyncio.sleep(pause)
            writer.write(body[start:start + step])
            await writer.drain()
        response = await asyncio.wait_for(reader.read(), 15)
    finally:
        writer.close()
    head, _, payload = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), payload
