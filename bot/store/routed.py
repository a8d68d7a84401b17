"""Hot state in one store, durable records in another: `BOT_STORE=redis://…` with `BOT_RECORDS=postgresql://…`.

Conversation state that is rewritten on every message and may be lost without harm to a guardian's
cover or money (sessions, the reply cache, admin log-ins, the access token, the simulator outbox and
held messages) stays in the hot store, as do claims, locks and counters. Every other kind — applications,
payment orders, subscribers, rosters, broadcast jobs and deliveries, handoffs, and any kind added later —
is a record and goes to the records store. Listing the hot kinds rather than the records means a new
kind is kept durably unless someone decides otherwise.
"""
from __future__ import annotations

import time
from typing import Any

from bot.store.base import Claim, ExportedRecord, Fence, HeldLock, LockRead, Record, Store, Write

# Kinds that live in the hot store. Everything else is a durable record.
HOT_KINDS = frozenset({"session", "reply", "admin_session", "kv", "outbox", "undelivered"})


def is_hot(kind: str) -> bool:
    return kind in HOT_KINDS


class RoutedStore:
    """`Store` that sends hot kinds and the atomic primitives to `hot`, records to `records`."""

    def __init__(self, hot: Store, records: Store) -> None:
        self.hot, self.records = hot, records

    def _for(self, kind: str) -> Store:
        return self.hot if is_hot(kind) else self.records

    async def get(self, kind: str, key: str) -> Record | None:
        return await self._for(kind).get(kind, key)

    async def put(self, kind: str, key: str, data: dict[str, Any], *, expected_version: int | None = None,
                  index: dict[str, str] | None = None, ttl: float | None = None) -> int:
        return await self._for(kind).put(kind, key, data, expected_version=expected_version, index=index, ttl=ttl)

    async def put_many(self, kind: str, items: list[tuple[str, dict[str, Any], dict[str, str] | None]]) -> None:
        await self._for(kind).put_many(kind, items)

    async def put_all(self, writes: list[Write]) -> None:
        stores = {id(self._for(w.kind)): self._for(w.kind) for w in writes}
        if len(stores) > 1:
            raise ValueError("put_all spans the hot store and the records store: it could not be atomic")
        for store in stores.values():
            await store.put_all(writes)

    async def delete(self, kind: str, key: str) -> bool:
        return await self._for(kind).delete(kind, key)

    async def query(self, kind: str, limit: int | None = None, **index: str) -> list[tuple[str, Record]]:
        return await self._for(kind).query(kind, limit, **index)

    async def count(self, kind: str, **index: str) -> int:
        return await self._for(kind).count(kind, **index)

    async def query_keys(self, kind: str, **index: str) -> list[str]:
        return await self._for(kind).query_keys(kind, **index)

    async def query_index(self, kind: str, fields: tuple[str, ...], **index: str) -> list[tuple[str, dict[str, str]]]:
        return await self._for(kind).query_index(kind, fields, **index)

    async def export(self, kind: str, after: str = "", limit: int = 500) -> list[ExportedRecord]:
        return await self._for(kind).export(kind, after, limit)

    async def reindex(self, kind: str, items: list[tuple[str, int, dict[str, str]]]) -> int:
        return await self._for(kind).reindex(kind, items)

    async def claim(self, key: str, ttl: float) -> bool:
        return await self.hot.claim(key, ttl)

    async def release_claim(self, key: str) -> None:
        await self.hot.release_claim(key)

    async def renew_claim(self, key: str, ttl: float) -> bool:
        return await self.hot.renew_claim(key, ttl)

    async def acquire_lock(self, name: str, ttl: float) -> str | None:
        return await self.hot.acquire_lock(name, ttl)

    async def release_lock(self, name: str, token: str) -> bool:
        return await self.hot.release_lock(name, token)

    async def incr(self, name: str, amount: int = 1, ttl: float | None = None) -> int:
        return await self.hot.incr(name, amount, ttl)

    async def acquire_lock_and_get(self, name: str, ttl: float, kind: str, key: str) -> tuple[str | None, Record | None]:
        if is_hot(kind):
            return await self.hot.acquire_lock_and_get(name, ttl, kind, key)
        token = await self.hot.acquire_lock(name, ttl)
        return (token, await self.records.get(kind, key)) if token else (None, None)

    async def get_or_claim(self, kind: str, key: str, claim_key: str, ttl: float,
                           lock: LockRead | None = None) -> Claim:
        if is_hot(kind) and (lock is None or is_hot(lock.kind)):
            return await self.hot.get_or_claim(kind, key, claim_key, ttl, lock)
        # A record kind: the same steps one after the other (the pipeline asks only for hot kinds).
        found = await self.get(kind, key)
        if found is not None:
            return Claim(found, False)
        if not await self.hot.claim(claim_key, ttl):
            return Claim(None, False)
        if lock is None:
            return Claim(None, True)
        asked_at = time.monotonic()
        token, record = await self.acquire_lock_and_get(lock.name, lock.ttl, lock.kind, lock.key)
        return Claim(None, True, HeldLock(token, record, asked_at) if token else None)

    async def put_and_release(self, writes: list[Write], fence: Fence) -> None:
        # The fence is a hot lock. Records in the batch (the pipeline sends none) are written once the fence
        # has held, after the hot writes: not atomic with them, so callers keep records out of fenced batches.
        await self.hot.put_and_release([w for w in writes if is_hot(w.kind)], fence)
        durable = [w for w in writes if not is_hot(w.kind)]
        if durable:
            await self.records.put_all(durable)

    async def ping(self) -> None:
        await self.hot.ping()
        await self.records.ping()

    async def close(self) -> None:
        await self.hot.close()
        await self.records.close()
