"""Contract tests (every backend, fixture `store`) of what segments and the dashboard are counted from:
index values that stay exact through expiry and concurrent writes, `export` a page at a time, and
`reindex`, which gives records written by an earlier version the index values the code derives now."""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random

from bot.privacy import FieldCipher
from bot.store.base import VersionConflict
from bot.store.repos import (AWAITING_PAYMENT, AWAITING_VERIFICATION, CANCELLED, DONE, PAID, PRE_APPROVED, REJECTED,
                             SUBMITTED, Applications, reached_stage)

NOW = dt.datetime(2026, 9, 10, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


async def test_expired_records_leave_every_count_and_index_read(store):
    for n in range(30):
        await store.put("sess", f"gone{n:02d}", {}, index={"f": "1", "g": "x"}, ttl=0.1)
    await store.put("sess", "kept", {}, index={"f": "1", "g": "x"}, ttl=60)
    await store.put("sess", "plain", {}, index={"f": "1"})
    await asyncio.sleep(0.25)
    assert await store.count("sess", f="1") == 2 and await store.count("sess", f="1", g="x") == 1
    assert await store.count("sess") == 2
    assert await store.query_keys("sess", f="1") == ["kept", "plain"]
    assert await store.query_index("sess", ("g",), f="1") == [("kept", {"g": "x"}), ("plain", {})]
    # Written again after expiring, with other values: only the new ones count.
    await store.put("sess", "gone00", {}, index={"f": "2"}, ttl=60)
    assert await store.query_keys("sess", f="1") == ["kept", "plain"] and await store.query_keys("sess", f="2") == ["gone00"]
    await store.put("sess", "kept", {}, index={"f": "3"})  # made permanent with another value
    assert await store.query_keys("sess", f="1") == ["plain"] and await store.count("sess", f="3") == 1


async def test_a_few_records_among_many_matching_two_values(store):
    """Redis scans the smaller set then (not every record of the kind): results in key order all the same."""
    await store.put_many("thing", [(f"k{n:03d}", {}, {"colour": "red" if n % 10 == 0 else "blue",
                                                      "size": "L" if n % 20 == 0 else "S"}) for n in range(300)])
    assert await store.query_keys("thing", colour="red", size="L") == [f"k{n:03d}" for n in range(0, 300, 20)]
    assert await store.query_keys("thing", size="S", colour="red") == [f"k{n:03d}" for n in range(10, 300, 20)]
    assert await store.count("thing", colour="red", size="S") == 15 and await store.count("thing", colour="red") == 30
    assert (await store.query_index("thing", ("size",), colour="red"))[:2] == [("k000", {"size": "L"}),
                                                                              ("k010", {"size": "S"})]
    assert [k for k, _ in await store.query("thing", limit=2, colour="red")] == ["k000", "k010"]


async def test_export_pages_through_every_live_record_with_its_index_and_ttl(store):
    for n in range(25):
        await store.put("thing", f"k{n:02d}", {"n": n}, index={"even": str(n % 2 == 0)}, ttl=60 if n == 3 else None)
    await store.put("thing", "k99", {}, ttl=0.05)
    await asyncio.sleep(0.1)
    seen, after = [], ""
    while page := await store.export("thing", after, 10):
        seen += page
        after = page[-1].key
    assert [r.key for r in seen] == [f"k{n:02d}" for n in range(25)]
    assert seen[4].data == {"n": 4} and seen[4].version == 1 and seen[4].index == {"even": "True"}
    assert seen[4].ttl is None and 0 < seen[3].ttl <= 60


async def test_reindex_replaces_index_values_of_records_still_at_that_version(store):
    await store.put("thing", "a", {"n": 1}, index={"colour": "red"}, ttl=60)
    await store.put("thing", "b", {"n": 2}, index={"colour": "red"})
    await store.put("thing", "c", {"n": 3})
    assert await store.reindex("thing", [("a", 1, {"colour": "blue", "size": "L"}), ("b", 7, {"colour": "blue"}),
                                         ("c", 1, {"size": "S"}), ("missing", 1, {"colour": "blue"})]) == 2
    assert await store.query_keys("thing", colour="blue") == ["a"]  # b was not at version 7
    assert await store.query_keys("thing", colour="red") == ["b"]
    assert await store.query_index("thing", ("colour", "size")) == [
        ("a", {"colour": "blue", "size": "L"}), ("b", {"colour": "red"}), ("c", {"size": "S"})]
    a = await store.get("thing", "a")
    assert a.data == {"n": 1} and a.version == 1  # data and version untouched
    [exported] = [r for r in await store.export("thing") if r.key == "a"]
    assert exported.ttl is not None and exported.ttl > 50  # and its ttl


async def test_reindex_keeps_an_expiring_record_leaving_the_index_when_it_expires(store):
    await store.put("sess", "s1", {}, index={"form": "x"}, ttl=0.2)
    assert await store.reindex("sess", [("s1", 1, {"form": "y"})]) == 1
    assert await store.query_keys("sess", form="y") == ["s1"] and await store.query_keys("sess", form="x") == []
    await asyncio.sleep(0.3)
    assert await store.query_keys("sess", form="y") == [] and await store.count("sess", form="y") == 0


async def test_index_values_stay_exact_under_concurrent_status_changes(store):
    """Many workers moving the same applications through their statuses at once (compare-and-set with
    retries): the index — what the dashboard and segments count — matches every record's own values."""
    apps = Applications(store, FieldCipher(b"k" * 32))
    created = [await apps.create(f"user{n}", "sh-child-fund", {"child": {"name": f"孩子{n}"}}, NOW) for n in range(6)]
    rng = random.Random(7)
    steps = [PRE_APPROVED, AWAITING_PAYMENT, AWAITING_VERIFICATION, PAID, DONE, REJECTED, CANCELLED, SUBMITTED]

    async def worker(n: int) -> None:
        for _ in range(8):
            app = rng.choice(created)
            with contextlib.suppress(VersionConflict):  # lost every retry to the others: fine here
                await apps.update(app["id"], NOW + dt.timedelta(minutes=n), status=rng.choice(steps))

    await asyncio.gather(*(worker(n) for n in range(8)))
    fields = ("status", "reached", "user_id")
    indexed = dict(await store.query_index(Applications.KIND, fields))
    for app in await apps.all():
        own = apps.index_of(app)
        assert indexed[app["id"]] == {f: own[f] for f in fields}
        assert own["reached"] == reached_stage(app)
    for status in steps:
        assert await store.count(Applications.KIND, status=status) == sum(a["status"] == status for a in await apps.all())


def test_the_furthest_funnel_stage_counts_the_history_and_a_declared_exemption_as_pre_approved():
    def app(status: str, *history: str) -> dict:
        return {"status": status, "history": [{"status": s} for s in history]}

    assert reached_stage(app("draft")) == ""
    assert reached_stage(app(SUBMITTED, SUBMITTED)) == "submitted"
    assert reached_stage(app(REJECTED, SUBMITTED, REJECTED)) == "submitted"
    assert reached_stage(app(AWAITING_VERIFICATION, SUBMITTED)) == "pre_approved"  # 预审通过，免缴资格待审核
    assert reached_stage(app("expired", SUBMITTED, AWAITING_PAYMENT)) == "pre_approved"
    assert reached_stage(app(DONE, SUBMITTED, PAID)) == "paid"
