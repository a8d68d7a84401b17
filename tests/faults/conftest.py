"""Fault-injection helpers: the real server as a subprocess (`python -m bot serve`), our own
throw-away redis-server, and guardians that talk to the server the way WeChat delivers messages.

WeChat re-sends a message with the same MsgId when it gets no answer; `Wire.line(...)` does the same
while the server is down (until `patience` runs out), so a conversation crossing a crash carries on
as it would for a real guardian.
"""
from __future__ import annotations

import asyncio
import itertools
import re
import time
from pathlib import Path

import aiohttp
import pytest

from bench.common import RedisServer, bot_env, post_text
from bench.guardian import Guardian, bench_services
from tests.server_process import ServerProcess

_msg_ids = itertools.count(int(time.time() * 1000) * 1000)


class Wire:
    """Signed text messages to one server; counts what was answered (for timing a fault)."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http, self.base_url = http, base_url
        self.answered = 0
        self.resent = 0  # deliveries repeated because the server did not answer
        self.statuses: list[int] = []

    def line(self, user: str, patience: float = 45.0):
        """send(text) for one guardian: a new MsgId per message, the same one on every re-delivery."""
        async def send(text: str) -> str:
            msg_id = next(_msg_ids)
            deadline = time.monotonic() + patience
            while True:
                try:
                    status, reply = await post_text(self.http, self.base_url, user, text, msg_id)
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    if time.monotonic() > deadline:
                        raise
                    self.resent += 1
                    await asyncio.sleep(0.1)
                    continue
                self.statuses.append(status)
                assert status == 200, f"HTTP {status}: {reply}"
                self.answered += 1
                return reply
        return send


def server_for(data_dir: Path, store_url: str, *args: str, records_url: str = "") -> ServerProcess:
    # Our throw-away redis-server has no persistence on purpose (a restart empties it).
    extra = {"BOT_ALLOW_VOLATILE_REDIS": "1"} | ({"BOT_RECORDS": records_url} if records_url else {})
    return ServerProcess(data_dir, env=bot_env(data_dir, store_url, **extra), args=args)


@pytest.fixture
def private_redis(tmp_path):
    if not RedisServer.available():
        pytest.skip("needs the redis-server binary")
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def assert_one_correct_application_each(store_url: str, data_dir: Path, guardians: list[Guardian],
                                              results, records_url: str = "") -> None:
    """Every guardian finished, with exactly one application holding exactly what they typed."""
    services = bench_services(store_url, data_dir, records_url)
    try:
        for guardian, result in zip(guardians, results):
            assert result.completed, _transcript(result, 40)
            apps = await services.applications.for_user(guardian.user_id)
            assert len(apps) == 1, f"{guardian.user_id}: {len(apps)} applications"
            [app] = apps
            assert app["id"] == result.application_ref or not result.application_ref  # "" = submitted late
            assert app["child"]["id_number"] == guardian.child_id
            assert app["child"]["name"] == guardian.child_name, _transcript(result, 40)
            assert app["guardian"] == {"name": guardian.guardian_name, "phone": guardian.phone}
    finally:
        await services.store.close()


def _transcript(result, last: int = 8) -> str:
    lines = [f">> {q}\n{re.sub(r'<[^>]+>', '', a)[:200]}" for q, a in result.transcript[-last:]]
    return "conversation did not finish:\n" + "\n".join(lines)
