"""Redis backend: the shared store for many workers on many machines.

Layout (every key under `prefix`, default "bot:"; kinds, index fields must not contain ":"):
  r:{kind}:{key}              hash  d = JSON data, v = version, i = JSON of the record's index values
  k:{kind}                    zset  every key of the kind, score 0, so ZRANGE BYLEX gives key order
  x:{kind}:{field}:{value}    set   keys whose index `field` equals `value`
  c:{key} / l:{name} / n:{name}     claims, locks (value = owner token), counters

Writes and index maintenance happen in Lua scripts, so each is atomic. A record with a ttl expires
on its own while its key stays in the sets; reads therefore check every candidate against the
record's current index values and clean out what is stale.

Every Redis failure becomes StoreError. Timeouts are short (1 s connect, 1 s per command, one
retry) so a dead Redis fails fast and the webhook can still answer 系统繁忙 in time; the client
reconnects by itself when Redis is back. A command that timed out may still run later (a frozen Redis
runs its queue when it thaws): the session save is therefore fenced (see base.Fence) and refused then.
"""
from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from typing import Any, Iterator

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from bot.store import codec
from bot.store.base import (Claim, ExportedRecord, Fence, HeldLock, LockLost, LockRead, Record, StoreError,
                            VersionConflict, Write)

_CHUNK = 500  # keys per round trip when reading or bulk writing

# One record write with its index maintenance: new version, or -1 - current version when `expected`
# ('' = any) does not match. `ttl` in ms, 0 = none.
_PUT_RECORD_FN = """
local function put_record(rprefix, kindset, xprefix, expected, ttl, key, data, index)
  local rkey = rprefix .. key
  local cur = redis.call('HMGET', rkey, 'v', 'i')
  local version = tonumber(cur[1]) or 0
  if expected ~= '' and tonumber(expected) ~= version then return -1 - version end
  if cur[2] then
    for field, value in pairs(cjson.decode(cur[2])) do redis.call('SREM', xprefix .. field .. ':' .. value, key) end
  end
  for field, value in pairs(cjson.decode(index)) do redis.call('SADD', xprefix .. field .. ':' .. value, key) end
  redis.call('HSET', rkey, 'd', data, 'v', version + 1, 'i', index)
  redis.call('ZADD', kindset, 0, key)
  local expiries = kindset .. ':exp'
  if ttl > 0 then
    redis.call('PEXPIRE', rkey, ttl)
    -- Expiring records (reply cache, sessions) leave the kind set when they expire, or the set
    -- would grow by one entry per message forever: trim a few expired ones on every such write.
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    redis.call('ZADD', expiries, now + ttl, key)
    for _, old in ipairs(redis.call('ZRANGEBYSCORE', expiries, 0, now, 'LIMIT', 0, 20)) do
      if redis.call('EXISTS', rprefix .. old) == 0 then redis.call('ZREM', kindset, old) end
      redis.call('ZREM', expiries, old)
    end
  else
    redis.call('PERSIST', rkey)
    redis.call('ZREM', expiries, key)
  end
  return version + 1
end
"""

# 1 if the lock was still held by the token and is now released.
_RELEASE_LOCK_FN = """
local function release_lock(lkey, token)
  if redis.call('GET', lkey) == token then return redis.call('DEL', lkey) end
  return 0
end
"""

# ARGV: record key prefix, kind zset, index key prefix, expected version ('' = any), ttl ms (0 = none),
# then (key, data JSON, index JSON) triplets. Returns the last new version, or -1 - current version
# when `expected` does not match (only meaningful for a single item).
_PUT = _PUT_RECORD_FN + """
local rprefix, kindset, xprefix, expected, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local last = 0
for n = 6, #ARGV, 3 do
  last = put_record(rprefix, kindset, xprefix, expected, ttl, ARGV[n], ARGV[n + 1], ARGV[n + 2])
  if last < 0 then return last end
end
return last
"""

# ARGV: record key prefix, kind zset, index key prefix, key. Returns 1 if a record was deleted.
_DELETE = """
local rkey = ARGV[1] .. ARGV[4]
local index = redis.call('HGET', rkey, 'i')
redis.call('ZREM', ARGV[2], ARGV[4])
if not index then return 0 end
for field, value in pairs(cjson.decode(index)) do redis.call('SREM', ARGV[3] .. field .. ':' .. value, ARGV[4]) end
redis.call('DEL', rkey)
return 1
"""

