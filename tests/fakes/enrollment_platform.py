"""A local stand-in for a remote enrolment (pre-review) platform, over real HTTP.

Submissions are accepted as "pending"; the test decides later with `decide`, which posts the signed
callback to the bot, or the bot polls `GET /applications/{reference}`.
"""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

import aiohttp
from aiohttp import web

from integrations.enrollment.http_backend import signature
from tests.fakes.server import serving


@dataclass
class FakeEnrollmentPlatform:
    secret: bytes = b"fake-enrollment-shared-secret"
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)  # reference -> submission + decision
    refused: int = 0
    base_url: str = ""

    async def decide(self, reference: str, status: str, reason: str = "") -> int:
        """Record the decision and call the bot back; returns the callback's HTTP status."""
        case = self.cases[reference]
        case.update(status=status, reason=reason)
        body = json.dumps({"application_id": case["id"], "status": status, "reason": reason,
                           "reference": reference}, ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-Timestamp": timestamp,
                   "X-Signature": signature(self.secret, timestamp, body)}
        async with aiohttp.ClientSession() as http:
            async with http.post(case["callback_url"], data=body, headers=headers) as resp:
                return resp.status

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/applications", self._submit)
        app.router.add_get("/applications/{reference}", self._poll)
        return app

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, **options: Any) -> AsyncIterator["FakeEnrollmentPlatform"]:
        fake = cls(**options)
        async with serving(fake.make_app()) as fake.base_url:
            yield fake

    def _signed(self, request: web.Request, body: bytes) -> bool:
        timestamp = request.headers.get("X-Timestamp", "")
        return signature(self.secret, timestamp, body) == request.headers.get("X-Signature")

    async def _submit(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self._signed(request, body):
            self.refused += 1
            return web.json_response({"error": "bad signature"}, status=403)
        data = json.loads(body)
        reference = f"R{len(self.cases) + 1:06d}"
        self.cases[reference] = {**data, "status": "pending", "reason": ""}
        return web.json_response({"status": "pending", "reference": reference})

    async def _poll(self, request: web.Request) -> web.Response:
        if not self._signed(request, b""):
            return web.json_response({"error": "bad signature"}, status=403)
        case = self.cases.get(request.match_info["reference"])
        if case is None:
            return web.json_response({"error": "unknown"}, status=404)
        return web.json_response({"status": case["status"], "reason": case["reason"],
                                  "reference": request.match_info["reference"]})
