"""A minimal keep-alive HTTP/1.1 client for the load generator.

aiohttp's client costs about as much CPU per request as the baseline server spends answering it,
so with it the generator, not the server, was the bottleneck on 2 cores. This one writes the request
bytes itself and reads a Content-Length (or chunked) body: roughly a fifth of the client CPU.
Loopback only; one connection per worker and server, reopened after any error.
"""
from __future__ import annotations

import asyncio
from urllib.parse import urlencode, urlsplit


class RawConnection:
    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, params: dict[str, str], body: bytes, timeout: float = 15.0) -> tuple[int, bytes]:
        try:
            return await asyncio.wait_for(self._post(path, params, body), timeout)
        except BaseException:
            self.close()  # never reuse a connection in an unknown state
            raise

    async def _post(self, path: str, params: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (f"POST {path}?{urlencode(params)} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n")
        self.writer.write(head.encode("ascii") + body)
        status_line, _, header_block = (await self.reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
        status = int(status_line.split()[1])
        headers = {}
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if b"content-length" in headers:
            payload = await self.reader.readexactly(int(headers[b"content-length"]))
        else:
            payload = await self._chunked()
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, payload

    async def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None