# ARGV: record key prefix, kind zset, index key prefix, filter JSON, then keys found stale by a read.
# Re-checked here because a record may have been written again since the read.
_UNINDEX_STALE = """
local rprefix, kindset, xprefix, filter = ARGV[1], ARGV[2], ARGV[3], cjson.decode(ARGV[4])
for n = 5, #ARGV do
  local key = ARGV[n]
  local index = redis.call('HGET', rprefix .. key, 'i')
  if not index then
    redis.call('ZREM', kindset, key)
    for field, value in pairs(filter) do redis.call('SREM', xprefix .. field .. ':' .. value, key) end
  else
    local current = cjson.decode(index)
    for field, value in pairs(filter) do
      if current[field] ~= value then redis.call('SREM', xprefix .. field .. ':' .. value, key) end
    end
  end
end
return 0
"""

# One page of the live records matching a filter, found and checked inside Redis so that no key makes
# a round trip: ARGV = record key prefix, filter JSON, '1' to return each live record's index JSON,
# scan cursor, page size, the set (or, without a filter, the kind zset) to scan, the other index sets.
# Returns {next cursor, live keys (each followed by its index JSON when asked), stale keys}. A scan may
# return a key twice; the caller keeps one.
_LIVE_KEYS = """
local rprefix, filter, with_index = ARGV[1], cjson.decode(ARGV[2]), ARGV[3] == '1'
local source, members, page = ARGV[6], {}, nil
if next(filter) == nil then
  page = redis.call('ZSCAN', source, ARGV[4], 'COUNT', ARGV[5])
  for n = 1, #page[2], 2 do members[#members + 1] = page[2][n] end
else
  page = redis.call('SSCAN', source, ARGV[4], 'COUNT', ARGV[5])
  members = page[2]
end
local live, stale = {}, {}
for _, key in ipairs(members) do
  local wanted = true
  for n = 7, #ARGV do
    if redis.call('SISMEMBER', ARGV[n], key) == 0 then wanted = false break end
  end
  if wanted then
    local index = redis.call('HGET', rprefix .. key, 'i')
    local ok = index ~= false
    if ok then
      local current = cjson.decode(index)
      for field, value in pairs(filter) do
        if current[field] ~= value then ok = false break end
      end
    end
    if ok then
      live[#live + 1] = key
      if with_index then live[#live + 1] = index end
    else
      stale[#stale + 1] = key
    end
  end
end
return {page[1], live, stale}
"""
_LIVE_KEYS_PAGE = 2000  # members scanned per script call: a few milliseconds of Redis time each

_RELEASE_LOCK = _RELEASE_LOCK_FN + "return release_lock(KEYS[1], ARGV[1])"

# Take a lock if it is free and read a record with it: {1, data, version}, {1} (taken; no record) or
# {0} (held by someone else).
_LOCK_AND_GET_FN = """
local function lock_and_get(lkey, rkey, token, ttl)
  if not redis.call('SET', lkey, token, 'NX', 'PX', ttl) then return {0} end
  local found = redis.call('HMGET', rkey, 'd', 'v')
  if found[1] then return {1, found[1], found[2]} end
  return {1}
end
"""

# KEYS: record, claim[, lock, locked record]. ARGV: claim ttl ms[, lock token, lock ttl ms]. Returns
# {0, data, version} (the record exists; nothing claimed), {0} (claimed by another), {1} (claimed) or,
# with a lock asked for, {1, what lock_and_get returned}.
_GET_OR_CLAIM = _LOCK_AND_GET_FN + """
local found = redis.call('HMGET', KEYS[1], 'd', 'v')
if found[1] then return {0, found[1], found[2]} end
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return {0} end
if #KEYS < 4 then return {1} end
return {1, lock_and_get(KEYS[3], KEYS[4], ARGV[2], ARGV[3])}
"""

