"""Redis backend: the shared store for many workers on many machines.

Layout (every key under `prefix`, default "bot:"; kinds, index fields must not contain ":"):
  r:{kind}:{key}              hash  d = JSON data, v = version, i = JSON of the record's index values
  k:{kind}                    zset  every key of the kind, score 0, so ZRANGE BYLEX gives key order
  k:{kind}:exp                zset  keys of the kind's records with a ttl, scored by when they expire (ms)
  k:{kind}:ix                 hash  key → index JSON of each record with a ttl and index values
  x:{kind}:{field}:{value}    set   keys whose index `field` equals `value`
  c:{key} / l:{name} / n:{name}     claims, locks (value = owner token), counters
  meta                        hash  index_layout: the layout the index sets are in (see `migrate`)

Writes and index maintenance happen in Lua scripts, so each is atomic, and the index sets hold exactly
the live records' values: a record with a ttl expires on its own, but its index values stay in
`k:{kind}:ix`, and every read first prunes the kind's expired records from the sets (`prune`), so a
segment of 100 000 subscribers is read from the sets alone, with no check of each key.

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

# Index maintenance shared by the scripts. `index` arguments are JSON objects of field → value.
_INDEX_FN = """
local function unindex(xprefix, key, index)
  for field, value in pairs(cjson.decode(index)) do redis.call('SREM', xprefix .. field .. ':' .. value, key) end
