"""PostgreSQL backend (asyncpg): the system of record when `BOT_RECORDS=postgresql://…` is set.

It implements the whole `Store` protocol, with the same tables as the SQLite backend (records with a
version, an equality index, claims, locks, counters), so the contract suite runs on it unchanged; in
production it holds the durable records only (see bot.store.routed), next to Redis for hot state.

Every write that spans records (`put_all`, `put_and_release`) is one transaction. Expiry uses the
database server's clock, the same for every worker and machine. The pool is made on first use (the
store is built before the event loop runs) and is sized by `BOT_RECORDS_POOL`; the schema migrations
run then too. A database that cannot be reached raises StoreError, which the webhook answers with
系统繁忙; the pool reconnects by itself on the next request.
"""
from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from typing import Any, AsyncIterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from bot.store import codec
from bot.store.base import Claim, ExportedRecord, Fence, HeldLock, LockLost, LockRead, Record, StoreError, VersionConflict, Write
from bot.store.pg_schema import migrate

_NOW = "extract(epoch from clock_timestamp())"
_LIVE = f"(r.expires_at IS NULL OR r.expires_at > {_NOW})"
_PURGE_EVERY = 60.0
DEFAULT_POOL = 10
COMMAND_TIMEOUT = 2.0  # seconds; a turn waiting on a stuck database answers 系统繁忙 instead of hanging
CONNECT_TIMEOUT = 2.0
BULK_TIMEOUT = 30.0  # seconds for one chunk of a bulk write (roster import, broadcast fan-out, records copy)


def _json(data: Any) -> str:
    return codec.dumps(data)


# How an index value is written: it replaces the record's value of that field (one per record and field).
_INDEX_UPSERT = "ON CONFLICT (kind, key, field) DO UPDATE SET value = excluded.value"


async def _replace_indexes(conn: asyncpg.Connection, kind: str, keys: list[str],
                           values: list[tuple[str, str, Any]]) -> None:
    """The index values of the records `keys` become `values` — (key, field, value) — inside the caller's
    transaction, which holds those records' rows."""
    if not keys:
        return
    await conn.execute("DELETE FROM record_index WHERE kind = $1 AND key = ANY($2::text[])", kind, keys,
                       timeout=BULK_TIMEOUT)
    await conn.execute(
        "INSERT INTO record_index (kind, field, value, key) "
        f"SELECT $1, t.f, t.v, t.k FROM unnest($2::text[], $3::text[], $4::text[]) AS t(k, f, v) {_INDEX_UPSERT}",
        kind, [v[0] for v in values], [v[1] for v in values], [str(v[2]) for v in values], timeout=BULK_TIMEOUT)


def _expiry_sql(param: str) -> str:
    """SQL for "now + ttl seconds" from a parameter holding the ttl or NULL (no expiry)."""
    return f"CASE WHEN {param}::float8 IS NULL THEN NULL ELSE {_NOW} + greatest({param}::float8, 0.001) END"


def split_schema(url: str) -> tuple[str, str | None]:
    """`postgresql://…?schema=name` → (the URL without it, name): the schema the tables live in."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


@contextlib.contextmanager
def _pg_errors():
    try:
        yield
    except (VersionConflict, LockLost):
        raise
    except asyncpg.UniqueViolationError as exc:  # a unique constraint of the domain (migrations)
        raise VersionConflict(f"postgresql: {exc.constraint_name or exc}") from exc
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, asyncio.TimeoutError) as exc:
        raise StoreError(f"postgresql: {type(exc).__name__}: {exc}") from exc


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A connection goes back to the pool as it is: this store leaves no session state behind (no SET, no
    LISTEN, advisory locks only inside transactions), so asyncpg's reset query — a round trip on every
    release — would undo nothing."""