# ARGV per write: record key prefix, kind zset, index key prefix, expected version ('' = any), ttl ms, key,
# data JSON, index JSON, from ARGV[first]. Returns nil when every expected version matches, else
# {-1, n, current version} for the first write n that does not.
_CHECK_VERSIONS_FN = """
local function check_versions(first)
  for n = first, #ARGV, 8 do
    if ARGV[n + 3] ~= '' then
      local version = tonumber(redis.call('HGET', ARGV[n] .. ARGV[n + 5], 'v')) or 0
      if tonumber(ARGV[n + 3]) ~= version then return {-1, (n - first) / 8, version} end
    end
  end
  return nil
end
local function put_all(first)
  for n = first, #ARGV, 8 do
    put_record(ARGV[n], ARGV[n + 1], ARGV[n + 2], '', tonumber(ARGV[n + 4]), ARGV[n + 5], ARGV[n + 6], ARGV[n + 7])
  end
end
"""

# Writes (ARGV as for check_versions, from 1): {1} when all are written, or check_versions' refusal.
_PUT_ALL = _PUT_RECORD_FN + _CHECK_VERSIONS_FN + """
local refused = check_versions(1)
if refused then return refused end
put_all(1)
return {1}
"""

# ARGV: fence lock key, token, least ms the lock must have left, then per write: record key prefix, kind
# zset, index key prefix, expected version ('' = any), ttl ms, key, data JSON, index JSON. Returns {1}
# (all written, lock released), {0} (the fence does not hold) or {-1, n, current version} (write n's
# expected version does not match). Nothing is written unless everything holds.
_PUT_AND_RELEASE = _PUT_RECORD_FN + _RELEASE_LOCK_FN + _CHECK_VERSIONS_FN + """
if redis.call('GET', ARGV[1]) ~= ARGV[2] or redis.call('PTTL', ARGV[1]) < tonumber(ARGV[3]) then return {0} end
local refused = check_versions(4)
if refused then return refused end
put_all(4)
release_lock(ARGV[1], ARGV[2])
return {1}
"""

# KEYS: lock, record. ARGV: token, lock ttl ms.
_LOCK_AND_GET = _LOCK_AND_GET_FN + "return lock_and_get(KEYS[1], KEYS[2], ARGV[1], ARGV[2])"

_INCR = """
local existed = redis.call('EXISTS', KEYS[1])
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if existed == 0 and tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value
"""


def _ms(seconds: float | None) -> int:
    """Seconds → milliseconds for PX/PEXPIRE (at least 1; 0 stands for "no ttl")."""
    return 0 if seconds is None else max(1, int(seconds * 1000))


def _record(data: str | None = None, version: str | None = None) -> Record | None:
    """A record hash's `d` and `v` fields (as HMGET or a script returns them) as a Record, None if absent."""
    return None if data is None else Record(codec.loads(data), int(version))


def _json(value: Any) -> str:
    return codec.dumps(value)


@contextlib.contextmanager
def _redis_errors() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError, asyncio.TimeoutError) as exc:
        raise StoreError(f"redis: {type(exc).__name__}: {exc}") from exc


