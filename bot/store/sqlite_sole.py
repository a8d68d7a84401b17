"""SQLite owned by one serving process: the turn's claim and lock in memory, commits grouped per loop tick.

`python -m bot serve` (one process) owns its SQLite file: it holds an exclusive lock on `<file>-writer`, so a
second `serve` on the same file, or `serve --workers N` (which holds it shared), is refused at start-up.
Then two things get cheaper:

- The in-flight claim and the guardian's lock that the message turn takes (`get_or_claim`,
  `acquire_lock_and_get`) live in this process's memory: the turn's first step is two reads, with no write
  and no COMMIT. Only a pipeline takes them and only this process runs one on the file; a kill -9 frees
  them at once (the session's recent message keys still stop a retry from being applied twice).
- Writes (`put_and_release`, the turn's commit of session, reply cache and the lock's release, and `put`,
  `put_all`) join the writes of the other coroutines of the same loop tick: one BEGIN … COMMIT for all of
  them (group commit), each in a savepoint of its own, so a VersionConflict or a lost lock refuses that
  write alone. Nobody is answered before the COMMIT that holds their write, so a reply is durable before
  it is sent. The write lock is held only while the batch runs, never across ticks: the CLI's processes
  (broadcasts, roster imports, staff commands) still write the same file in between.

Claims and locks taken with `claim` / `acquire_lock` (broadcast jobs, reminders, orders, sweeps) stay in
the file, shared with those processes. Every primitive checks both places, so within this process claims
and locks are one namespace, and the backend passes the same contract tests as the others.
"""
from __future__ import annotations

import asyncio
import contextlib
import secrets
import sqlite3
import time
from typing import Any, Callable

from bot.store.base import Claim, Fence, HeldLock, LockLost, LockRead, Record, StoreError, Write
from bot.store.sqlite import _BUSY_FIRST_WAIT, _BUSY_LONGEST_WAIT, _BUSY_TIMEOUT_MS, SQLiteStore, _busy

_MEMORY_PURGE_EVERY = 5.0  # seconds between sweeps of lapsed in-memory claims and locks

Work = Callable[[sqlite3.Connection, float], Any]


