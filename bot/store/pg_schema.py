"""The PostgreSQL schema, as forward-only migrations.

Each migration runs once, recorded in `schema_migrations`; the pending ones run in one transaction (a
failing step leaves the schema as it was), and several workers starting at once take turns on an advisory
lock, so each step runs exactly once. A migration is never
edited after it has landed: a change of schema is a new entry at the end of MIGRATIONS.

Run on start-up (the first time a `PostgresStore` connects) and by `python -m bot db migrate`.
"""
from __future__ import annotations

from typing import Any

# Any number unlikely to be used by another application sharing the database.
MIGRATION_LOCK = 7_318_001

MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "records, indexes and the atomic primitives", """
CREATE TABLE records (
    kind TEXT NOT NULL, key TEXT NOT NULL, data JSONB NOT NULL, version BIGINT NOT NULL,
    expires_at DOUBLE PRECISION, PRIMARY KEY (kind, key));
CREATE TABLE record_index (
    kind TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, key TEXT NOT NULL,
    PRIMARY KEY (kind, field, value, key));
CREATE INDEX record_index_by_key ON record_index (kind, key);
CREATE INDEX records_by_expiry ON records (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE claims (key TEXT PRIMARY KEY, expires_at DOUBLE PRECISION NOT NULL);
CREATE TABLE locks (name TEXT PRIMARY KEY, token TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL);
CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL, expires_at DOUBLE PRECISION);
"""),
    (2, "one payment order per order number", """
CREATE UNIQUE INDEX orders_by_order_no ON records ((data->>'order_no')) WHERE kind = 'order';
"""),
    (3, "one index value per record and field", """
DELETE FROM record_index a USING record_index b
 WHERE a.kind = b.kind AND a.key = b.key AND a.field = b.field AND a.value > b.value;
CREATE UNIQUE INDEX record_index_by_key_field ON record_index (kind, key, field);
DROP INDEX record_index_by_key;
"""),
]

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
"""


async def migrate(conn: Any) -> list[int]:
    """Apply the migrations this database lacks, in order; returns the versions applied now."""
    applied_now: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(_BOOKKEEPING)
        done = {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, name, sql in MIGRATIONS:
            if version in done:
                continue
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
            applied_now.append(version)
    return applied_now
