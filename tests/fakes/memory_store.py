"""An in-memory implementation of the `Store` protocol (bot/store/base.py) for fast unit tests.

Same semantics as the real backends for what the integration tests use: versioned records with
compare-and-set, equality indexes, TTLs, claims, locks with owner tokens, counters.
"""
from __future__ import annotations

import secrets
import time
from typing import Any

from bot.store.base import Record, VersionConflict


class MemoryStore:
    def __init__(self) -> None:
        self._records: dict[tuple[str, str], tuple[dict[str, Any], int, dict[str, str], float | None]] = {}
        self._claims: dict[str, float] = {}
        self._locks: dict[str, tuple[str, float]] = {}
        self._counters: dict[str, tuple[int, float | None]] = {}

    def _live(self, kind: str, key: str):
        item = self._records.get((kind, key))
        if item is None:
            return None
        if item[3] is not None and item[3] <= time.monotonic():
            del self._records[(kind, key)]
            return None
        return item

    async def get(self, kind: str, key: str) -> Record | None:
        item = self._live(kind, key)
        return Record(data=_copy(item[0]), version=item[1]) if item else None

    async def put(self, kind: str, key: str, data: dict[str, Any], *, expected_version: int | None = None,
                  index: dict[str, str] | None = None, ttl: float | None = None) -> int:
        item = self._live(kind, key)
        current = item[1] if item else 0
        if expected_version is not None and expected_version != current:
            raise VersionConflict(f"{kind}:{key} is at {current}, expected {expected_version}")
        new_index = dict(index) if index is not None else (item[2] if item else {})
        expiry = time.monotonic() + ttl if ttl else None
        self._records[(kind, key)] = (_copy(data), current + 1, new_index, expiry)
        return current + 1

    async def put_many(self, kind: str, items: list[tuple[str, dict[str, Any], dict[str, str] | None]]) -> None:
        for key, data, index in items:
            await self.put(kind, key, data, index=index)

    async def delete(self, kind: str, key: str) -> bool:
        return self._records.pop((kind, key), None) is not None

    async def query(self, kind: str, limit: int | None = None, **index: str) -> list[tuple[str, Record]]:
        rows = []
        for (k, key) in sorted(list(self._records)):
            if k != kind:
                continue
            item = self._live(k, key)
            if item and all(item[2].get(f) == v for f, v in index.items()):
                rows.append((key, Record(data=_copy(item[0]), version=item[1])))
        return rows[:limit] if limit else rows

    async def count(self, kind: str, **index: str) -> int:
        return len(await self.query(kind, **index))

    async def claim(self, key: str, ttl: float) -> bool:
        now = time.monotonic()
        if self._claims.get(key, 0) > now:
            return False
        self._claims[key] = now + ttl
        return True

    async def release_claim(self, key: str) -> None:
        self._claims.pop(key, None)

    async def acquire_lock(self, name: str, ttl: float) -> str | None:
        now = time.monotonic()
        held = self._locks.get(name)
        if held and held[1] > now:
            return None
        token = secrets.token_hex(8)
        self._locks[name] = (token, now + ttl)
        return token

    async def release_lock(self, name: str, token: str) -> bool:
        held = self._locks.get(name)
        if held and held[0] == token:
            del self._locks[name]
            return True
        return False

    async def incr(self, name: str, amount: int = 1, ttl: float | None = None) -> int:
        value, expiry = self._counters.get(name, (0, None))
        if expiry is not None and expiry <= time.monotonic():
            value, expiry = 0, None
        if name not in self._counters and ttl:
            expiry = time.monotonic() + ttl
        self._counters[name] = (value + amount, expiry)
        return value + amount

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(data))
