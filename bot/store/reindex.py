"""Index values a newer version of the code derives, given to the records written before it.

Segments and the dashboard are counted from index values alone: the scheme of the form a session has
open, the schemes a subscriber declared, an application's creation date and the furthest funnel stage it
reached. Records written before a value was added carry none until they are written again, so a guardian
would be missing from a segment and an application from the funnel. `reindex_records` gives every record
of those kinds the values the repositories' `index_of` derive now, a page at a time, without changing its
data, version or ttl (`Store.reindex`); a record written meanwhile is skipped (its writer gave it the
current values). A second run changes nothing.

`serve` runs it at start-up while the store's marker is older than INDEX_VERSION (`ensure_indexed`);
`python -m bot records reindex` runs it at any time.
"""
from __future__ import annotations

from typing import Any, Callable

from bot.privacy import FieldCipher
from bot.store.base import Store
from bot.store.repos import Applications, Sessions, Subscribers, decrypt_fields

INDEX_VERSION = 1  # raise whenever an index_of below derives a new or different value
META_KIND, META_KEY = "meta", "index"  # a durable kind: with the records it describes


def _indexers(store: Store, cipher: FieldCipher) -> dict[str, Callable[[dict[str, Any]], dict[str, str]]]:
    """Kind → the index values of a stored record of it, as its repository writes them."""
    applications = Applications(store, cipher)
    return {
        Sessions.KIND: lambda data: Sessions.index_of(data) or {},  # the form's scheme is not encrypted
        Subscribers.KIND: Subscribers.index_of,
        Applications.KIND: lambda data: applications.index_of(decrypt_fields(data, cipher)),  # the ID's blind index
    }


async def reindex_records(store: Store, cipher: FieldCipher, batch: int = 500) -> dict[str, int]:
    """Re-index every session, subscriber and application whose index values differ from what the code
    derives now, then mark the store as at INDEX_VERSION. Returns {kind: records re-indexed}."""
    changed: dict[str, int] = {}
    for kind, index_of in _indexers(store, cipher).items():
        changed[kind] = 0
        after = ""
        while page := await store.export(kind, after, batch):
            stale = [(r.key, r.version, new) for r in page if (new := index_of(r.data)) != r.index]
            if stale:
                changed[kind] += await store.reindex(kind, stale)
            after = page[-1].key
    await store.put(META_KIND, META_KEY, {"version": INDEX_VERSION})
    return changed


async def ensure_indexed(store: Store, cipher: FieldCipher, force: bool = False) -> dict[str, int] | None:
    """Redis's index sets in their current layout (`RedisStore.migrate`), then `reindex_records` — unless
    the store is marked as re-indexed at INDEX_VERSION already and not `force`d (then None)."""
    from bot.store.redis import RedisStore

    hot = getattr(store, "hot", store)  # Redis beside PostgreSQL (bot.store.routed), or alone
    if isinstance(hot, RedisStore):
        await hot.migrate()
    marker = await store.get(META_KIND, META_KEY)
    if not force and marker is not None and int(marker.data.get("version", 0)) >= INDEX_VERSION:
        return None
    return await reindex_records(store, cipher)
