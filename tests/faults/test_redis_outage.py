"""Redis trouble under load, with the server on our own redis-server (never the shared one):

- Redis killed and restarted: while it is down every message is answered 系统繁忙 (HTTP 200, well
  inside WeChat's 5 seconds) and /healthz says 503; once it is back the bot serves again by itself
  (reconnects, reloads its Lua scripts) and whole enrolments go through.
- Redis frozen (SIGSTOP) and thawed: the same busy answers, and afterwards every conversation in
  flight continues where it was and ends with exactly the data the guardian typed.
"""
from __future__ import annotations

import asyncio
import signal
import time

import pytest

from bench.guardian import Guardian, seed_store
from bot.pipeline import BUSY_TEXT
from tests.faults.conftest import Wire, assert_one_correct_application_each, server_for

pytestmark = [pytest.mark.slow, pytest.mark.redis]

WECHAT_PATIENCE = 5.0  # seconds WeChat waits for an answer


async def questions_while(wire: Wire, users: list[str], seconds: float) -> list[tuple[float, str]]:
    """Each user asks questions back to back for `seconds`; returns (seconds taken, reply) pairs."""
    answers: list[tuple[float, str]] = []
    deadline = time.monotonic() + seconds

    async def ask(user: str) -> None:
        send = wire.line(user, patience=0)
        while time.monotonic() < deadline:
            started = time.monotonic()
            reply = await send("少儿住院互助基金交多少钱？")
            answers.append((time.monotonic() - started, reply))

    await asyncio.gather(*(ask(u) for u in users))
    return answers


async def health(http, server) -> int:
    async with http.get(server.base_url + "/healthz") as resp:
        return resp.status


async def test_redis_restart_answers_busy_then_recovers(tmp_path, http, private_redis):
    await seed_store(private_redis.url, tmp_path, range(4))
    server = server_for(tmp_path, private_redis.url).start()
    try:
        wire = Wire(http, server.base_url)
        users = [f"o-outage-{i}" for i in range(6)]
        before = await questions_while(wire, users, 1.0)
        assert before and all(BUSY_TEXT not in reply for _, reply in before)

        private_redis.stop()
        during = await questions_while(wire, users, 2.5)
        assert during and all(reply == BUSY_TEXT for _, reply in during), {r for _, r in during}
        assert max(took for took, _ in during) < WECHAT_PATIENCE
        assert await health(http, server) == 503

        private_redis.start()  # same port, empty: no persistence
        deadline = time.monotonic() + 15
        while await wire.line(users[0], patience=0)("你好") == BUSY_TEXT:
            assert time.monotonic() < deadline, "the bot did not recover after Redis came back"
            await asyncio.sleep(0.2)
        assert await health(http, server) == 200
        # Whole enrolments go through on the restarted Redis (its roster was lost with the data).
        await seed_store(private_redis.url, tmp_path, range(4))
        guardians = [Guardian(n) for n in range(4)]
        results = await asyncio.wait_for(asyncio.gather(*(g.enroll(wire.line(g.user_id)) for g in guardians)), 90)
        assert set(wire.statuses) == {200}
    finally:
        server.stop()
    await assert_one_correct_application_each(private_redis.url, tmp_path, guardians, results)


async def test_frozen_redis_then_conversations_continue_intact(tmp_path, http, private_redis):
    guardians = [Guardian(n, busy_retry=0.3, busy_patience=100) for n in range(6)]
    await seed_store(private_redis.url, tmp_path, range(len(guardians)))
    server = server_for(tmp_path, private_redis.url).start()
    try:
        wire = Wire(http, server.base_url)

        async def freeze_midway() -> None:
            while wire.answered < 30:
                await asyncio.sleep(0.005)
            private_redis.proc.send_signal(signal.SIGSTOP)
            await asyncio.sleep(2.5)
            private_redis.proc.send_signal(signal.SIGCONT)

        chaos = asyncio.create_task(freeze_midway())
        results = await asyncio.wait_for(asyncio.gather(*(g.enroll(wire.line(g.user_id)) for g in guardians)), 120)
        await chaos
        assert sum(r.busy_replies for r in results) > 0  # the freeze was felt …
        assert set(wire.statuses) == {200}  # … as 系统繁忙 answers, never as HTTP errors
    finally:
        server.stop()
    await assert_one_correct_application_each(private_redis.url, tmp_path, guardians, results)
