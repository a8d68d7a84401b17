"""`python -m bot serve --workers 2`: two worker processes on one socket and one store. Whole
enrolments go through whichever worker gets each message; a worker killed with -9 is replaced while
the other keeps answering; SIGTERM to the parent stops them all."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

import pytest

from bench.guardian import Guardian, seed_store
from tests.faults.conftest import Wire, assert_one_correct_application_each, server_for

pytestmark = pytest.mark.slow


def workers_of(pid: int) -> set[int]:
    out = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid="], capture_output=True, text=True).stdout
    return {int(line) for line in out.split()}


async def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def test_two_workers_share_the_conversations_and_survive_a_killed_worker(backend, tmp_path, http, request):
    store_url = (request.getfixturevalue("private_redis").url if backend == "redis"
                 else f"sqlite:///{tmp_path / 'bot.db'}")
    await seed_store(store_url, tmp_path, range(6))
    server = server_for(tmp_path, store_url, "--workers", "2").start()
    guardians = [Guardian(n) for n in range(6)]
    try:
        await wait_for(lambda: len(workers_of(server.proc.pid)) == 2)
        first = workers_of(server.proc.pid)
        wire = Wire(http, server.base_url)

        async def kill_one_worker() -> int:
            await wait_for(lambda: wire.answered >= 30)
            victim = min(first)
            os.kill(victim, signal.SIGKILL)
            return victim

        chaos = asyncio.create_task(kill_one_worker())
        results = await asyncio.wait_for(asyncio.gather(*(g.enroll(wire.line(g.user_id)) for g in guardians)), 120)
        victim = await chaos
        # Replaced: the killed worker reaped (until then it is still listed, a zombie) and a new one running.
        await wait_for(lambda: victim not in workers_of(server.proc.pid) and len(workers_of(server.proc.pid)) == 2)
        assert set(wire.statuses) == {200}
    finally:
        parent = server.proc.pid
        server.stop()  # SIGTERM to the parent
    assert server.proc.returncode == 0 and not workers_of(parent)
    await assert_one_correct_application_each(store_url, tmp_path, guardians, results)


def test_a_broken_configuration_stops_the_workers_instead_of_restarting_them(tmp_path):
    server = server_for(tmp_path, f"sqlite:///{tmp_path / 'bot.db'}", "--workers", "2")
    server.env["BOT_POLICIES_DIR"] = str(tmp_path / "no-policies-here")
    with pytest.raises(RuntimeError, match="exited with 1"):
        server.start(timeout=60)
    assert "停止全部进程" in server.log()


def test_secrets_made_up_at_start_are_shared_by_every_worker():
    from bot.config import Settings
    from bot.workers import share_process_secrets

    made = share_process_secrets(Settings.from_env({}))
    assert made["WECHAT_TOKEN"] and made["BOT_ADMIN_TOKEN"] and made["BOT_SIMULATOR"] == "1"
    worker = Settings.from_env(made)  # what a forked worker reads
    assert (worker.wechat_token, worker.admin_token, worker.simulator) == (
        made["WECHAT_TOKEN"], made["BOT_ADMIN_TOKEN"], True)
    configured = Settings.from_env({"WECHAT_TOKEN": "real", "BOT_ADMIN_TOKEN": "set"})
    assert share_process_secrets(configured) == {}  # nothing to share: the environment has it


def test_a_second_server_on_one_sqlite_file_is_refused_and_the_first_goes_on(tmp_path):
    """`serve` owns its SQLite file (bot.store.sqlite_sole): another `serve`, or `serve --workers`, on the
    same file would keep claims and locks the first cannot see — it is refused with a clear message."""
    store_url = f"sqlite:///{tmp_path / 'bot.db'}"
    first = server_for(tmp_path, store_url).start()
    try:
        for extra in ((), ("--workers", "2")):
            second = server_for(tmp_path, store_url, *extra)
            with pytest.raises(RuntimeError, match="exited"):
                second.start(timeout=60)
            assert "正由另一个 serve 进程使用" in second.log() and "redis://" in second.log()
        assert first.proc.poll() is None
    finally:
        first.stop()
    again = server_for(tmp_path, store_url).start()  # the lock went with the first process
    again.stop()
