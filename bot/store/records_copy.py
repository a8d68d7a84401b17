"""Moving the records of a Redis-only (or SQLite) deployment to PostgreSQL (`python -m bot records copy`).

Records keep their versions, so the bot's compare-and-set writes carry on where they were. A copy is
idempotent — what is already in PostgreSQL at the same version is skipped — and so resumable: after an
interruption the same command carries on. Hot kinds (sessions, reply cache…) stay in Redis.
"""
from __future__ import annotations

from typing import Callable, Protocol

from bot.store.base import ExportedRecord
from bot.store.postgres import PostgresStore
from bot.store.routed import is_hot


class Exporting(Protocol):
    """A store whose records can be listed for copying (RedisStore, SQLiteStore)."""

    async def kinds(self) -> list[str]: ...

    async def export(self, kind: str, after: str = "", limit: int = 500) -> list[ExportedRecord]: ...

    async def count(self, kind: str, **index: str) -> int: ...


async def copy_records(source: Exporting, target: PostgresStore,
                       progress: Callable[[str, int, int], None] | None = None,
                       batch: int = 500) -> dict[str, tuple[int, int, int]]:
    """Copy every record kind; returns {kind: (count in the source, count in PostgreSQL, written now)}."""
    await target.migrate()
    report = {}
    for kind in await source.kinds():
        if is_hot(kind):
            continue
        seen = written = 0
        after = ""
        while True:
            rows = await source.export(kind, after, batch)
            if not rows:
                break
            written += await target.import_records(kind, rows)
            seen += len(rows)
            after = rows[-1].key
            if progress:
                progress(kind, seen, written)
        report[kind] = (await source.count(kind), await target.count(kind), written)
    await target.analyze()  # the bot starts on these tables at once: plan its queries for what they hold now
    return report
