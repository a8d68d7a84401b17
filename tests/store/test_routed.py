"""Redis for hot state, PostgreSQL for records (BOT_STORE + BOT_RECORDS): each kind lands where it belongs."""
from __future__ import annotations

import pytest

from bot.config import Settings
from bot.services import open_store
from bot.store.base import Write
from bot.store.routed import HOT_KINDS, RoutedStore
from tests.conftest import _maker

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
async def routed(tmp_path):
    async for maker in _maker("redis+postgresql", tmp_path):
        yield await maker.ready()


async def test_sessions_stay_hot_and_records_go_to_postgresql(routed: RoutedStore):
    await routed.put("session", "u1", {"step": 1})
    await routed.put("reply", "m1", {"text": "答"}, ttl=60)
    await routed.put("application", "A1", {"status": "submitted"}, index={"status": "submitted"})
    await routed.put("verification", "V1", {"ok": True})  # a kind added later is durable without listing it
    assert await routed.records.get("session", "u1") is None and await routed.hot.get("session", "u1") is not None
    assert await routed.records.get("reply", "m1") is None
    for kind, key in (("application", "A1"), ("verification", "V1")):
        assert await routed.hot.get(kind, key) is None and await routed.records.get(kind, key) is not None
    assert await routed.count("application", status="submitted") == 1
    assert await routed.incr("stats:x") == 1 and await routed.hot.incr("stats:x") == 2  # counters are hot
    assert await routed.claim("c1", 10) and not await routed.hot.claim("c1", 10)


async def test_a_batch_spanning_both_stores_is_refused(routed: RoutedStore):
    with pytest.raises(ValueError):
        await routed.put_all([Write("session", "u", {}), Write("application", "A", {})])
    assert await routed.get("application", "A") is None


def test_settings_select_the_records_store():
    settings = Settings.from_env({"BOT_STORE": "redis://127.0.0.1:6379/13",
                                  "BOT_RECORDS": "postgresql://postgres@127.0.0.1:5432/postgres",
                                  "BOT_RECORDS_POOL": "3"})
    store = open_store(settings.store_url, settings.records_url, settings.records_pool)
    assert isinstance(store, RoutedStore) and store.records.pool_size == 3
    assert "session" in HOT_KINDS and "application" not in HOT_KINDS
    with pytest.raises(ValueError):
        Settings.from_env({"BOT_RECORDS_POOL": "0"})
    with pytest.raises(ValueError):
        open_store("sqlite:///x.db", "mysql://h/db")