end
local function add_index(xprefix, key, index)
  for field, value in pairs(cjson.decode(index)) do redis.call('SADD', xprefix .. field .. ':' .. value, key) end
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Take up to `limit` expired records of a kind out of the kind set and the index sets (their values are
-- in the kind's :ix hash, which outlives them). One still there at its expiry time stays for the next
-- pass. Returns {examined, removed}.
local function prune(rprefix, kindset, xprefix, now, limit)
  local expiries, ix = kindset .. ':exp', kindset .. ':ix'
  local due = redis.call('ZRANGEBYSCORE', expiries, '-inf', now, 'LIMIT', 0, limit)
  local removed = 0
  for _, key in ipairs(due) do
    if redis.call('EXISTS', rprefix .. key) == 0 then
      local index = redis.call('HGET', ix, key)
      if index then
        unindex(xprefix, key, index)
        redis.call('HDEL', ix, key)
      end
      redis.call('ZREM', kindset, key)
      redis.call('ZREM', expiries, key)
      removed = removed + 1
    end
  end
  return {#due, removed}
end
-- A record with a ttl keeps its index values in the kind's :ix hash too (none: nothing to keep).
local function keep_expiring_index(kindset, key, index)
  if index == '{}' then redis.call('HDEL', kindset .. ':ix', key) else redis.call('HSET', kindset .. ':ix', key, index) end
end
"""

# One record write with its index maintenance: new version, or -1 - current version when `expected`
# ('' = any) does not match. `ttl` in ms, 0 = none.
_PUT_RECORD_FN = _INDEX_FN + """
local function put_record(rprefix, kindset, xprefix, expected, ttl, key, data, index)
  local rkey = rprefix .. key
  local cur = redis.call('HMGET', rkey, 'v', 'i')
  local version = tonumber(cur[1]) or 0
  if expected ~= '' and tonumber(expected) ~= version then return -1 - version end
  -- The old index values: the record's, or those it left behind when it expired (not pruned yet).
  local old = cur[2] or redis.call('HGET', kindset .. ':ix', key)
  if old then unindex(xprefix, key, old) end
  add_index(xprefix, key, index)
  redis.call('HSET', rkey, 'd', data, 'v', version + 1, 'i', index)
  redis.call('ZADD', kindset, 0, key)
  local expiries = kindset .. ':exp'
  if ttl > 0 then
    redis.call('PEXPIRE', rkey, ttl)
    local now = now_ms()
    redis.call('ZADD', expiries, now + ttl, key)
    keep_expiring_index(kindset, key, index)
    -- Expiring records (reply cache, sessions) leave the sets when they expire, or the kind set would
    -- grow by one entry per message forever: prune a few on every such write (reads prune the rest).
    prune(rprefix, kindset, xprefix, now, 20)
  else
    redis.call('PERSIST', rkey)
    if redis.call('ZREM', expiries, key) == 1 then redis.call('HDEL', kindset .. ':ix', key) end
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

# ARGV: record key prefix, kind zset, index key prefix, key. Returns 1 if a live record was deleted.
_DELETE = _INDEX_FN + """
local rprefix, kindset, xprefix, key = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local index = redis.call('HGET', rprefix .. key, 'i')
local old = index or redis.call('HGET', kindset .. ':ix', key)
if old then unindex(xprefix, key, old) end
redis.call('ZREM', kindset, key)
if redis.call('ZREM', kindset .. ':exp', key) == 1 then redis.call('HDEL', kindset .. ':ix', key) end
if not index then return 0 end
redis.call('DEL', rprefix .. key)
return 1
"""

# ARGV: record key prefix, kind zset, index key prefix, limit. {examined, removed} (see prune).
_PRUNE = _INDEX_FN + "return prune(ARGV[1], ARGV[2], ARGV[3], now_ms(), tonumber(ARGV[4]))"

# New index values for records still at a given version, their data, version and ttl untouched. ARGV:
# record key prefix, kind zset, index key prefix, then (key, version, index JSON) triplets. Returns how
# many records were re-indexed.
_REINDEX = _INDEX_FN + """
local rprefix, kindset, xprefix = ARGV[1], ARGV[2], ARGV[3]
local changed = 0
for n = 4, #ARGV, 3 do
  local key, index = ARGV[n], ARGV[n + 2]
  local cur = redis.call('HMGET', rprefix .. key, 'v', 'i')
  if cur[1] and cur[1] == ARGV[n + 1] then
    if cur[2] then unindex(xprefix, key, cur[2]) end
    add_index(xprefix, key, index)
    redis.call('HSET', rprefix .. key, 'i', index)
    if redis.call('ZSCORE', kindset .. ':exp', key) then keep_expiring_index(kindset, key, index) end
    changed = changed + 1
  end
end
return changed
"""

# One page of the keys of a kind that are in every index set given. ARGV = record key prefix, kind zset,
# index key prefix, where to go on ('' = start; then what the last page returned), page size, the number
# of index fields to return with each key, those fields, then the index sets. The first page prunes the
# kind's expired records — the sets are then exact and no record is checked — puts the smallest set
# first and chooses how to scan: the kind zset in key order ('z', from after the last key returned; no
# sort needed after) when the smallest set holds a good part of the kind, else the smallest set ('s', by
# SSCAN cursor). Returns {done (1/0), where to go on (when done: which scan it was), keys (each followed
# by its values of the fields, false where it has none), the sets in the order to pass on}, or {'prune'}
# when more expired records are due than one page prunes. An 's' scan may return a key twice.
_SCAN_KEYS = _INDEX_FN + """
local rprefix, kindset, xprefix, from, count, nfields = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local fields, sets = {}, {}
for n = 7, 6 + nfields do fields[#fields + 1] = ARGV[n] end
for n = 7 + nfields, #ARGV do sets[#sets + 1] = ARGV[n] end
if from == '' then
  local pruned = prune(rprefix, kindset, xprefix, now_ms(), 100)
  if pruned[1] == 100 and pruned[2] > 0 then return {'prune'} end
  table.sort(sets, function(a, b) return redis.call('SCARD', a) < redis.call('SCARD', b) end)
  if #sets == 0 or redis.call('SCARD', sets[1]) * 4 >= redis.call('ZCARD', kindset) then from = 'z' else from = 's0' end
end
local members, done, after = {}, 0, ''
local first = 1  -- the first set a key must be looked up in
if string.sub(from, 1, 1) == 'z' then
  local start = from == 'z' and '-' or '(' .. string.sub(from, 2)
  members = redis.call('ZRANGE', kindset, start, '+', 'BYLEX', 'LIMIT', 0, count)
  if #members < count then done, after = 1, 'z' else after = 'z' .. members[#members] end
else
  local page = redis.call('SSCAN', sets[1], string.sub(from, 2), 'COUNT', count)
  members, first = page[2], 2
  if page[1] == '0' then done, after = 1, 's' else after = 's' .. page[1] end
end
for n = first, #sets do  -- one SMISMEMBER per set and thousand keys, not a call per key
  local kept = {}
  for from = 1, #members, 1000 do
    local last = math.min(from + 999, #members)
    local flags = redis.call('SMISMEMBER', sets[n], unpack(members, from, last))
    for m = from, last do
      if flags[m - from + 1] == 1 then kept[#kept + 1] = members[m] end
    end
  end
  members = kept
end
if nfields == 0 then return {done, after, members, sets} end
local found = {}
for _, key in ipairs(members) do
  local index = redis.call('HGET', rprefix .. key, 'i')
  if index then
    local values = cjson.decode(index)
    found[#found + 1] = key
    for _, field in ipairs(fields) do found[#found + 1] = values[field] or false end
  end
end
return {done, after, found, sets}
"""
_SCAN_PAGE = 2000  # members scanned per script call: about a millisecond of Redis time each
_PRUNE_PAGE = 500

# Bringing index sets written before the exact layout (`RedisStore.migrate`), a page per call.
# ARGV: record key prefix, kind zset, cursor, page size: the kind's live expiring records keep their
# index values in :ix, so that they leave the sets when they expire. Returns the next cursor.
_ADOPT_EXPIRING = _INDEX_FN + """
local rprefix, kindset = ARGV[1], ARGV[2]
local page = redis.call('ZSCAN', kindset .. ':exp', ARGV[3], 'COUNT', ARGV[4])
for n = 1, #page[2], 2 do
  local key = page[2][n]
  local index = redis.call('HGET', rprefix .. key, 'i')
  if index then keep_expiring_index(kindset, key, index) end
end
return page[1]
"""
# ARGV: record key prefix, index set, its field, its value, cursor, page size: members whose record is
# gone or no longer has that value leave the set (what expired records left behind). Returns the next cursor.
_REPAIR_SET = """
local rprefix, set, field, value = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local page = redis.call('SSCAN', set, ARGV[5], 'COUNT', ARGV[6])
for _, key in ipairs(page[2]) do
  local index = redis.call('HGET', rprefix .. key, 'i')
  if not index or cjson.decode(index)[field] ~= value then redis.call('SREM', set, key) end
end
return page[1]
"""
# ARGV: record key prefix, kind zset, cursor, page size: keys whose record is gone leave the kind set.
_REPAIR_KINDSET = """
local page = redis.call('ZSCAN', ARGV[2], ARGV[3], 'COUNT', ARGV[4])
for n = 1, #page[2], 2 do
  if redis.call('EXISTS', ARGV[1] .. page[2][n]) == 0 then redis.call('ZREM', ARGV[2], page[2][n]) end
end
return page[1]
"""
INDEX_LAYOUT = "2"  # index sets exact, expiring records' values in k:{kind}:ix

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


def _glob_escape(text: str) -> str:
    """`text` matched literally in a SCAN MATCH pattern."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


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
        self._prune = client.register_script(_PRUNE)
        self._reindex = client.register_script(_REINDEX)
        self._scan_keys_script = client.register_script(_SCAN_KEYS)
        self._adopt_expiring = client.register_script(_ADOPT_EXPIRING)
        self._repair_set = client.register_script(_REPAIR_SET)
        self._repair_kindset = client.register_script(_REPAIR_KINDSET)
        self._layout_ready = False  # the index sets are known to be in INDEX_LAYOUT (checked once per store)
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

    async def reindex(self, kind: str, items: list[tuple[str, int, dict[str, str]]]) -> int:
        changed = 0
        for start in range(0, len(items), _CHUNK):
            args = list(self._kind_keys(kind))
            for key, version, index in items[start:start + _CHUNK]:
                args += [key, str(int(version)), self._index_json(index)]
            with _redis_errors():
                changed += int(await self._reindex(args=args))
        return changed

    async def query(self, kind: str, limit: int | None = None, **index: str) -> list[tuple[str, Record]]:
        rprefix = self._kind_keys(kind)[0]
        keys = await self._scan(kind, index)
        found: list[tuple[str, Record]] = []
        for start in range(0, len(keys), _CHUNK):
            if limit is not None and len(found) >= limit:
                break
            chunk = keys[start:start + _CHUNK]
            with _redis_errors():
                async with self._redis.pipeline(transaction=False) as pipe:
                    for key in chunk:
                        pipe.hmget(rprefix + key, "d", "v")
                    replies = await pipe.execute()
            # A record that expired since the scan is left out.
            found += [(key, record) for key, reply in zip(chunk, replies) if (record := _record(*reply))]
        return found if limit is None else found[:max(int(limit), 0)]

    async def count(self, kind: str, **index: str) -> int:
        if len(index) > 1:
            return len(await self._scan(kind, index))
        await self._check_layout()
        rprefix, kindset, xprefix = self._kind_keys(kind)
        while True:
            with _redis_errors():
                async with self._redis.pipeline(transaction=False) as pipe:
                    await self._prune(args=[rprefix, kindset, xprefix, _PRUNE_PAGE], client=pipe)
                    if index:
                        pipe.scard(xprefix + "{}:{}".format(*next(iter(index.items()))))
                    else:
                        pipe.zcard(kindset)
                    (examined, removed), size = await pipe.execute()
            if examined < _PRUNE_PAGE or not removed:
                return int(size)

    async def query_keys(self, kind: str, **index: str) -> list[str]:
        return await self._scan(kind, index)

    async def query_index(self, kind: str, fields: tuple[str, ...], **index: str) -> list[tuple[str, dict[str, str]]]:
        return [(key, dict(zip(fields, values)) if None not in values else
                 {f: v for f, v in zip(fields, values) if v is not None})
                for key, values in await self._scan(kind, index, fields)]

    async def _check_layout(self) -> None:
        """The index sets must be exact before they are read without a check: `migrate` if this Redis has
        not been (looked up once per store)."""
        if not self._layout_ready:
            with _redis_errors():
                layout = await self._redis.hget(f"{self.prefix}meta", "index_layout")
            if layout != INDEX_LAYOUT:
                await self.migrate()
            self._layout_ready = True

    async def _scan(self, kind: str, index: dict[str, str], fields: tuple[str, ...] = ()) -> list[Any]:
        """The keys of the records matching `index` in key order — with `fields`, (key, its values of those
        index fields, None where it has none) — found inside Redis (`_SCAN_KEYS`) a page at a time."""
        await self._check_layout()
        rprefix, kindset, xprefix = self._kind_keys(kind)
        sets = [f"{xprefix}{field}:{value}" for field, value in index.items()]
        width = 1 + len(fields)
        found: list[Any] = []
        where = ""
        while True:
            with _redis_errors():
                page = await self._scan_keys_script(
                    args=[rprefix, kindset, xprefix, where, _SCAN_PAGE, len(fields), *fields, *sets])
                if page == ["prune"]:  # many records expired since the last read: prune them all first
                    while (await self._prune(args=[rprefix, kindset, xprefix, _PRUNE_PAGE]))[1]:
                        pass
                    continue
            done, where, keys, sets = page
            if fields:
                found += zip(keys[::width], zip(*(keys[n::width] for n in range(1, width))))
            else:
                found += keys
            if done:
                break
        if where == "z":  # the kind zset was read in key order, each key once
            return found
        if not fields:
            return sorted(set(found))
        unique = dict(found)
        return [(key, unique[key]) for key in sorted(unique)]

    async def migrate(self) -> int:
        """Bring index sets written by an earlier version (which checked every key on each read instead) to
        the exact layout: live expiring records keep their index values in `k:{kind}:ix`, and what expired
        records left in the sets is removed. Idempotent; `serve` runs it at start-up, and any read does first
        if it has not run. Returns how many index sets were checked (0 when the layout was current)."""
        meta = f"{self.prefix}meta"
        with _redis_errors():
            if await self._redis.hget(meta, "index_layout") == INDEX_LAYOUT:
                return 0
            checked = 0
            for kind in await self.kinds():
                rprefix, kindset, _xprefix = self._kind_keys(kind)
                await self._pages(self._adopt_expiring, rprefix, kindset)
                await self._pages(self._repair_kindset, rprefix, kindset)
            head = f"{self.prefix}x:"
            async for name in self._redis.scan_iter(match=_glob_escape(head) + "*", count=1000):
                kind, field, value = name[len(head):].split(":", 2)
                await self._pages(self._repair_set, self._kind_keys(kind)[0], name, field, value)
                checked += 1
            await self._redis.hset(meta, "index_layout", INDEX_LAYOUT)
        return checked

    @staticmethod
    async def _pages(script: Any, *args: Any) -> None:
        """Run a paged repair script (its cursor and page size after `args`) until the scan is done."""
        cursor = "0"
        while True:
            cursor = await script(args=[*args, cursor, _SCAN_PAGE])
            if str(cursor) == "0":
                return

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
        found = set()
        with _redis_errors():
            async for key in self._redis.scan_iter(match=_glob_escape(head) + "*", count=1000):
                name = key[len(head):]
                if ":" not in name:  # not a kind's :exp or :ix
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
        pattern = _glob_escape(self.prefix) + "*"
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
