"""kill -9 of the server in the middle of many enrolments, then a restart: no application is lost or
duplicated and every conversation carries on from where it was (the guardians' messages are
re-delivered with the same MsgId, as WeChat does when it gets no answer)."""
from __future__ import annotations

import asyncio

import pytest

from bench.guardian import Guardian, seed_store
from tests.faults.conftest import Wire, assert_one_correct_application_each, server_for

pytestmark = pytest.mark.slow

GUARDIANS = 10
# Answered messages (of ~170) after which the server is killed; twice on SQLite, once on Redis
# (each restart costs a few seconds of start-up).
KILL_AFTER = {"sqlite": (35, 100), "redis": (60,)}


async def crash_and_restart(server, wire: Wire, thresholds: tuple[int, ...]) -> int:
    kills = 0
    for threshold in thresholds:
        while wire.answered < threshold:
            await asyncio.sleep(0.005)
        server.kill()
        kills += 1
        await asyncio.to_thread(server.start)
    return kills


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def test_kill_9_under_load_loses_and_duplicates_nothing(backend, tmp_path, http, request):
    store_url = (request.getfixturevalue("private_redis").url if backend == "redis"
                 else f"sqlite:///{tmp_path / 'bot.db'}")
    await seed_store(store_url, tmp_path, range(GUARDIANS))
    server = server_for(tmp_path, store_url).start()
    guardians = [Guardian(n, max_turns=60) for n in range(GUARDIANS)]
    try:
        wire = Wire(http, server.base_url)
        chaos = asyncio.create_task(crash_and_restart(server, wire, KILL_AFTER[backend]))
        results = await asyncio.wait_for(asyncio.gather(*(g.enroll(wire.line(g.user_id)) for g in guardians)), 150)
        assert await asyncio.wait_for(chaos, 30) == len(KILL_AFTER[backend])
        assert wire.resent > 0  # the kills did interrupt deliveries
    finally:
        server.stop()
    await assert_one_correct_application_each(store_url, tmp_path, guardians, results)


async def test_conversation_cut_by_a_crash_resumes_after_restart(tmp_path, http):
    """A guardian who gave up during the outage comes back later and picks up where they were."""
    store_url = f"sqlite:///{tmp_path / 'bot.db'}"
    await seed_store(store_url, tmp_path, range(1))
    server = server_for(tmp_path, store_url).start()
    guardian = Guardian(0, max_turns=7)
    try:
        wire = Wire(http, server.base_url)
        first = await guardian.enroll(wire.line(guardian.user_id))
        assert not first.completed and first.stuck  # stopped mid-form, as if the phone went away
        server.kill()
        server.start()
        guardian.max_turns = 40
        resumed = await guardian.resume(wire.line(guardian.user_id))
        assert "正在填写" in resumed.transcript[0][1]
    finally:
        server.stop()
    await assert_one_correct_application_each(store_url, tmp_path, [guardian], [resumed])
