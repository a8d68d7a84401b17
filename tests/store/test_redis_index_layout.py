"""Redis: the index sets are read without a check of each key, so they must hold exactly the live records'
values — expiring records are pruned from them by the values kept in `k:{kind}:ix`, and sets written by
an earlier version (which checked every key instead) are repaired once by `migrate`."""
from __future__ import annotations

import asyncio

import pytest

from bot.store.redis import INDEX_LAYOUT, RedisStore
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.redis


async def _as_written_before(store: RedisStore, kind: str) -> None:
    """What the earlier version left: no layout marker and no index values kept for expiring records."""
    await store._redis.hdel(f"{store.prefix}meta", "index_layout")
    await store._redis.delete(store._kind_keys(kind)[1] + ":ix")


async def test_index_sets_of_an_earlier_version_are_repaired_on_first_read(redis_store):
    await redis_store.put("sess", "live", {}, index={"form": "x"}, ttl=0.4)
    await redis_store.put("sess", "gone", {}, index={"form": "x"}, ttl=0.05)
    await redis_store.put("sess", "plain", {}, index={"form": "x"})
    await _as_written_before(redis_store, "sess")
    await asyncio.sleep(0.1)
    rprefix, kindset, xprefix = redis_store._kind_keys("sess")
    await redis_store._redis.sadd(f"{xprefix}form:x", "never")  # left by a record that expired long ago
    await redis_store._redis.sadd(f"{xprefix}form:old", "plain")  # a value the record no longer has
    await redis_store._redis.zadd(kindset, {"never": 0})

    reopened = RedisStore.from_url(REDIS_URL, prefix=redis_store.prefix)  # a new worker: checks the layout once
    try:
        assert await reopened.query_keys("sess", form="x") == ["live", "plain"]
        assert await reopened.count("sess", form="old") == 0 and await reopened.count("sess") == 2
        assert await reopened._redis.hget(f"{reopened.prefix}meta", "index_layout") == INDEX_LAYOUT
        assert await reopened.migrate() == 0  # done once
        await asyncio.sleep(0.4)  # "live" expires now, its values were kept by the repair: it leaves the set
        assert await reopened.query_keys("sess", form="x") == ["plain"] and await reopened.count("sess", form="x") == 1
        assert await reopened._redis.smembers(f"{xprefix}form:x") == {"plain"}
    finally:
        await reopened.close()


async def test_many_expired_records_are_pruned_by_the_next_read(redis_store):
    await redis_store.put_many("thing", [(f"p{n:03d}", {}, {"f": "1"}) for n in range(5)])
    for start in range(0, 700, 100):  # more than one prune page, written by put (no trimming on put_many)
        await asyncio.gather(*(redis_store.put("thing", f"t{n:03d}", {}, index={"f": "1"}, ttl=0.1)
                               for n in range(start, start + 100)))
    await asyncio.sleep(0.2)
    assert await redis_store.query_keys("thing", f="1") == [f"p{n:03d}" for n in range(5)]
    xprefix = redis_store._kind_keys("thing")[2]
    assert await redis_store._redis.scard(f"{xprefix}f:1") == 5
    assert await redis_store._redis.zcard(redis_store._kind_keys("thing")[1] + ":exp") == 0


async def test_a_deleted_expiring_record_leaves_nothing_behind(redis_store):
    await redis_store.put("sess", "a", {}, index={"form": "x"}, ttl=60)
    assert await redis_store.delete("sess", "a") is True
    _rprefix, kindset, xprefix = redis_store._kind_keys("sess")
    for key in (kindset, kindset + ":exp", kindset + ":ix", f"{xprefix}form:x"):
        assert not await redis_store._redis.exists(key), key
