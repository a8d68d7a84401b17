"""Backend-specific failure behaviour: several processes on one SQLite file, a Redis that dies and
comes back, a Redis that accepts connections but never answers."""
from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.store.base import Fence, Record, StoreError, Write
from bot.store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]

_WORKER = """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from bot.store.sqlite import SQLiteStore

async def main():
    store = SQLiteStore(sys.argv[2])
    wins = 0
    for n in range(40):
        await store.incr("shared")
        wins += await store.claim(f"msg:{n}", ttl=60)
        rec = await store.get("doc", "d")
        try:
            await store.put("doc", "d", {"n": n}, expected_version=rec.version if rec else 0)
        except Exception:
            pass
    print(wins)
    await store.close()

asyncio.run(main())
"""


async def test_sqlite_processes_share_one_file(tmp_path):
    path = str(tmp_path / "shared.db")
    workers = [subprocess.Popen([sys.executable, "-c", _WORKER, str(ROOT), path], stdout=subprocess.PIPE, text=True)
               for _ in range(3)]
    outputs = [w.communicate(timeout=60)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers)
    store = SQLiteStore(path)
    assert await store.incr("shared", 0) == 120  # no increment lost
    assert sum(int(out) for out in outputs) == 40  # every claim won exactly once across processes
    assert (await store.get("doc", "d")).version >= 40 / 3
    await store.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_redis(port: int, workdir: Path) -> subprocess.Popen:
    server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                               "--dir", str(workdir)], stdout=subprocess.DEVNULL)
    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return server
        time.sleep(0.02)
    server.kill()
    pytest.fail("redis-server did not start")


@pytest.mark.redis
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
async def test_redis_store_recovers_after_restart(tmp_path):
    from bot.store.redis import RedisStore

    port = _free_port()
    server = _start_redis(port, tmp_path)
    store = RedisStore.from_url(f"redis://127.0.0.1:{port}/0", prefix="t:")
    try:
        assert await store.put("k", "a", {"v": 1}, index={"f": "1"}) == 1
        server.kill()
        server.wait()
        with pytest.raises(StoreError):
            await asyncio.wait_for(store.get("k", "a"), timeout=20)
        with pytest.raises(StoreError):
            await asyncio.wait_for(store.put("k", "a", {}), timeout=20)
        server = _start_redis(port, tmp_path)  # empty: data and the Lua script cache are gone
        await store.ping()
        assert await store.put("k", "b", {"v": 2}, index={"f": "1"}) == 1
        assert [k for k, _ in await store.query("k", f="1")] == ["b"]
        assert await store.acquire_lock("l", 5) is not None
    finally:
        await store.close()
        server.kill()
        server.wait()


@pytest.mark.redis
async def test_redis_that_never_answers_times_out():
    from bot.store.redis import RedisStore

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        store = RedisStore.from_url(f"redis://127.0.0.1:{silent.getsockname()[1]}/0", prefix="t:")
        with pytest.raises(StoreError):
            await asyncio.wait_for(store.get("k", "a"), timeout=20)  # a hang guard only
        await store.close()


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
async def test_fenced_write_sent_to_a_frozen_redis_is_refused_when_it_thaws(tmp_path):
    """A frozen Redis (SIGSTOP: a long fork, a swapped-out host) keeps the commands it was sent and runs
    them when it thaws, long after the sender timed out and answered 系统繁忙. A session save that lands
    then would move the conversation on behind the guardian's back (seen in CI: the retyped school
    keyword became the guardian's name). A fenced save is refused instead; an unfenced write shows the
    hazard is real."""
    from bench.common import RedisServer
    from bot.store.redis import RedisStore

    server = RedisServer(tmp_path).start()
    # Two clients, each with a connection already open: a new connection would stall in its handshake
    # and never send the write at all.
    store, other = (RedisStore.from_url(server.url, prefix="t:") for _ in range(2))
    try:
        token = await store.acquire_lock("user:u", ttl=15)
        locked_at = time.monotonic()

        def fence() -> Fence:
            return Fence("user:u", token, 15 - (time.monotonic() - locked_at))

        assert await store.put("session", "u", {"step": 1}) == 1
        assert await other.get("unfenced", "u") is None
        server.proc.send_signal(signal.SIGSTOP)
        try:
            outcomes = await asyncio.gather(
                store.put_and_release([Write("session", "u", {"step": 2}, expected_version=1)], fence()),
                other.put("unfenced", "u", {"step": 2}), return_exceptions=True)
            assert all(isinstance(outcome, StoreError) for outcome in outcomes), outcomes
        finally:
            server.proc.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 10
        while await store.get("unfenced", "u") is None:  # the queued commands run once Redis thaws
            assert time.monotonic() < deadline, "the unfenced write never landed: the test shows nothing"
            await asyncio.sleep(0.05)
        assert await store.get("session", "u") == Record({"step": 1}, 1)
        assert await store.acquire_lock("user:u", ttl=15) is None  # the refused commit released nothing
        await store.put_and_release([Write("session", "u", {"step": 2}, expected_version=1)], fence())
        assert await store.get("session", "u") == Record({"step": 2}, 2)
    finally:
        await store.close()
        await other.close()
        server.stop()