class PostgresStore:
    """`Store` on PostgreSQL (see bot.store.base for the contract)."""

    def __init__(self, url: str, pool_size: int = DEFAULT_POOL, *, run_migrations: bool = True) -> None:
        self.url, self.schema = split_schema(url)
        self.pool_size = max(1, int(pool_size))
        self.run_migrations = run_migrations
        self.late_write_grace = COMMAND_TIMEOUT / 2
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self._last_purge = 0.0

    @classmethod
    def from_url(cls, url: str, pool_size: int | None = None) -> "PostgresStore":
        return cls(url, pool_size or DEFAULT_POOL)

    async def _ready(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        async with self._opening:
            if self._pool is None:
                settings = {"search_path": self.schema} if self.schema else None
                with _pg_errors():
                    pool = await asyncpg.create_pool(
                        self.url, min_size=1, max_size=self.pool_size, timeout=CONNECT_TIMEOUT,
                        command_timeout=COMMAND_TIMEOUT, server_settings=settings, reset=_keep_session)
                try:
                    if self.run_migrations:
                        with _pg_errors():
                            async with pool.acquire() as conn:
                                await migrate(conn)
                except BaseException:
                    await pool.close()
                    raise
                self._pool = pool
        return self._pool

    @contextlib.asynccontextmanager
    async def _conn(self) -> AsyncIterator[asyncpg.Connection]:
        pool = await self._ready()
        with _pg_errors():
            async with pool.acquire(timeout=CONNECT_TIMEOUT) as conn:
                yield conn

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._conn() as conn:
            with _pg_errors():
                async with conn.transaction():
                    yield conn

    async def migrate(self) -> list[int]:
        """Apply missing migrations now (`python -m bot db migrate`); the versions applied."""
        async with self._conn() as conn:
            with _pg_errors():
                return await migrate(conn)

    # --- records -------------------------------------------------------------------------------

    async def get(self, kind: str, key: str) -> Record | None:
        async with self._conn() as conn:
            return await self._get_in(conn, kind, key)

    @staticmethod
    async def _get_in(conn: asyncpg.Connection, kind: str, key: str) -> Record | None:
        row = await conn.fetchrow(f"SELECT data::text, version FROM records r WHERE kind = $1 AND key = $2 AND {_LIVE}",
                                  kind, key)
        return Record(codec.loads(row[0]), row[1]) if row else None

    async def put(self, kind: str, key: str, data: dict[str, Any], *, expected_version: int | None = None,
                  index: dict[str, str] | None = None, ttl: float | None = None) -> int:
        async with self._conn() as conn:
            version = await self._put_in(conn, kind, key, data, expected_version, index, ttl)
        await self._maybe_purge()
        return version

    # A put is one statement (one round trip, atomic on its own): the record's write — conditional on its
    # version when one is expected — and, only if it was written, its index values replaced. An expired
    # record counts as absent (its version starts again at 1). No row back: the expected version did not
    # match and nothing was written. $1 kind, $2 key, $3 data, $4 ttl, $5 expected version, $6/$7 index
    # fields/values.
    _WRITE = {
        "any": (f"INSERT INTO records AS r (kind, key, data, version, expires_at) "
                f"VALUES ($1, $2, $3::jsonb, 1, {_expiry_sql('$4')}) "
                f"ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, "
                f"version = CASE WHEN {_LIVE} THEN r.version + 1 ELSE 1 END RETURNING version"),
        "new": (f"INSERT INTO records AS r (kind, key, data, version, expires_at) "
                f"VALUES ($1, $2, $3::jsonb, 1, {_expiry_sql('$4')}) "
                f"ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, "
                f"version = 1 WHERE NOT {_LIVE} RETURNING version"),
        "version": (f"UPDATE records r SET data = $3::jsonb, expires_at = {_expiry_sql('$4')}, version = r.version + 1 "
                    f"WHERE kind = $1 AND key = $2 AND {_LIVE} AND r.version = $5 RETURNING version"),
    }
    # A value replaces the record's value of its field by ON CONFLICT, which sees a value another
    # transaction wrote since this statement's snapshot (a re-index just before a status change): deleting
    # the old values by the snapshot instead left that one beside the new (migration 3).
    _PUT = {mode: (f"WITH up AS ({sql}), "
                   f"unindexed AS (DELETE FROM record_index WHERE kind = $1 AND key = $2 AND EXISTS (SELECT 1 FROM up) "
                   f"AND field <> ALL($6::text[])), "
                   f"indexed AS (INSERT INTO record_index (kind, field, value, key) "
                   f"SELECT $1, f, v, $2 FROM unnest($6::text[], $7::text[]) AS t(f, v) WHERE EXISTS (SELECT 1 FROM up) "
                   f"{_INDEX_UPSERT}) "
                   f"SELECT version, $5::bigint FROM up")
            for mode, sql in _WRITE.items()}

    async def _put_in(self, conn: asyncpg.Connection, kind: str, key: str, data: dict[str, Any],
                      expected_version: int | None, index: dict[str, str] | None, ttl: float | None) -> int:
        """`put` on `conn` (also inside an open transaction, whose caller rolls back on a VersionConflict)."""
        mode = "any" if expected_version is None else "new" if expected_version == 0 else "version"
        fields = list(index or {})
        version = await conn.fetchval(self._PUT[mode], kind, key, _json(data), ttl, expected_version, fields,
                                      [str(index[f]) for f in fields])
        if version is None:
            raise VersionConflict(f"{kind}/{key}: not at the expected version {expected_version}")
        return version

    async def put_many(self, kind: str, items: list[tuple[str, dict[str, Any], dict[str, str] | None]]) -> None:
        # Three statements per chunk of 1 000 (records, old index values out, new ones in), each given the
        # bulk timeout: a roster import must not fail on a busy database where one message's write would.
        for start in range(0, len(items), 1000):
            last = {key: (data, index) for key, data, index in items[start:start + 1000]}  # a key twice: the last
            keys = list(last)
            pairs = [(key, field, value) for key, (_data, index) in last.items() for field, value in (index or {}).items()]
            async with self._transaction() as conn:
                await conn.execute(
                    f"INSERT INTO records AS r (kind, key, data, version, expires_at) "
                    f"SELECT $1, t.k, t.d::jsonb, 1, NULL FROM unnest($2::text[], $3::text[]) AS t(k, d) "
                    f"ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, expires_at = NULL, "
                    f"version = CASE WHEN {_LIVE} THEN r.version + 1 ELSE 1 END",
                    kind, keys, [_json(data) for data, _index in last.values()], timeout=BULK_TIMEOUT)
                await _replace_indexes(conn, kind, keys, pairs)

    async def put_all(self, writes: list[Write]) -> None:
        async with self._transaction() as conn:
            for w in writes:
                await self._put_in(conn, w.kind, w.key, w.data, w.expected_version, w.index, w.ttl)

    async def import_records(self, kind: str, rows: list[ExportedRecord]) -> int:
        """Copy records in from another backend, keeping their versions: a record already here at the
        same or a newer version is left alone, so a copy can be run again or resumed after a failure.
        Returns how many were written."""
        if not rows:
            return 0
        async with self._transaction() as conn:
            written = [r[0] for r in await conn.fetch(
                f"INSERT INTO records AS r (kind, key, data, version, expires_at) "
                f"SELECT $1, t.k, t.d::jsonb, t.v, CASE WHEN t.e IS NULL THEN NULL ELSE {_NOW} + t.e END "
                f"FROM unnest($2::text[], $3::text[], $4::bigint[], $5::float8[]) AS t(k, d, v, e) "
                f"ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, version = excluded.version, "
                f"expires_at = excluded.expires_at WHERE r.version < excluded.version OR NOT {_LIVE} RETURNING r.key",
                kind, [r.key for r in rows], [_json(r.data) for r in rows], [r.version for r in rows],
                [r.ttl for r in rows], timeout=BULK_TIMEOUT)]
            chosen = set(written)
            await _replace_indexes(conn, kind, written,
                                   [(r.key, f, v) for r in rows if r.key in chosen for f, v in r.index.items()])
        return len(written)

    async def export(self, kind: str, after: str = "", limit: int = 500) -> list[ExportedRecord]:
        # Pages in the database's own key order (its primary key serves the range): each page starts
        # right after the last, whatever the collation.
        async with self._conn() as conn:
            rows = await conn.fetch(f"SELECT key, data::text, version, expires_at - {_NOW} FROM records r "
                                    f"WHERE kind = $1 AND key > $2 AND {_LIVE} ORDER BY key LIMIT $3",
                                    kind, after, int(limit))
            index: dict[str, dict[str, str]] = {}
            for key, field, value in await conn.fetch(
                    "SELECT key, field, value FROM record_index WHERE kind = $1 AND key = ANY($2::text[])",
                    kind, [row[0] for row in rows]):
                index.setdefault(key, {})[field] = value
        return [ExportedRecord(key, codec.loads(data), version, index.get(key, {}),
                               None if left is None else max(left, 0.001))
                for key, data, version, left in rows]

    async def reindex(self, kind: str, items: list[tuple[str, int, dict[str, str]]]) -> int:
        if not items:
            return 0
        async with self._transaction() as conn:
            # Locked at the given version (in key order, as another re-index would), so that a write of one
            # of them waits for this transaction.
            current = {row[0] for row in await conn.fetch(
                f"SELECT r.key FROM records r JOIN unnest($2::text[], $3::bigint[]) AS t(k, v) "
                f"ON r.key = t.k AND r.version = t.v WHERE r.kind = $1 AND {_LIVE} ORDER BY r.key FOR UPDATE OF r",
                kind, [key for key, _v, _i in items], [int(v) for _k, v, _i in items])}
            await _replace_indexes(conn, kind, list(current), [(key, field, value) for key, _v, index in items
                                                               if key in current for field, value in index.items()])
        return len(current)

    async def analyze(self) -> None:
        """Refresh the planner's statistics now (autovacuum does within a minute or so): after a bulk load
        they still describe the tables as they were."""
        async with self._conn() as conn:
            await conn.execute("ANALYZE records, record_index", timeout=BULK_TIMEOUT)

    async def delete(self, kind: str, key: str) -> bool:
        async with self._transaction() as conn:
            live = await conn.fetchval(f"DELETE FROM records r WHERE kind = $1 AND key = $2 RETURNING {_LIVE}",
                                       kind, key)
            await conn.execute("DELETE FROM record_index WHERE kind = $1 AND key = $2", kind, key)
        return bool(live)

    @staticmethod
    def _select(columns: str, kind: str, index: dict[str, str]) -> tuple[str, list[Any], str]:
        """SQL for the live records of `kind` matching every index equality, and the column to order by."""
        if not index:
            return f"SELECT {columns} FROM records r WHERE r.kind = $1 AND {_LIVE}", [kind], "r.key"
        # The keys of each index value, intersected (a hash or sort set operation whatever the planner
        # estimates): joined one after the other, stale statistics after a bulk load (records copy, a
        # broadcast's fan-out) made the planner loop over one value's keys for each of another's —
        # 100 000 subscribers' two values took minutes instead of a quarter of a second.
        params: list[Any] = [kind]
        picks = []
        for field, value in index.items():
            params += [field, str(value)]
            picks.append(f"SELECT key FROM record_index WHERE kind = $1 AND field = ${len(params) - 1} "
                         f"AND value = ${len(params)}")
        sql = (f"SELECT {columns} FROM ({' INTERSECT '.join(picks)}) m JOIN records r ON r.kind = $1 AND r.key = m.key "
               f"WHERE {_LIVE}")
        return sql, params, "r.key"

    async def query(self, kind: str, limit: int | None = None, **index: str) -> list[tuple[str, Record]]:
        sql, params, order = self._select("r.key, r.data::text, r.version", kind, index)
        sql += f" ORDER BY {order} COLLATE \"C\""
        if limit is not None:
            params.append(max(int(limit), 0))
            sql += f" LIMIT ${len(params)}"
        async with self._conn() as conn:
            rows = await conn.fetch(sql, *params)
        return [(key, Record(codec.loads(data), version)) for key, data, version in rows]

    async def count(self, kind: str, **index: str) -> int:
        sql, params, _order = self._select("COUNT(*)", kind, index)
        async with self._conn() as conn:
            return await conn.fetchval(sql, *params)

    async def query_keys(self, kind: str, **index: str) -> list[str]:
        sql, params, order = self._select("r.key", kind, index)
        async with self._conn() as conn:
            rows = await conn.fetch(f"{sql} ORDER BY {order} COLLATE \"C\"", *params)
        return [row[0] for row in rows]

    async def query_index(self, kind: str, fields: tuple[str, ...], **index: str) -> list[tuple[str, dict[str, str]]]:
        matching, params, _order = self._select("r.key", kind, index)
        params += [kind, list(fields)]
        # Each key's values looked up by (kind, key) — the fence (OFFSET 0) keeps the wanted fields out of
        # that lookup: given them, a planner with stale statistics scanned every value of those fields for
        # each key (the primary key leads with the field), minutes at 100 000 records.
        sql = (f"SELECT m.key, x.field, x.value FROM ({matching}) m LEFT JOIN LATERAL "
               f"(SELECT field, value FROM record_index x WHERE x.kind = ${len(params) - 1} AND x.key = m.key OFFSET 0) x "
               f"ON x.field = ANY(${len(params)}::text[]) ORDER BY m.key COLLATE \"C\"")
        async with self._conn() as conn:
            rows = await conn.fetch(sql, *params)
        found: dict[str, dict[str, str]] = {}
        for key, field, value in rows:
            values = found.setdefault(key, {})
            if field is not None:
                values[field] = value
        return list(found.items())

    async def _maybe_purge(self) -> None:
        now = time.monotonic()
        if now - self._last_purge < _PURGE_EVERY:
            return
        self._last_purge = now
        async with self._transaction() as conn:
            await conn.execute(f"DELETE FROM record_index WHERE (kind, key) IN "
                               f"(SELECT kind, key FROM records WHERE expires_at <= {_NOW})")
            for table in ("records", "claims", "locks", "counters"):
                await conn.execute(f"DELETE FROM {table} WHERE expires_at <= {_NOW}")

    # --- atomic primitives: one statement each --------------------------------------------------

    _CLAIM = (f"INSERT INTO claims AS c (key, expires_at) VALUES ($1, {_expiry_sql('$2')}) ON CONFLICT (key) "
              f"DO UPDATE SET expires_at = excluded.expires_at WHERE c.expires_at <= {_NOW} RETURNING 1")
    _ACQUIRE_LOCK = (f"INSERT INTO locks AS l (name, token, expires_at) VALUES ($1, $2, {_expiry_sql('$3')}) "
                     f"ON CONFLICT (name) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at "
                     f"WHERE l.expires_at <= {_NOW} RETURNING 1")

    async def claim(self, key: str, ttl: float) -> bool:
        async with self._conn() as conn:
            return await conn.fetchval(self._CLAIM, key, ttl) == 1

    async def release_claim(self, key: str) -> None:
        async with self._conn() as conn:
            await conn.execute("DELETE FROM claims WHERE key = $1", key)

    async def renew_claim(self, key: str, ttl: float) -> bool:
        async with self._conn() as conn:
            return await conn.fetchval(f"UPDATE claims SET expires_at = {_expiry_sql('$2')} "
                                       f"WHERE key = $1 AND expires_at > {_NOW} RETURNING 1", key, ttl) == 1

    async def acquire_lock(self, name: str, ttl: float) -> str | None:
        token = secrets.token_hex(16)
        async with self._conn() as conn:
            return token if await conn.fetchval(self._ACQUIRE_LOCK, name, token, ttl) == 1 else None

    async def release_lock(self, name: str, token: str) -> bool:
        async with self._conn() as conn:
            return await conn.fetchval(
                f"DELETE FROM locks WHERE name = $1 AND token = $2 AND expires_at > {_NOW} RETURNING 1", name, token) == 1

    async def incr(self, name: str, amount: int = 1, ttl: float | None = None) -> int:
        expired = f"(c.expires_at IS NOT NULL AND c.expires_at <= {_NOW})"
        async with self._conn() as conn:
            return await conn.fetchval(
                f"INSERT INTO counters AS c (name, value, expires_at) VALUES ($1, $2, {_expiry_sql('$3')}) "
                f"ON CONFLICT (name) DO UPDATE SET "
                f"value = CASE WHEN {expired} THEN excluded.value ELSE c.value + excluded.value END, "
                f"expires_at = CASE WHEN {expired} THEN excluded.expires_at ELSE c.expires_at END RETURNING value",
                name, int(amount), ttl)

    # --- batched primitives: one transaction each -----------------------------------------------

    async def get_or_claim(self, kind: str, key: str, claim_key: str, ttl: float,
                           lock: LockRead | None = None) -> Claim:
        asked_at = time.monotonic()
        async with self._transaction() as conn:
            record = await self._get_in(conn, kind, key)
            if record is not None:
                return Claim(record, False)
            if await conn.fetchval(self._CLAIM, claim_key, ttl) != 1:
                return Claim(None, False)
            if lock is None:
                return Claim(None, True)
            token, locked = await self._lock_and_get_in(conn, lock.name, lock.ttl, lock.kind, lock.key)
            return Claim(None, True, HeldLock(token, locked, asked_at) if token else None)

    async def acquire_lock_and_get(self, name: str, ttl: float, kind: str, key: str) -> tuple[str | None, Record | None]:
        async with self._transaction() as conn:
            return await self._lock_and_get_in(conn, name, ttl, kind, key)

    async def _lock_and_get_in(self, conn: asyncpg.Connection, name: str, ttl: float, kind: str,
                               key: str) -> tuple[str | None, Record | None]:
        token = secrets.token_hex(16)
        if await conn.fetchval(self._ACQUIRE_LOCK, name, token, ttl) != 1:
            return None, None
        return token, await self._get_in(conn, kind, key)

    async def put_and_release(self, writes: list[Write], fence: Fence) -> None:
        # The lock must still have what the sender saw minus the grace: a write the database runs later
        # than that (the sender has timed out and answered 系统繁忙) is refused, as on Redis.
        least = fence.ttl_left - self.late_write_grace
        async with self._transaction() as conn:
            released = await conn.fetchval(
                f"DELETE FROM locks WHERE name = $1 AND token = $2 AND expires_at - {_NOW} >= greatest($3, 0) "
                f"RETURNING 1",
                fence.lock_name, fence.token, least)
            if released != 1:
                raise LockLost(f"lock {fence.lock_name} no longer held, or the write came too late")
            for w in writes:
                await self._put_in(conn, w.kind, w.key, w.data, w.expected_version, w.index, w.ttl)
        await self._maybe_purge()

    async def ping(self) -> None:
        async with self._conn() as conn:
            await conn.fetchval("SELECT 1")

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.close(), 5)
