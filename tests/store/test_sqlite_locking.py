"""Another process holding the SQLite write lock: the store waits for it without stalling its event loop."""
from __future__ import annotations

import asyncio
import sqlite3

import pytest

from bot.store import sqlite as sqlite_store
from bot.store.base import StoreError
from bot.store.sqlite import SQLiteStore


@pytest.fixture
async def store_and_rival(tmp_path):
    path = tmp_path / "bot.db"
    store = SQLiteStore(str(path))
    rival = sqlite3.connect(path, isolation_level=None)  # stands for a second worker process
    yield store, rival
    rival.close()
    await store.close()


async def test_writes_wait_for_the_lock_while_the_loop_serves_others(store_and_rival):
    store, rival = store_and_rival
    await store.put("thing", "a", {"n": 0})
    rival.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def other_guardians() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    serving = asyncio.ensure_future(other_guardians())
    writes = asyncio.gather(store.put("thing", "a", {"n": 1}, expected_version=1), store.claim("c", 30),
                            store.incr("hits"), store.acquire_lock("user:u", 30))
    await asyncio.sleep(0.2)
    assert not writes.done()  # still waiting for the rival's transaction
    assert (await store.get("thing", "a")).data == {"n": 0}  # reads never wait (WAL)
    seen = ticks
    rival.execute("COMMIT")
    version, claimed, hits, token = await writes
    serving.cancel()
    assert (version, claimed, hits) == (2, True, 1) and token
    # With SQLite's own busy handler the loop slept inside the first write and ticked not at all.
    assert seen >= 3


async def test_a_lock_held_too_long_is_a_store_error(store_and_rival, monkeypatch):
    store, rival = store_and_rival
    monkeypatch.setattr(sqlite_store, "_BUSY_TIMEOUT_MS", 150)
    rival.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError):
            await store.put("thing", "a", {"n": 1})
        with pytest.raises(StoreError):
            await store.claim("c", 30)
    finally:
        rival.execute("ROLLBACK")
    assert await store.put("thing", "a", {"n": 1}) == 1  # free again