class RedisStore:
    """`Store` on Redis (see bot.store.base for the contract)."""

    def __init__(self, client: Redis, prefix: str = "bot:") -> None:
        self._redis, self.prefix = client, prefix
        # Half the command timeout: a fenced write that runs later than this after being sent is refused,
        # and one that runs sooner is answered before the sender's timeout.
        timeout = client.connection_pool.connection_kwargs.get("socket_timeout") or 1.0
        self.late_write_grace = timeout / 2
        self._put = client.register_script(_PUT)
        self._delete = client.register_script(_DELETE)
        self._unindex_stale = client.register_script(_UNINDEX_STALE)
        self._live_keys_script = client.register_script(_LIVE_KEYS)
        self._release_lock = client.register_script(_RELEASE_LOCK)
        self._incr = client.register_script(_INCR)
        self._get_or_claim = client.register_script(_GET_OR_CLAIM)
        self._put_and_release = client.register_script(_PUT_AND_RELEASE)
        self._put_all = client.register_script(_PUT_ALL)
        self._lock_and_get = client.register_script(_LOCK_AND_GET)

    @classmethod
    def from_url(cls, url: str, prefix: str = "bot:") -> "RedisStore":
        client = Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=1.0, socket_timeout=1.0,
            retry=Retry(NoBackoff(), 1),  # one quick retry on a broken pooled connection, then give up
        )
        return cls(client, prefix)

    def _kind_keys(self, kind: str) -> tuple[str, str, str]:
        """(record key prefix, kind zset, index key prefix) — the first ARGVs of the scripts."""
        return f"{self.prefix}r:{kind}:", f"{self.prefix}k:{kind}", f"{self.prefix}x:{kind}:"

    # --- records -------------------------------------------------------------------------------

    async def get(self, kind: str, key: str) -> Record | None:
        with _redis_errors():
            data, version = await self._redis.hmget(f"{self.prefix}r:{kind}:{key}", "d", "v")
        return _record(data, version)

    async def put(self, kind: str, key: str, data: dict[str, Any], *, expected_version: int | None = None,
                  index: dict[str, str] | None = None, ttl: float | None = None) -> int:
        expected = "" if expected_version is None else str(int(expected_version))
        args = [*self._kind_keys(kind), expected, _ms(ttl), key, _json(data), self._index_json(index)]
        with _redis_errors():
            result = int(await self._put(args=args))
        if result < 0:
            raise VersionConflict(f"{kind}/{key}: expected version {expected_version}, found {-1 - result}")
        return result

    def _fence_args(self, fence: Fence) -> list[Any]:
        """A script's fence ARGVs: lock key, token, and the least ttl (ms) the lock must have left when
        the script runs — what the sender saw minus the grace, so a write Redis runs later than
        `late_write_grace` after it was sent (the sender has timed out by then) is refused."""
        least = int((fence.ttl_left - self.late_write_grace) * 1000)
        return [f"{self.prefix}l:{fence.lock_name}", fence.token, least]

    async def put_many(self, kind: str, items: list[tuple[str, dict[str, Any], dict[str, str] | None]]) -> None:
        head = [*self._kind_keys(kind), "", 0]
        for start in range(0, len(items), _CHUNK):
            args = list(head)
            for key, data, index in items[start:start + _CHUNK]:
                args += [key, _json(data), self._index_json(index)]
            with _redis_errors():
                await self._put(args=args)

    @staticmethod
    def _index_json(index: dict[str, str] | None) -> str:
        # A put replaces the whole record, its index values included (None → no index).
        return _json({field: str(value) for field, value in (index or {}).items()})

    async def delete(self, kind: str, key: str) -> bool:
        with _redis_errors():
            return bool(await self._delete(args=[*self._kind_keys(kind), key]))

    async def query(self, kind: str, limit: int | None = None, **index: str) -> list[tuple[str, Record]]:
        rows = await self._matching(kind, index, limit, with_data=True)
        return [(key, Record(codec.loads(data), int(version))) for key, data, version in rows]

    async def count(self, kind: str, **index: str) -> int:
        return len(await self._live_keys(kind, index, with_index=False))

    async def query_keys(self, kind: str, **index: str) -> list[str]:
        return [key for key, _index in await self._live_keys(kind, index, with_index=False)]

    async def query_index(self, kind: str, fields: tuple[str, ...], **index: str) -> list[tuple[str, dict[str, str]]]:
        return [(key, {f: v for f, v in codec.loads(current).items() if f in fields})
                for key, current in await self._live_keys(kind, index, with_index=True)]

    async def _live_keys(self, kind: str, index: dict[str, str], with_index: bool) -> list[tuple[str, str | None]]:
        """(key, index JSON or None) of the live records matching `index`, in key order, found by scanning
        the smallest index set inside Redis (`_LIVE_KEYS`) a page at a time, not by a read per key."""
        rprefix, kindset, xprefix = self._kind_keys(kind)
        wanted = {field: str(value) for field, value in index.items()}
        sets = [f"{xprefix}{f}:{v}" for f, v in wanted.items()]
        found: dict[str, str | None] = {}
        stale: set[str] = set()
        with _redis_errors():
            if sets:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for name in sets:
                        pipe.scard(name)
                    sizes = await pipe.execute()
                sets = [name for _size, name in sorted(zip(sizes, sets))]
            source, others = (sets[0], sets[1:]) if sets else (kindset, [])
            cursor = "0"
            while True:
                cursor, live, gone = await self._live_keys_script(
                    args=[rprefix, _json(wanted), "1" if with_index else "0", cursor, _LIVE_KEYS_PAGE, source, *others])
                if with_index:
                    found.update(zip(live[::2], live[1::2]))
                else:
                    found.update((key, None) for key in live)
                stale.update(gone)
                if str(cursor) == "0":
                    break
            if stale:
                await self._unindex_stale(args=[rprefix, kindset, xprefix, _json(wanted), *sorted(stale)])
        return sorted(found.items())

    async def _matching(self, kind: str, index: dict[str, str], limit: int | None,
                        with_data: bool) -> list[tuple[str, str | None, str | None]]:
        """(key, data, version) of live records matching `index`, in key order, up to `limit`.
        Candidates come from the index sets; each is checked against the record itself."""
        rprefix, kindset, xprefix = self._kind_keys(kind)
        wanted = {field: str(value) for field, value in index.items()}
        found: list[tuple[str, str | None, str | None]] = []
        stale: list[str] = []
        with _redis_errors():
            if wanted:
                candidates = sorted(await self._redis.sinter([f"{xprefix}{f}:{v}" for f, v in wanted.items()]))
            else:
                candidates = await self._redis.zrange(kindset, "-", "+", bylex=True)
            fields = ("d", "v", "i") if with_data else ("v", "i")
            for start in range(0, len(candidates), _CHUNK):
                if limit is not None and len(found) >= limit:
                    break
                chunk = candidates[start:start + _CHUNK]
                async with self._redis.pipeline(transaction=False) as pipe:
                    for key in chunk:
                        pipe.hmget(rprefix + key, *fields)
                    replies = await pipe.execute()
                for key, reply in zip(chunk, replies):
                    data, version, current = reply if with_data else (None, *reply)
                    if version is None or any(codec.loads(current).get(f) != v for f, v in wanted.items()):
                        stale.append(key)
                    elif limit is None or len(found) < limit:
                        found.append((key, data, version))
            if stale:
                await self._unindex_stale(args=[rprefix, kindset, xprefix, _json(wanted), *stale])
        return found

    # --- atomic primitives ---------------------------------------------------------------------

    async def claim(self, key: str, ttl: float) -> bool:
        with _redis_errors():
            return bool(await self._redis.set(f"{self.prefix}c:{key}", "1", nx=True, px=_ms(ttl)))

    async def release_claim(self, key: str) -> None:
        with _redis_errors():
            await self._redis.delete(f"{self.prefix}c:{key}")

    async def renew_claim(self, key: str, ttl: float) -> bool:
        with _redis_errors():
            return bool(await self._redis.pexpire(f"{self.prefix}c:{key}", _ms(ttl)))

    async def acquire_lock(self, name: str, ttl: float) -> str | None:
        token = secrets.token_hex(16)
        with _redis_errors():
            taken = await self._redis.set(f"{self.prefix}l:{name}", token, nx=True, px=_ms(ttl))
        return token if taken else None

    async def release_lock(self, name: str, token: str) -> bool:
        with _redis_errors():
            return bool(await self._release_lock(keys=[f"{self.prefix}l:{name}"], args=[token]))

    async def incr(self, name: str, amount: int = 1, ttl: float | None = None) -> int:
        with _redis_errors():
            return int(await self._incr(keys=[f"{self.prefix}n:{name}"], args=[int(amount), _ms(ttl)]))

    # --- batched primitives: one script each ---------------------------------------------------

    async def get_or_claim(self, kind: str, key: str, claim_key: str, ttl: float,
                           lock: LockRead | None = None) -> Claim:
        keys, args = [f"{self.prefix}r:{kind}:{key}", f"{self.prefix}c:{claim_key}"], [_ms(ttl)]
        token = ""
        if lock is not None:
            token = secrets.token_hex(16)
            keys += [f"{self.prefix}l:{lock.name}", f"{self.prefix}r:{lock.kind}:{lock.key}"]
            args += [token, _ms(lock.ttl)]
        asked_at = time.monotonic()
        with _redis_errors():
            claimed, *rest = await self._get_or_claim(keys=keys, args=args)
        if not claimed:
            return Claim(_record(*rest), False)
        if lock is None:
            return Claim(None, True)
        taken, record = self._lock_outcome(token, rest[0])
        return Claim(None, True, HeldLock(taken, record, asked_at) if taken else None)

    async def acquire_lock_and_get(self, name: str, ttl: float, kind: str, key: str) -> tuple[str | None, Record | None]:
        token = secrets.token_hex(16)
        keys = [f"{self.prefix}l:{name}", f"{self.prefix}r:{kind}:{key}"]
        with _redis_errors():
            outcome = await self._lock_and_get(keys=keys, args=[token, _ms(ttl)])
        return self._lock_outcome(token, outcome)

    @staticmethod
    def _lock_outcome(token: str, outcome: list) -> tuple[str | None, Record | None]:
        """(token, record) from what the Lua `lock_and_get` returned, (None, None) when the lock was held."""
        taken, *found = outcome
        return (token, _record(*found)) if taken else (None, None)

    def _write_args(self, writes: list[Write]) -> list[Any]:
        args: list[Any] = []
        for w in writes:
            expected = "" if w.expected_version is None else str(int(w.expected_version))
            args += [*self._kind_keys(w.kind), expected, _ms(w.ttl), w.key, _json(w.data), self._index_json(w.index)]
        return args

    @staticmethod
    def _check_refusal(writes: list[Write], outcome: list) -> None:
        if outcome[0] < 0:
            w = writes[int(outcome[1])]
            raise VersionConflict(f"{w.kind}/{w.key}: expected version {w.expected_version}, found {outcome[2]}")

    async def put_all(self, writes: list[Write]) -> None:
        with _redis_errors():
            outcome = await self._put_all(args=self._write_args(writes))
        self._check_refusal(writes, outcome)

    async def put_and_release(self, writes: list[Write], fence: Fence) -> None:
        with _redis_errors():
            outcome = await self._put_and_release(args=self._fence_args(fence) + self._write_args(writes))
        if outcome[0] == 0:
            raise LockLost(f"lock {fence.lock_name} no longer held, or the write came too late")
        self._check_refusal(writes, outcome)

    async def ping(self) -> None:
        with _redis_errors():
            await self._redis.ping()

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._redis.aclose()

    # --- export, for `python -m bot records copy` -----------------------------------------------

    async def kinds(self) -> list[str]:
        """Every kind that has records under this prefix."""
        head = f"{self.prefix}k:"
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", head) + "*"
        found = set()
        with _redis_errors():
            async for key in self._redis.scan_iter(match=pattern, count=1000):
                name = key[len(head):]
                if not name.endswith(":exp"):
                    found.add(name)
        return sorted(found)

    async def export(self, kind: str, after: str = "", limit: int = _CHUNK) -> list[ExportedRecord]:
        """Up to `limit` live records of `kind` with keys after `after`, in key order, with their version,
        index values and remaining ttl (seconds; None = none)."""
        rprefix, kindset, _xprefix = self._kind_keys(kind)
        with _redis_errors():
            keys = await self._redis.zrange(kindset, f"({after}" if after else "-", "+", bylex=True,
                                            offset=0, num=limit)
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hmget(rprefix + key, "d", "v", "i")
                    pipe.pttl(rprefix + key)
                replies = await pipe.execute()
        out = []
        for n, key in enumerate(keys):
            (data, version, index), pttl = replies[2 * n], replies[2 * n + 1]
            if data is not None:
                out.append(ExportedRecord(key, codec.loads(data), int(version), codec.loads(index or "{}"),
                                          pttl / 1000 if pttl and pttl > 0 else None))
        return out

    async def clear_prefix(self) -> int:
        """Delete every key under this store's prefix (tests, and resetting a demo). Returns the count."""
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self.prefix) + "*"
        removed = 0
        with _redis_errors():
            batch: list[str] = []
            async for key in self._redis.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    removed += await self._redis.unlink(*batch)
                    batch.clear()
            if batch:
                removed += await self._redis.unlink(*batch)
        return removed
