"""The one storage protocol every backend implements.

The protocol is deliberately small and generic: versioned JSON records grouped by *kind*, with
equality indexes, plus the few atomic primitives a multi-worker bot needs (claim-once keys, locks
with a lifetime, counters). Typed repositories (sessions, applications, orders, subscribers,
broadcast jobs) are built on top in `bot.store.repos`, so both backends share all domain logic and
pass the same contract tests (`tests/store/test_contract.py`).

Encryption of personal data happens in the repositories (`bot.store.repos`) before a record reaches
a backend, so neither backend ever sees a plain ID or phone number.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Protocol, runtime_checkable


class StoreError(Exception):
    """The backend is unreachable or failed; the caller answers 系统繁忙 and retries later."""


class VersionConflict(Exception):
    """A compare-and-set write lost: somebody else wrote the record first."""


class LockTimeout(Exception):
    """A lock could not be acquired within the wait limit."""


class LockLost(StoreError):
    """A fenced write was refused: its lock was no longer held, or the write reached the backend too
    late (a frozen Redis replaying it after the caller had given up). Nothing was written."""


@dataclass(frozen=True)
class Fence:
    """Makes a write conditional on its sender still holding a lock.

    `ttl_left` is how many seconds the sender believes the lock has left when it sends the write
    (its ttl minus the time since it was taken). A networked backend refuses the write when the lock
    has less than `ttl_left - late_write_grace` left as the write executes, i.e. when the write sat in a
    queue for longer than the grace: by then the sender has timed out and told the guardian
    系统繁忙, so applying the write would advance a conversation behind the guardian's back (they
    retype their answer, and it lands on the next question)."""

    lock_name: str
    token: str
    ttl_left: float


@dataclass(frozen=True)
class Record:
    data: dict[str, Any]
    version: int  # starts at 1 for a new record and increases by one on every write


@dataclass(frozen=True)
class HeldLock:
    token: str
    record: Record | None  # read in the same round trip
    asked_at: float  # time.monotonic() when the successful request was sent: the lock's ttl runs from after it

    def fence(self, name: str, ttl: float) -> Fence:
        """A fence for a write sent now: the lock has at most `ttl` minus the time since `asked_at` left."""
        return Fence(name, self.token, ttl - (time.monotonic() - self.asked_at))


@dataclass(frozen=True)
class LockRead:
    """A lock to try once for `ttl` seconds, and the record `kind/key` to read if it is taken."""

    name: str
    ttl: float
    kind: str
    key: str


@dataclass(frozen=True)
class Claim:
    """What `get_or_claim` found: the record (nothing claimed), or whether this caller claimed; with a
    `LockRead`, the lock when the claimant could take it at once (None: held by another, or not asked)."""

    record: Record | None
    claimed: bool
    held: HeldLock | None = None


@dataclass(frozen=True)
class Write:
    """One record write of a `put_and_release` batch; the fields mean what `put`'s arguments mean."""

    kind: str
    key: str
    data: dict[str, Any]
    expected_version: int | None = None
    index: dict[str, str] | None = None
    ttl: float | None = None


@dataclass(frozen=True)
class ExportedRecord:
    """A record as `records copy` moves it between backends: with its version, index values and ttl."""

    key: str
    data: dict[str, Any]
    version: int
    index: dict[str, str]
    ttl: float | None = None


