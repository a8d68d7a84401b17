"""The SQLite file one `serve` process owns (bot.store.sqlite_sole): one owner per file, the turn's claim and
lock in memory, and the writes of one loop tick committed together — each still refused on its own."""
from __future__ import annotations

import asyncio
import sqlite3

import pytest

from bot.store.base import Fence, LockLost, LockRead, Record, StoreError, VersionConflict, Write
from bot.store.sqlite import SQLiteStore, WriterLockHeld
from bot.store.sqlite_sole import SoleWriterSQLiteStore


@pytest.fixture
async def sole(tmp_path):
    store = SoleWriterSQLiteStore(str(tmp_path / "bot.db"))
    yield store
    await store.close()


def count_commits(store: SoleWriterSQLiteStore) -> list[str]:
    statements: list[str] = []
    store._db.set_trace_callback(lambda sql: statements.append(sql) if sql.startswith(("COMMIT", "BEGIN")) else None)
    return statements


async def test_one_serving_process_per_file(tmp_path):
    path = str(tmp_path / "bot.db")
    first = SoleWriterSQLiteStore(path)
    with pytest.raises(WriterLockHeld, match="Redis"):
        SoleWriterSQLiteStore(path)
    with pytest.raises(WriterLockHeld):
        SQLiteStore(path, writer_lock="shared")  # `serve --workers` beside it
    cli = SQLiteStore(path)  # a CLI command (broadcast, roster import) still opens the file
    await cli.put("thing", "a", {"n": 1})
    await first.close()  # a kill -9 closes the descriptor too: the next `serve` starts at once
    workers = [SQLiteStore(path, writer_lock="shared") for _ in range(2)]
    with pytest.raises(WriterLockHeld):
        SoleWriterSQLiteStore(path)
    for store in workers + [cli]:
        await store.close()
    again = SoleWriterSQLiteStore(path)
    assert (await again.get("thing", "a")).data == {"n": 1}
    await again.close()


async def test_the_turns_first_step_writes_nothing(sole):
    statements = count_commits(sole)
    await sole.put("session", "u", {"step": 1})
    statements.clear()
    claim = await sole.get_or_claim("reply", "m1", "inflight:m1", 3, lock=LockRead("user:u", 15, "session", "u"))
    assert claim.claimed and claim.held.record == Record({"step": 1}, 1)
    assert statements == []  # no transaction: the claim and the lock are in memory
    # …and still exclusive, with every primitive of the protocol.
    assert await sole.claim("inflight:m1", 30) is False
    assert await sole.acquire_lock("user:u", 30) is None
    assert (await sole.get_or_claim("reply", "m1", "inflight:m1", 3)).claimed is False
    assert await sole.renew_claim("inflight:m1", 3) is True


async def test_a_claim_or_lock_taken_in_the_file_is_respected(sole, tmp_path):
    cli = SQLiteStore(str(tmp_path / "bot.db"))  # another process's claim and lock
    assert await cli.claim("inflight:x", 30) and await cli.acquire_lock("user:x", 30)
    assert (await sole.get_or_claim("reply", "x", "inflight:x", 3)).claimed is False
    assert await sole.acquire_lock_and_get("user:x", 15, "session", "x") == (None, None)
    await cli.close()


async def test_writes_of_one_tick_share_one_commit_and_fail_alone(sole):
    statements = count_commits(sole)
    holds = []
    for n in range(5):
        claim = await sole.get_or_claim("reply", f"m{n}", f"inflight:m{n}", 3,
                                        lock=LockRead(f"user:{n}", 15, "session", str(n)))
        holds.append(claim.held)
    await sole.put("session", "2", {"step": "written elsewhere"})
    statements.clear()
    turns = [sole.put_and_release([Write("session", str(n), {"step": n}, expected_version=0),
                                   Write("reply", f"m{n}", {"text": f"答{n}"}, ttl=60)],
                                  held.fence(f"user:{n}", 15)) for n, held in enumerate(holds)]
    turns.append(sole.put_and_release([Write("thing", "x", {})], Fence("user:0", "not-the-owner", 15)))
    results = await asyncio.gather(*turns, return_exceptions=True)
    assert statements == ["BEGIN IMMEDIATE", "COMMIT"]
    assert [type(r).__name__ for r in results] == ["NoneType", "NoneType", "VersionConflict", "NoneType",
                                                   "NoneType", "LockLost"]
    assert isinstance(results[2], VersionConflict) and isinstance(results[5], LockLost)
    for n in (0, 1, 3, 4):
        assert await sole.get("session", str(n)) == Record({"step": n}, 1)
        assert await sole.acquire_lock(f"user:{n}", 1) is not None  # released with the commit
    # The refused turn wrote nothing and kept its lock, to redo the turn under it.
    assert await sole.get("reply", "m2") is None and await sole.get("thing", "x") is None
    assert await sole.acquire_lock("user:2", 1) is None


async def test_a_write_is_in_the_file_before_its_caller_goes_on(sole, tmp_path):
    other = sqlite3.connect(str(tmp_path / "bot.db"))
    claim = await sole.get_or_claim("reply", "m", "inflight:m", 3, lock=LockRead("user:u", 15, "session", "u"))
    await sole.put_and_release([Write("reply", "m", {"text": "答"}, ttl=60)], claim.held.fence("user:u", 15))
    assert other.execute("SELECT data FROM records WHERE kind = 'reply' AND key = 'm'").fetchone() == ('{"text":"答"}',)
    other.close()


async def test_writes_wait_while_another_process_writes(sole, tmp_path):
    cli = sqlite3.connect(str(tmp_path / "bot.db"), isolation_level=None)
    cli.execute("BEGIN IMMEDIATE")
    write = asyncio.ensure_future(sole.put("thing", "a", {"n": 1}))
    await asyncio.sleep(0.1)
    assert not write.done()  # queued while the other process holds the write lock; the loop runs on
    cli.execute("COMMIT")
    assert await asyncio.wait_for(write, 3) == 1
    cli.close()


async def test_a_failed_commit_fails_every_write_of_the_batch(sole, monkeypatch):
    real = sole._db

    class RefusingCommit:
        def __getattr__(self, name):
            return getattr(real, name)

        def execute(self, sql, *args):
            if sql == "COMMIT":
                raise sqlite3.OperationalError("disk I/O error")
            return real.execute(sql, *args)

    monkeypatch.setattr(sole, "_db", RefusingCommit())
    results = await asyncio.gather(sole.put("thing", "a", {}), sole.put("thing", "b", {}), return_exceptions=True)
    assert all(isinstance(r, StoreError) for r in results)
    monkeypatch.setattr(sole, "_db", real)
    assert await sole.get("thing", "a") is None and await sole.get("thing", "b") is None
    assert await sole.put("thing", "a", {}) == 1  # the store goes on