class SoleWriterSQLiteStore(SQLiteStore):
    """`SQLiteStore` for the one process that serves from the file (see the module docstring)."""

    def __init__(self, path: str) -> None:
        super().__init__(path, writer_lock="exclusive")
        self._claims: dict[str, float] = {}  # claim key → expiry (time.monotonic())
        self._locks: dict[str, tuple[str, float]] = {}  # lock name → (token, expiry)
        self._last_memory_purge = time.monotonic()
        self._pending: list[tuple[Work, asyncio.Future]] = []
        self._flush_scheduled = False
        self._busy_since: float | None = None  # another process held the write lock at the last attempt
        self._busy_wait = _BUSY_FIRST_WAIT

    # --- the turn's claim and lock, in memory -----------------------------------------------------

    def _claim_live(self, key: str, now: float) -> bool:
        expiry = self._claims.get(key)
        if expiry is not None and expiry <= now:
            del self._claims[key]
            return False
        return expiry is not None

    def _lock_holder(self, name: str, now: float) -> str | None:
        held = self._locks.get(name)
        if held is not None and held[1] <= now:
            del self._locks[name]
            return None
        return held[0] if held else None

    async def _in_file(self, table: str, column: str, name: str) -> bool:
        """A live claim or lock of that name taken in the file (by `claim` / `acquire_lock`)."""
        rows = await self._run(f"SELECT 1 FROM {table} WHERE {column} = ? AND expires_at > ?", (name, time.time()))
        return bool(rows)

    def _purge_memory(self, now: float) -> None:
        if now - self._last_memory_purge < _MEMORY_PURGE_EVERY:
            return
        self._last_memory_purge = now
        self._claims = {k: e for k, e in self._claims.items() if e > now}
        self._locks = {k: v for k, v in self._locks.items() if v[1] > now}

    async def get_or_claim(self, kind: str, key: str, claim_key: str, ttl: float,
                           lock: LockRead | None = None) -> Claim:
        asked_at = time.monotonic()
        record = await self.get(kind, key)
        if record is not None:
            return Claim(record, False)
        if await self._in_file("claims", "key", claim_key):
            return Claim(None, False)
        now = time.monotonic()  # from here to the claim nothing awaits: the check and the claim are one step
        self._purge_memory(now)
        if self._claim_live(claim_key, now):
            return Claim(None, False)
        self._claims[claim_key] = now + ttl
        if lock is None:
            return Claim(None, True)
        token, locked = await self.acquire_lock_and_get(lock.name, lock.ttl, lock.kind, lock.key)
        return Claim(None, True, HeldLock(token, locked, asked_at) if token else None)

    async def acquire_lock_and_get(self, name: str, ttl: float, kind: str, key: str) -> tuple[str | None, Record | None]:
        if await self._in_file("locks", "name", name):
            return None, None
        now = time.monotonic()
        if self._lock_holder(name, now) is not None:
            return None, None
        token = secrets.token_hex(16)
        self._locks[name] = (token, now + ttl)
        try:
            return token, await self.get(kind, key)
        except BaseException:
            self._locks.pop(name, None)
            raise

    async def claim(self, key: str, ttl: float) -> bool:
        if self._claim_live(key, time.monotonic()):
            return False
        return await super().claim(key, ttl)

    async def release_claim(self, key: str) -> None:
        if self._claims.pop(key, None) is None:
            await super().release_claim(key)

    async def renew_claim(self, key: str, ttl: float) -> bool:
        now = time.monotonic()
        if self._claim_live(key, now):
            self._claims[key] = now + ttl
            return True
        return await super().renew_claim(key, ttl)

    async def acquire_lock(self, name: str, ttl: float) -> str | None:
        if self._lock_holder(name, time.monotonic()) is not None:
            return None
        return await super().acquire_lock(name, ttl)

    def _drop_lock(self, name: str, token: str) -> bool:
        """Release the in-memory lock `name` if `token` still holds it (a lapsed one is dropped anyway)."""
        if self._lock_holder(name, time.monotonic()) == token:
            del self._locks[name]
            return True
        return False

    async def release_lock(self, name: str, token: str) -> bool:
        if name in self._locks:
            return self._drop_lock(name, token)
        return await super().release_lock(name, token)

    # --- writes, committed in groups ---------------------------------------------------------------

    async def put(self, kind: str, key: str, data: dict[str, Any], *, expected_version: int | None = None,
                  index: dict[str, str] | None = None, ttl: float | None = None) -> int:
        version = await self._grouped(lambda db, now: self._put_in(db, kind, key, data, expected_version, index, ttl, now))
        await self._maybe_purge(time.time())
        return version

    async def put_all(self, writes: list[Write]) -> None:
        await self._grouped(lambda db, now: self._write_all(db, writes, now))

    async def put_and_release(self, writes: list[Write], fence: Fence) -> None:
        in_memory = fence.lock_name in self._locks

        def commit_turn(db: sqlite3.Connection, now: float) -> None:
            # The fence check, inside the batch: the lock must still be the sender's as the write runs.
            if not in_memory:
                self._release_fenced_in(db, fence, now)
            elif self._lock_holder(fence.lock_name, time.monotonic()) != fence.token:
                raise LockLost(f"lock {fence.lock_name} is no longer held")
            self._write_all(db, writes, now)

        await self._grouped(commit_turn)
        if in_memory:  # released only once the COMMIT holds the writes
            self._drop_lock(fence.lock_name, fence.token)
        await self._maybe_purge(time.time())

    async def _grouped(self, work: Work) -> Any:
        """Run `work(db, now)` in the next group commit; its result (or exception) once committed."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((work, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        """One transaction for every write queued since the last flush (a loop callback: nothing else
        runs on the connection meanwhile)."""
        self._flush_scheduled = False
        if not self._pending:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._flush_later_or_fail(exc)
            return
        self._busy_since, self._busy_wait = None, _BUSY_FIRST_WAIT
        batch, self._pending = self._pending, []
        done: list[tuple[asyncio.Future, Any, BaseException | None]] = []
        now = time.time()
        try:
            for work, future in batch:
                if future.cancelled():  # its caller gave up before the batch ran: not written
                    continue
                self._db.execute("SAVEPOINT w")
                try:
                    result, error = work(self._db, now), None
                except Exception as exc:  # refuses this write alone
                    self._db.execute("ROLLBACK TO w")
                    result, error = None, exc
                self._db.execute("RELEASE w")
                done.append((future, result, error))
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            failure = StoreError(f"sqlite: {exc}")
            for _work, future in batch:
                if not future.done():
                    future.set_exception(failure)
            return
        for future, result, error in done:
            if future.done():
                continue
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(StoreError(f"sqlite: {error}") if isinstance(error, sqlite3.Error) else error)

    def _flush_later_or_fail(self, exc: sqlite3.Error) -> None:
        """BEGIN refused: another process (a CLI command) holds the write lock for a moment. Try again
        shortly, the queue growing meanwhile; past the busy timeout, or on any other error, fail the batch."""
        now = time.monotonic()
        self._busy_since = self._busy_since or now
        if _busy(exc) and now - self._busy_since < _BUSY_TIMEOUT_MS / 1000:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(self._busy_wait, self._flush)
            self._busy_wait = min(self._busy_wait * 2, _BUSY_LONGEST_WAIT)
            return
        self._busy_since, self._busy_wait = None, _BUSY_FIRST_WAIT
        batch, self._pending = self._pending, []
        for _work, future in batch:
            if not future.done():
                future.set_exception(StoreError(f"sqlite: {exc}"))

    async def close(self) -> None:
        if self._pending:
            self._flush()  # a write still queued is committed (or refused) before the file closes
        for _work, future in self._pending:  # still refused by another process's write lock
            if not future.done():
                future.set_exception(StoreError("sqlite: store closed"))
        self._pending = []
        await super().close()


__all__ = ["SoleWriterSQLiteStore"]