@runtime_checkable
class Store(Protocol):
    """Async storage protocol. Keys and kinds are short ASCII strings; data is JSON-serialisable."""

    async def get(self, kind: str, key: str) -> Record | None: ...

    async def put(
        self,
        kind: str,
        key: str,
        data: dict[str, Any],
        *,
        expected_version: int | None = None,
        index: dict[str, str] | None = None,
        ttl: float | None = None,
    ) -> int:
        """Write a record and return its new version.

        expected_version=None writes unconditionally; 0 means "must not exist yet"; n means "must
        currently be at version n" — otherwise VersionConflict. `index` maps field names to string
        values that `query`/`count` can filter on (replacing the record's previous index values).
        `ttl` (seconds) makes the record expire; None keeps it forever.
        """
        ...

    async def put_many(self, kind: str, items: list[tuple[str, dict[str, Any], dict[str, str] | None]]) -> None:
        """Unconditional bulk write of (key, data, index) — used for imports and broadcast fan-out."""
        ...

    async def delete(self, kind: str, key: str) -> bool: ...

    async def query(self, kind: str, limit: int | None = None, **index: str) -> list[tuple[str, Record]]:
        """Records of a kind whose index fields equal all the given values (no filter → all), ordered by key."""
        ...

    async def count(self, kind: str, **index: str) -> int: ...

    async def query_keys(self, kind: str, **index: str) -> list[str]:
        """The keys of the records `query` would return, in key order, without reading the records:
        segments of 100 000 subscribers are counted from keys alone."""
        ...

    async def query_index(self, kind: str, fields: tuple[str, ...], **index: str) -> list[tuple[str, dict[str, str]]]:
        """(key, the record's own values of the index `fields` it has) of the records `query` would
        return, in key order, without reading their data (grouping applications by user and status)."""
        ...

    async def export(self, kind: str, after: str = "", limit: int = 500) -> list[ExportedRecord]:
        """Up to `limit` live records of `kind` with keys after `after`, in key order, with their version,
        index values and remaining ttl: every record of a kind read a page at a time (`records copy`,
        `repos.reindex_records`)."""
        ...

    async def reindex(self, kind: str, items: list[tuple[str, int, dict[str, str]]]) -> int:
        """Replace the index values of each (key, version, index) record still live at that version, its
        data, version and ttl untouched: index values a newer version of the code derives, given to records
        written before it. A record written again (or gone) since is left alone — its writer gave it the
        current values. Returns how many were re-indexed."""
        ...

    async def claim(self, key: str, ttl: float) -> bool:
        """Atomically create `key` if absent (SET NX). True for exactly one caller until it expires."""
        ...

    async def release_claim(self, key: str) -> None: ...

    async def renew_claim(self, key: str, ttl: float) -> bool:
        """Extend a live claim to expire `ttl` seconds from now (a lease its holder keeps renewing while it
        works, so that it frees itself soon after the holder dies). False, creating nothing, when the
        claim has expired or was released."""
        ...

    async def acquire_lock(self, name: str, ttl: float) -> str | None:
        """Try once to take a lock for `ttl` seconds; returns an owner token, or None if held."""
        ...

    async def release_lock(self, name: str, token: str) -> bool:
        """Release only if still held by `token` (a lock that expired and was retaken is left alone)."""
        ...

    async def incr(self, name: str, amount: int = 1, ttl: float | None = None) -> int:
        """Atomic counter; `ttl` sets the counter's lifetime when it is created."""
        ...

    # Batched primitives: steps of the message pipeline that would otherwise cost a round trip each,
    # done atomically in one (SQLite: one transaction; Redis: one script).

    async def acquire_lock_and_get(self, name: str, ttl: float, kind: str, key: str) -> tuple[str | None, Record | None]:
        """`acquire_lock(name, ttl)` and, if it was taken, `get(kind, key)`: (token, record or None), or
        (None, None) when the lock is held by someone else."""
        ...

    async def get_or_claim(self, kind: str, key: str, claim_key: str, ttl: float,
                           lock: LockRead | None = None) -> Claim:
        """The live record `kind/key` if there is one (nothing is claimed then); otherwise `claim(claim_key,
        ttl)`. With `lock`, the one claimant also tries once to take that lock and, if it was free, reads
        the lock's record with it (`Claim.held`)."""
        ...

    async def put_all(self, writes: list[Write]) -> None:
        """All of `writes` or none of them (one transaction): a change that spans records — an
        application and its order, a payment and the status it settles. VersionConflict when a write's
        expected version does not match; nothing is written then."""
        ...

    async def put_and_release(self, writes: list[Write], fence: Fence) -> None:
        """All of `writes` and the release of the fence's lock, or nothing: LockLost when the fence does
        not hold, VersionConflict when a write's expected version does not match (the lock is then kept,
        so the holder can redo its work and try again)."""
        ...

    async def ping(self) -> None:
        """Raise StoreError when the backend cannot serve requests."""
        ...

    async def close(self) -> None: ...


async def wait_for_lock(store: Store, name: str, ttl: float = 10.0, wait: float = 8.0) -> str:
    """Take `name` for `ttl` seconds, polling until `wait` seconds have passed (then LockTimeout).
    Returns the owner token; the caller releases it (or use `locked`)."""

    async def attempt() -> tuple[str | None, None]:
        return await store.acquire_lock(name, ttl), None

    token, _none, _asked_at = await _poll_lock(name, wait, attempt)
    return token


async def wait_for_lock_and_get(store: Store, name: str, ttl: float, wait: float, kind: str, key: str) -> HeldLock:
    """`wait_for_lock`, reading the record `kind/key` in the round trip that takes the lock."""
    return HeldLock(*await _poll_lock(name, wait, lambda: store.acquire_lock_and_get(name, ttl, kind, key)))


async def _poll_lock(name: str, wait: float,
                     attempt: Callable[[], Awaitable[tuple[str | None, Any]]]) -> tuple[str, Any, float]:
    """(token, what the attempt read with it, time.monotonic() when that successful attempt was sent)."""
    deadline = time.monotonic() + wait
    delay = 0.002
    while True:
        asked_at = time.monotonic()
        token, extra = await attempt()
        if token is not None:
            return token, extra, asked_at
        if time.monotonic() >= deadline:
            raise LockTimeout(name)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


@contextlib.asynccontextmanager
async def locked(store: Store, name: str, ttl: float = 10.0, wait: float = 8.0) -> AsyncIterator[str]:
    """Hold `name` for the duration of the block, polling until `wait` seconds have passed."""
    token = await wait_for_lock(store, name, ttl, wait)
    try:
        yield token
    finally:
        with contextlib.suppress(StoreError):
            await store.release_lock(name, token)
