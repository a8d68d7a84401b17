"""SQLite backend: the embedded default store (one machine, survives restarts).

The stdlib `sqlite3` is called synchronously inside the async methods: every statement takes
microseconds, so hopping to a thread would cost more than it saves. One connection per store;
several processes may open the same file (WAL mode, BEGIN IMMEDIATE for writes). When another process
holds the write lock, the store waits with `asyncio.sleep` and tries again (`_retry_busy`) instead of
letting SQLite's busy handler sleep: that sleep (1 ms, then longer) would stall the whole event loop —
every guardian this worker serves — for a lock held a few dozen microseconds.

Expiry uses wall-clock time (`time.time()`), shared by all processes; expired rows are invisible at
once and purged lazily.

WAL checkpoints (copying the log back into the database file, with an fsync) run on a thread of their
own (`_Checkpointer`): done by the committing statement, as SQLite does by default, one commit in a
few hundred stalled the event loop — and every guardian waiting on it — for several milliseconds.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import secrets
import sqlite3
import threading
import time
import weakref
from pathlib import Path
from typing import Any, AsyncIterator, Callable, TypeVar

from bot.store import codec
from bot.store.base import Claim, ExportedRecord, Fence, HeldLock, LockLost, LockRead, Record, StoreError, VersionConflict, Write

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, version INTEGER NOT NULL,
    expires_at REAL, PRIMARY KEY (kind, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS record_index (
    kind TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, key TEXT NOT NULL,
    PRIMARY KEY (kind, field, value, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS record_index_by_key ON record_index (kind, key);
CREATE INDEX IF NOT EXISTS records_by_expiry ON records (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, expires_at REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, token TEXT NOT NULL, expires_at REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL, expires_at REAL) WITHOUT ROWID;
"""

_LIVE = "(r.expires_at IS NULL OR r.expires_at > ?)"
_PURGE_EVERY = 60.0  # seconds between lazy purges of expired rows
_BUSY_TIMEOUT_MS = 3000  # another process holding the write lock; transactions are short
_BUSY_FIRST_WAIT = 0.0002  # seconds before the first retry of a locked database; doubled up to …
_BUSY_LONGEST_WAIT = 0.005
_CHECKPOINT_EVERY = 0.25  # seconds between the checkpoint thread's passes
# Pages the log may hold before a commit checkpoints it itself, as a backstop should the thread fall
# behind (SQLite's default is 1 000; at ~8 pages per message the thread keeps it far below this).
_COMMIT_CHECKPOINT_PAGES = 20_000


def _expiry(ttl: float | None, now: float) -> float | None:
    return None if ttl is None else now + max(ttl, 0.001)


T = TypeVar("T")


def _busy(exc: sqlite3.Error) -> bool:
    """Another connection holds the lock this statement needs (SQLITE_BUSY or SQLITE_LOCKED). Errors the
    sqlite3 module raises itself (a closed connection…) carry no SQLite error code."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


async def _retry_busy(attempt: Callable[[], T]) -> T:
    """`attempt()`, tried again while the database is locked by another process, yielding to the event
    loop in between; StoreError after _BUSY_TIMEOUT_MS or on any other sqlite error."""
    deadline, wait = time.monotonic() + _BUSY_TIMEOUT_MS / 1000, _BUSY_FIRST_WAIT
    while True:
        try:
            return attempt()
        except sqlite3.Error as exc:
            if not _busy(exc) or time.monotonic() >= deadline:
                raise StoreError(f"sqlite: {exc}") from exc
        await asyncio.sleep(wait)
        wait = min(wait * 2, _BUSY_LONGEST_WAIT)


def _owner_only(path: str) -> None:
    """Create the database file readable by its owner only (0600), and make an older one so. SQLite
    creates the WAL and SHM files with the database file's mode, so they follow."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for name in (path, path + "-wal", path + "-shm"):
        with contextlib.suppress(FileNotFoundError):
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)


class WriterLockHeld(StoreError):
    """Another process serves from this SQLite file."""


