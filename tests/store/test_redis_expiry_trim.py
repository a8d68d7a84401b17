"""Redis: records written with a ttl do not leave their keys in the kind set forever (the reply cache
writes one per message)."""
from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.redis


async def test_expired_records_leave_the_kind_set(redis_store):
    for i in range(30):
        await redis_store.put("reply", f"m{i}", {"text": "x"}, ttl=0.05)
    await asyncio.sleep(0.1)
    for i in range(30, 35):  # later writes trim what has expired
        await redis_store.put("reply", f"m{i}", {"text": "x"}, ttl=60)
    _, kindset, _ = redis_store._kind_keys("reply")
    assert await redis_store._redis.zcard(kindset) == 5  # 20 trimmed on the first write, 10 on the second
    for i in range(35, 40):
        await redis_store.put("reply", f"m{i}", {"text": "x"}, ttl=60)
    assert await redis_store._redis.zcard(kindset) == 10
    assert [k for k, _ in await redis_store.query("reply")] == [f"m{i}" for i in range(30, 40)]


async def test_a_record_made_permanent_is_no_longer_trimmed(redis_store):
    await redis_store.put("note", "a", {"n": 1}, ttl=0.05)
    await redis_store.put("note", "a", {"n": 2})  # rewritten without ttl: stays
    await asyncio.sleep(0.1)
    await redis_store.put("note", "b", {"n": 3}, ttl=60)
    assert [k for k, _ in await redis_store.query("note")] == ["a", "b"]