def _hold_writer_lock(path: str, mode: str) -> int | None:
    """Lock `<path>-writer`: "exclusive" for the one process serving from the file (bot.store.sqlite_sole),
    "shared" for each of `serve --workers N`; the descriptor holding it (closing it releases the lock)."""
    if not mode or path == ":memory:":
        return None
    fd = os.open(path + "-writer", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if mode == "exclusive" else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise WriterLockHeld(
            f"数据库 {path} 正由另一个 serve 进程使用：一个 SQLite 文件只能由一个 serve 进程（或一组 --workers）"
            "提供服务；多个进程请使用 Redis（BOT_STORE=redis://…）。") from None
    return fd


class SQLiteStore:
    """`Store` on a single SQLite file (see bot.store.base for the contract). `writer_lock` is set by the
    processes that serve guardians from the file (see `_hold_writer_lock`); CLI commands leave it empty."""

    def __init__(self, path: str, writer_lock: str = "") -> None:
        self.path = path
        self._writer_fd: int | None = None
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                _owner_only(path)
                self._writer_fd = _hold_writer_lock(path, writer_lock)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves. timeout=0: a locked database raises at
            # once and `_retry_busy` waits without blocking the event loop.
            self._db = sqlite3.connect(path, isolation_level=None, timeout=0, check_same_thread=False)
            self._prepare()
        except (sqlite3.Error, OSError) as exc:
            self._release_writer_lock()
            raise StoreError(f"无法打开数据库 {path}: {exc}") from exc
        self._last_purge = 0.0
        self._checkpointer = _Checkpointer(path) if path != ":memory:" else None
        if self._checkpointer:
            self._db.execute(f"PRAGMA wal_autocheckpoint = {_COMMIT_CHECKPOINT_PAGES}")
            weakref.finalize(self, self._checkpointer.stopping.set)  # a store dropped without close()

    def _prepare(self) -> None:
        """WAL mode and the schema. Several processes opening a new file at once can find it locked
        (the connection has no busy timeout), so the first steps are retried for a few seconds — with
        time.sleep: this runs once, in the constructor, before any guardian is served."""
        deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._db.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
                return
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or time.monotonic() >= deadline:
                    raise
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                time.sleep(0.02)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT: takes the write lock up front, so read-check-write is atomic
        across processes too. sqlite errors become StoreError; VersionConflict passes through.
        The body must not await: the connection is shared by every coroutine of this process."""
        await _retry_busy(lambda: self._db.execute("BEGIN IMMEDIATE"))
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"sqlite: {exc}") from exc
            raise

    async def _run(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        """One autocommitted statement, run to completion (so a write releases the lock at once): its rows."""
        return await _retry_busy(lambda: self._db.execute(sql, params).fetchall())

    async def _changes(self, sql: str, params: tuple | list = ()) -> int:
        """One autocommitted write (no RETURNING): the number of rows it changed."""
        return await _retry_busy(lambda: self._db.execute(sql, params).rowcount)

    # --- records -------------------------------------------------------------------------------

    async def get(self, kind: str, key: str) -> Record | None:
        return await _retry_busy(lambda: self._get_in(self._db, kind, key, time.time()))

    @staticmethod
    def _get_in(db: sqlite3.Connection, kind: str, key: str, now: float) -> Record | None:
        """`get`, also inside an open transaction (sqlite errors are mapped by the caller)."""
        row = db.execute(f"SELECT data, version FROM records r WHERE kind = ? AND key = ? AND {_LIVE}",
                         (kind, key, now)).fetchone()
        return Record(codec.loads(row[0]), row[1]) if row else None

    async def put(self, kind: str, key: str, data: dict[str, Any], *, expected_version: int | None = None,
                  index: dict[str, str] | None = None, ttl: float | None = None) -> int:
        now = time.time()
        async with self._transaction() as db:
            version = self._put_in(db, kind, key, data, expected_version, index, ttl, now)
        await self._maybe_purge(now)
        return version

    # A put in one statement: an expired record counts as absent (its version starts again at 1).
    _UPSERT = ("INSERT INTO records (kind, key, data, version, expires_at) VALUES (?, ?, ?, 1, ?) "
               "ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, "
               "version = CASE WHEN records.expires_at IS NULL OR records.expires_at > ? "
               "THEN records.version + 1 ELSE 1 END RETURNING version")

    def _put_in(self, db: sqlite3.Connection, kind: str, key: str, data: dict[str, Any],
                expected_version: int | None, index: dict[str, str] | None, ttl: float | None, now: float) -> int:
        """`put` inside an open transaction. A VersionConflict is raised after the write: the caller's
        transaction rolls it back."""
        payload = codec.dumps(data)
        version = db.execute(self._UPSERT, (kind, key, payload, _expiry(ttl, now), now)).fetchone()[0]
        if expected_version is not None and expected_version != version - 1:
            raise VersionConflict(f"{kind}/{key}: expected version {expected_version}, found {version - 1}")
        self._replace_index(db, kind, key, index)
        return version

    async def put_many(self, kind: str, items: list[tuple[str, dict[str, Any], dict[str, str] | None]]) -> None:
        now = time.time()
        async with self._transaction() as db:
            for key, data, index in items:
                self._put_in(db, kind, key, data, None, index, None, now)

    @staticmethod
    def _replace_index(db: sqlite3.Connection, kind: str, key: str, index: dict[str, str] | None) -> None:
        """A put replaces the whole record, its index values included (None → no index). Most puts leave
        them as they were (a session's form stays open for a dozen messages; a reply has none): then they
        are only read, and the commit writes no index page."""
        wanted = {field: str(value) for field, value in (index or {}).items()}
        if dict(db.execute("SELECT field, value FROM record_index WHERE kind = ? AND key = ?", (kind, key))) == wanted:
            return
        db.execute("DELETE FROM record_index WHERE kind = ? AND key = ?", (kind, key))
        if wanted:
            db.executemany("INSERT INTO record_index (kind, field, value, key) VALUES (?, ?, ?, ?)",
                           [(kind, field, value, key) for field, value in wanted.items()])

    async def reindex(self, kind: str, items: list[tuple[str, int, dict[str, str]]]) -> int:
        now, changed = time.time(), 0
        async with self._transaction() as db:
            for key, version, index in items:
                row = db.execute(f"SELECT version FROM records r WHERE kind = ? AND key = ? AND {_LIVE}",
                                 (kind, key, now)).fetchone()
                if row is not None and row[0] == version:
                    self._replace_index(db, kind, key, index)
                    changed += 1
        return changed

    async def delete(self, kind: str, key: str) -> bool:
        now = time.time()
        async with self._transaction() as db:
            live = db.execute(f"SELECT 1 FROM records r WHERE kind = ? AND key = ? AND {_LIVE}",
                              (kind, key, now)).fetchone()
            db.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))
            db.execute("DELETE FROM record_index WHERE kind = ? AND key = ?", (kind, key))
        return live is not None

    def _select(self, columns: str, kind: str, index: dict[str, str]) -> tuple[str, list[Any], str]:
        """SQL (and parameters) for the live records of `kind` matching every index equality, and the
        column to order by. With a filter the first index drives the query (its primary key gives
        the matching keys already in order); without one the records table is scanned by key."""
        if not index:
            return f"SELECT {columns} FROM records r WHERE r.kind = ? AND {_LIVE}", [kind, time.time()], "r.key"
        (first, first_value), *rest = index.items()
        joins, params = [], []
        for n, (field, value) in enumerate(rest, start=1):
            joins.append(f"JOIN record_index i{n} ON i{n}.kind = i0.kind AND i{n}.key = i0.key"
                         f" AND i{n}.field = ? AND i{n}.value = ?")
            params += [field, str(value)]
        sql = (f"SELECT {columns} FROM record_index i0 JOIN records r ON r.kind = i0.kind AND r.key = i0.key "
               f"{' '.join(joins)} WHERE i0.kind = ? AND i0.field = ? AND i0.value = ? AND {_LIVE}")
        return sql, params + [kind, first, str(first_value), time.time()], "i0.key"

    async def query(self, kind: str, limit: int | None = None, **index: str) -> list[tuple[str, Record]]:
        sql, params, order = self._select("r.key, r.data, r.version", kind, index)
        sql += f" ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(int(limit), 0))
        return [(key, Record(codec.loads(data), version)) for key, data, version in await self._run(sql, params)]

    async def count(self, kind: str, **index: str) -> int:
        sql, params, _order = self._select("COUNT(*)", kind, index)
        return (await self._run(sql, params))[0][0]

    async def query_keys(self, kind: str, **index: str) -> list[str]:
        sql, params, order = self._select("r.key", kind, index)
        return [key for (key,) in await self._run(f"{sql} ORDER BY {order}", params)]

    async def query_index(self, kind: str, fields: tuple[str, ...], **index: str) -> list[tuple[str, dict[str, str]]]:
        matching, params, _order = self._select("r.key", kind, index)
        wanted = ", ".join("?" * len(fields)) or "NULL"
        sql = (f"SELECT m.key, x.field, x.value FROM ({matching}) m LEFT JOIN record_index x "
               f"ON x.kind = ? AND x.key = m.key AND x.field IN ({wanted}) ORDER BY m.key")
        found: dict[str, dict[str, str]] = {}
        for key, field, value in await self._run(sql, [*params, kind, *fields]):
            values = found.setdefault(key, {})
            if field is not None:
                values[field] = value
        return list(found.items())

    async def _maybe_purge(self, now: float) -> None:
        """Delete expired rows now and then (they are already invisible to every read)."""
        if now - self._last_purge < _PURGE_EVERY:
            return
        self._last_purge = now
        async with self._transaction() as db:
            db.execute("DELETE FROM record_index WHERE (kind, key) IN "
                       "(SELECT kind, key FROM records WHERE expires_at <= ?)", (now,))
            db.execute("DELETE FROM records WHERE expires_at <= ?", (now,))
            db.execute("DELETE FROM claims WHERE expires_at <= ?", (now,))
            db.execute("DELETE FROM locks WHERE expires_at <= ?", (now,))
            db.execute("DELETE FROM counters WHERE expires_at <= ?", (now,))

    # --- atomic primitives ---------------------------------------------------------------------
    # Each is one upsert statement, which SQLite runs atomically: an expired row is taken over,
    # a live one is left alone (changes() == 0).

    _CLAIM = ("INSERT INTO claims (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
              "SET expires_at = excluded.expires_at WHERE claims.expires_at <= ?")
    _RELEASE_LOCK = "DELETE FROM locks WHERE name = ? AND token = ? AND expires_at > ?"
    _ACQUIRE_LOCK = ("INSERT INTO locks (name, token, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
                     "SET token = excluded.token, expires_at = excluded.expires_at WHERE locks.expires_at <= ?")

    async def claim(self, key: str, ttl: float) -> bool:
        now = time.time()
        return await self._changes(self._CLAIM, (key, _expiry(ttl, now), now)) == 1

    async def release_claim(self, key: str) -> None:
        await self._run("DELETE FROM claims WHERE key = ?", (key,))

    async def renew_claim(self, key: str, ttl: float) -> bool:
        now = time.time()
        return await self._changes("UPDATE claims SET expires_at = ? WHERE key = ? AND expires_at > ?",
                                   (_expiry(ttl, now), key, now)) == 1

    async def acquire_lock(self, name: str, ttl: float) -> str | None:
        now, token = time.time(), secrets.token_hex(16)
        return token if await self._changes(self._ACQUIRE_LOCK, (name, token, _expiry(ttl, now), now)) == 1 else None

    async def release_lock(self, name: str, token: str) -> bool:
        return await self._changes(self._RELEASE_LOCK, (name, token, time.time())) == 1

    async def incr(self, name: str, amount: int = 1, ttl: float | None = None) -> int:
        now = time.time()
        expired = "(counters.expires_at IS NOT NULL AND counters.expires_at <= ?)"
        rows = await self._run(
            "INSERT INTO counters (name, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
            f"value = CASE WHEN {expired} THEN excluded.value ELSE counters.value + excluded.value END, "
            f"expires_at = CASE WHEN {expired} THEN excluded.expires_at ELSE counters.expires_at END "
            "RETURNING value",
            (name, int(amount), _expiry(ttl, now), now, now),
        )
        return rows[0][0]

    # --- batched primitives: one transaction each ------------------------------------------------

    async def get_or_claim(self, kind: str, key: str, claim_key: str, ttl: float,
                           lock: LockRead | None = None) -> Claim:
        asked_at, now = time.monotonic(), time.time()
        async with self._transaction() as db:
            record = self._get_in(db, kind, key, now)
            if record is not None:
                return Claim(record, False)
            if db.execute(self._CLAIM, (claim_key, _expiry(ttl, now), now)).rowcount != 1:
                return Claim(None, False)
            if lock is None:
                return Claim(None, True)
            token, locked = self._lock_and_get_in(db, lock.name, lock.ttl, lock.kind, lock.key, now)
            return Claim(None, True, HeldLock(token, locked, asked_at) if token else None)

    async def acquire_lock_and_get(self, name: str, ttl: float, kind: str, key: str) -> tuple[str | None, Record | None]:
        async with self._transaction() as db:
            return self._lock_and_get_in(db, name, ttl, kind, key, time.time())

    def _lock_and_get_in(self, db: sqlite3.Connection, name: str, ttl: float, kind: str, key: str,
                         now: float) -> tuple[str | None, Record | None]:
        """`acquire_lock_and_get` inside an open transaction."""
        token = secrets.token_hex(16)
        if db.execute(self._ACQUIRE_LOCK, (name, token, _expiry(ttl, now), now)).rowcount != 1:
            return None, None
        return token, self._get_in(db, kind, key, now)

    async def put_all(self, writes: list[Write]) -> None:
        now = time.time()
        async with self._transaction() as db:  # a VersionConflict rolls every write back
            self._write_all(db, writes, now)

    def _write_all(self, db: sqlite3.Connection, writes: list[Write], now: float) -> None:
        """Every write of a batch, inside an open transaction."""
        for w in writes:
            self._put_in(db, w.kind, w.key, w.data, w.expected_version, w.index, w.ttl, now)

    def _release_fenced_in(self, db: sqlite3.Connection, fence: Fence, now: float) -> None:
        """Release the fence's lock inside an open transaction, or LockLost when its token no longer holds
        it: the release is the fence check, rolled back with the writes should they fail."""
        if db.execute(self._RELEASE_LOCK, (fence.lock_name, fence.token, now)).rowcount != 1:
            raise LockLost(f"lock {fence.lock_name} is no longer held")

    async def put_and_release(self, writes: list[Write], fence: Fence) -> None:
        now = time.time()
        async with self._transaction() as db:  # a VersionConflict rolls back every write; the lock stays
            # Releasing first is the fence check: it deletes the lock only while its token holds it, and
            # a LockLost or VersionConflict rolls the release back with the writes. A write here commits
            # within the call or not at all, so a fence's lateness matters only to a networked store.
            self._release_fenced_in(db, fence, now)
            self._write_all(db, writes, now)
        await self._maybe_purge(now)

    async def ping(self) -> None:
        await self._run("SELECT 1")

    # --- export, for `python -m bot records copy` -----------------------------------------------

    async def kinds(self) -> list[str]:
        """Every kind that has live records."""
        rows = await self._run(f"SELECT DISTINCT kind FROM records r WHERE {_LIVE} ORDER BY kind", (time.time(),))
        return [kind for (kind,) in rows]

    async def export(self, kind: str, after: str = "", limit: int = 500) -> list[ExportedRecord]:
        """Up to `limit` live records of `kind` with keys after `after`, in key order, with their version,
        index values and remaining ttl (seconds; None = none)."""
        now = time.time()
        rows = await self._run(f"SELECT key, data, version, expires_at FROM records r WHERE kind = ? AND key > ? "
                               f"AND {_LIVE} ORDER BY key LIMIT ?", (kind, after, now, int(limit)))
        if not rows:
            return []
        index: dict[str, dict[str, str]] = {}
        for key, field, value in await self._run(
                "SELECT key, field, value FROM record_index WHERE kind = ? AND key >= ? AND key <= ?",
                (kind, rows[0][0], rows[-1][0])):
            index.setdefault(key, {})[field] = value
        return [ExportedRecord(key, codec.loads(data), version, index.get(key, {}),
                               None if expires is None else max(expires - now, 0.001))
                for key, data, version, expires in rows]

    async def close(self) -> None:
        if self._checkpointer:
            self._checkpointer.stop()
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        self._release_writer_lock()

    def _release_writer_lock(self) -> None:
        if self._writer_fd is not None:
            os.close(self._writer_fd)
            self._writer_fd = None


class _Checkpointer:
    """A daemon thread that checkpoints the WAL every `_CHECKPOINT_EVERY` seconds on its own connection.
    PASSIVE never waits for readers or writers (sqlite releases the GIL while it copies and syncs), so
    the event loop's commits only append to the log. Several processes on one file each run one; a
    pass that finds another process checkpointing just does less."""

    def __init__(self, path: str) -> None:
        self._path = path
        self.stopping = threading.Event()
        self.passes = 0  # completed passes (tests)
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        db = None
        try:
            db = sqlite3.connect(self._path, isolation_level=None, timeout=_BUSY_TIMEOUT_MS / 1000,
                                 check_same_thread=False)
            last = False
            while not last:  # a pass every _CHECKPOINT_EVERY seconds, and a last one on stop
                last = self.stopping.wait(_CHECKPOINT_EVERY)
                with contextlib.suppress(sqlite3.Error):  # busy or locked now: the next pass will do
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.passes += 1
        except sqlite3.Error:
            pass  # cannot open: commits still checkpoint at _COMMIT_CHECKPOINT_PAGES
        finally:
            if db is not None:
                db.close()

    def stop(self) -> None:
        """Stop after one last pass (close)."""
        self.stopping.set()
        self._thread.join(timeout=5)
