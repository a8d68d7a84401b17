"""One contract suite, run against every Store backend (fixture `store`: sqlite and redis)."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import random

import pytest

from bot.privacy import FieldCipher
from bot.store.base import (Claim, Fence, LockLost, LockRead, LockTimeout, Record, StoreError, VersionConflict,
                            Write, locked)
from bot.store.repos import PAID, SUBMITTED, Applications, Roster, Sessions

NOW = dt.datetime(2026, 9, 10, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def fake_id_number(rng: random.Random) -> str:
    """A valid GB 11643 number (checksum right) that belongs to nobody in particular."""
    born = dt.date(2012, 1, 1) + dt.timedelta(days=rng.randrange(4000))
    body = f"310115{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS)) % 11]


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher(b"k" * 32)


# --- records ---------------------------------------------------------------------------------


async def test_get_missing_and_versions_increment(store):
    assert await store.get("thing", "a") is None
    assert await store.put("thing", "a", {"n": 1, "名": "张三"}) == 1
    assert await store.put("thing", "a", {"n": 2}) == 2
    rec = await store.get("thing", "a")
    assert rec.data == {"n": 2} and rec.version == 2
    assert await store.get("other", "a") is None  # kinds are separate


async def test_compare_and_set(store):
    assert await store.put("thing", "a", {"v": 1}, expected_version=0) == 1
    with pytest.raises(VersionConflict):
        await store.put("thing", "a", {"v": "again"}, expected_version=0)
    with pytest.raises(VersionConflict):
        await store.put("thing", "a", {"v": "stale"}, expected_version=5)
    assert await store.put("thing", "a", {"v": 2}, expected_version=1) == 2
    with pytest.raises(VersionConflict):
        await store.put("thing", "b", {}, expected_version=1)  # absent record is version 0
    assert (await store.get("thing", "a")).data == {"v": 2}


async def test_concurrent_cas_only_one_wins(store):
    await store.put("thing", "a", {"v": 0})

    async def bump(i: int) -> bool:
        try:
            await store.put("thing", "a", {"v": i}, expected_version=1)
            return True
        except VersionConflict:
            return False

    assert sum(await asyncio.gather(*(bump(i) for i in range(20)))) == 1
    assert (await store.get("thing", "a")).version == 2


async def test_query_by_index_and_reindex_on_update(store):
    await store.put("app", "k2", {"n": 2}, index={"status": "paid", "scheme": "x"})
    await store.put("app", "k1", {"n": 1}, index={"status": "draft", "scheme": "x"})
    await store.put("app", "k3", {"n": 3}, index={"status": "paid", "scheme": "y"})
    assert [k for k, _ in await store.query("app", status="paid")] == ["k2", "k3"]
    assert [k for k, _ in await store.query("app", status="paid", scheme="x")] == ["k2"]
    assert [k for k, _ in await store.query("app")] == ["k1", "k2", "k3"]
    assert await store.query("app", status="nope") == []
    assert await store.query("nothing") == []

    await store.put("app", "k1", {"n": 10}, index={"status": "paid", "scheme": "x"})
    assert [k for k, _ in await store.query("app", status="draft")] == []
    paid = await store.query("app", status="paid")
    assert [(k, r.data["n"]) for k, r in paid] == [("k1", 10), ("k2", 2), ("k3", 3)]
    assert await store.count("app", status="paid") == 3
    assert await store.count("app", status="paid", scheme="y") == 1
    assert await store.count("app") == 3
    assert await store.count("app", status="draft") == 0


async def test_limit_and_ordering(store):
    keys = [f"u{i:03d}" for i in range(30)]
    for key in random.Random(1).sample(keys, len(keys)):
        await store.put("user", key, {"k": key}, index={"group": "g"})
    assert [k for k, _ in await store.query("user", limit=5)] == keys[:5]
    assert [k for k, _ in await store.query("user", limit=3, group="g")] == keys[:3]
    assert await store.query("user", limit=0) == []


async def test_delete(store):
    await store.put("thing", "a", {}, index={"f": "1"})
    assert await store.delete("thing", "a") is True
    assert await store.delete("thing", "a") is False
    assert await store.get("thing", "a") is None
    assert await store.query("thing", f="1") == [] and await store.count("thing") == 0
    assert await store.put("thing", "a", {}, expected_version=0) == 1  # starts afresh


async def test_ttl_expiry(store):
    await store.put("sess", "short", {"x": 1}, ttl=0.2, index={"f": "1"})
    await store.put("sess", "long", {"x": 2}, ttl=60, index={"f": "1"})
    assert (await store.get("sess", "short")).data == {"x": 1}
    await asyncio.sleep(0.3)
    assert await store.get("sess", "short") is None
    assert [k for k, _ in await store.query("sess", f="1")] == ["long"]
    assert await store.count("sess") == 1
    # An expired record counts as absent: it can be created again from version 0,
    # and its old index values do not come back.
    assert await store.put("sess", "short", {"x": 3}, expected_version=0, index={"f": "2"}) == 1
    assert [k for k, _ in await store.query("sess", f="1")] == ["long"]
    assert [k for k, _ in await store.query("sess", f="2")] == ["short"]
    # A write without ttl makes the record permanent again.
    await store.put("sess", "long", {"x": 4})
    assert (await store.get("sess", "long")).data == {"x": 4}


async def test_put_many_ten_thousand(store):
    items = [(f"r{i:05d}", {"i": i}, {"bucket": str(i % 10)}) for i in range(10_000)]
    await store.put_many("bulk", items)
    assert await store.count("bulk") == 10_000
    assert await store.count("bulk", bucket="3") == 1_000
    first = await store.query("bulk", limit=2, bucket="7")
    assert [(k, r.data, r.version) for k, r in first] == [("r00007", {"i": 7}, 1), ("r00017", {"i": 17}, 1)]
    await store.put_many("bulk", [("r00007", {"i": -7}, {"bucket": "x"})])
    assert (await store.get("bulk", "r00007")).version == 2
    assert await store.count("bulk", bucket="7") == 999
    await store.put_many("bulk", [])


# --- atomic primitives -----------------------------------------------------------------------


async def test_claim_exactly_once(store):
    results = await asyncio.gather(*(store.claim("msg:123", ttl=30) for _ in range(50)))
    assert results.count(True) == 1
    assert await store.claim("msg:456", ttl=30) is True
    await store.release_claim("msg:123")
    assert await store.claim("msg:123", ttl=30) is True


async def test_renew_claim_extends_only_a_live_claim(store):
    assert await store.claim("lease", ttl=0.3) is True
    await asyncio.sleep(0.2)
    assert await store.renew_claim("lease", ttl=0.5) is True
    await asyncio.sleep(0.2)  # past the first ttl: held by the renewal
    assert await store.claim("lease", ttl=30) is False
    await asyncio.sleep(0.4)  # past the renewal
    assert await store.renew_claim("lease", ttl=30) is False  # expired: nothing to renew
    assert await store.claim("lease", ttl=30) is True
    await store.release_claim("lease")
    assert await store.renew_claim("lease", ttl=30) is False
    assert await store.claim("lease", ttl=30) is True  # a failed renewal created nothing


async def test_claim_expires(store):
    assert await store.claim("c", ttl=0.2) is True
    assert await store.claim("c", ttl=0.2) is False
    await asyncio.sleep(0.3)
    assert await store.claim("c", ttl=0.2) is True


async def test_locks(store):
    token = await store.acquire_lock("user:1", ttl=30)
    assert token
    assert await store.acquire_lock("user:1", ttl=30) is None
    assert await store.acquire_lock("user:2", ttl=30) is not None
    assert await store.release_lock("user:1", "not-the-owner") is False
    assert await store.acquire_lock("user:1", ttl=30) is None
    assert await store.release_lock("user:1", token) is True
    assert await store.release_lock("user:1", token) is False
    assert await store.acquire_lock("user:1", ttl=30) is not None


async def test_lock_expiry_and_retaken_lock_is_not_released_by_old_owner(store):
    old = await store.acquire_lock("job", ttl=0.2)
    await asyncio.sleep(0.3)
    new = await store.acquire_lock("job", ttl=30)
    assert new and new != old
    assert await store.release_lock("job", old) is False
    assert await store.acquire_lock("job", ttl=30) is None
    assert await store.release_lock("job", new) is True


async def test_locked_helper_gives_mutual_exclusion(store):
    inside, overlaps = 0, 0

    async def worker() -> None:
        nonlocal inside, overlaps
        async with locked(store, "turn:u1", ttl=5, wait=5):
            inside += 1
            overlaps += inside > 1
            await asyncio.sleep(0.005)
            inside -= 1

    await asyncio.gather(*(worker() for _ in range(8)))
    assert overlaps == 0
    assert await store.acquire_lock("turn:u1", ttl=1) is not None  # released after the blocks


async def test_locked_helper_times_out(store):
    await store.acquire_lock("busy", ttl=30)
    with pytest.raises(LockTimeout):
        async with locked(store, "busy", ttl=1, wait=0.1):
            pass


async def test_incr(store):
    results = await asyncio.gather(*(store.incr("hits") for _ in range(50)))
    assert sorted(results) == list(range(1, 51))
    assert await store.incr("hits", 10) == 60
    assert await store.incr("rate", ttl=0.2) == 1
    assert await store.incr("rate", ttl=0.2) == 2
    await asyncio.sleep(0.3)
    assert await store.incr("rate", ttl=0.2) == 1  # expired → starts again


async def test_get_or_claim_claims_only_while_the_record_is_absent(store):
    assert await store.get_or_claim("reply", "m1", "inflight:m1", ttl=30) == Claim(None, True)
    assert await store.get_or_claim("reply", "m1", "inflight:m1", ttl=30) == Claim(None, False)  # claimed above
    await store.put("reply", "m2", {"text": "好"}, ttl=30)
    claim = await store.get_or_claim("reply", "m2", "inflight:m2", ttl=30)
    assert claim == Claim(Record({"text": "好"}, 1), False)
    assert await store.claim("inflight:m2", ttl=30) is True  # the hit above claimed nothing


async def test_get_or_claim_exactly_once_and_after_expiry(store):
    # A claim long enough to outlive the 20 calls on a loaded machine (a 0.2 s one could lapse midway
    # through a slow pool and let a second caller claim it legitimately).
    results = await asyncio.gather(*(store.get_or_claim("reply", "m", "inflight:m", ttl=30) for _ in range(20)))
    assert [c.claimed for c in results].count(True) == 1
    assert all(c.record is None and c.held is None for c in results)
    assert await store.get_or_claim("reply", "short", "inflight:short", ttl=1) == Claim(None, True)
    assert await store.get_or_claim("reply", "short", "inflight:short", ttl=1) == Claim(None, False)  # held
    await store.put("reply", "gone", {"text": "x"}, ttl=1)
    await asyncio.sleep(1.2)
    assert await store.get_or_claim("reply", "short", "inflight:short", ttl=30) == Claim(None, True)  # expired
    assert await store.get_or_claim("reply", "gone", "inflight:gone", ttl=30) == Claim(None, True)  # record expired


async def test_get_or_claim_takes_the_lock_and_reads_only_for_the_claimant(store):
    lock = LockRead("user:u", 30, "session", "u")
    await store.put("session", "u", {"step": 1})
    claim = await store.get_or_claim("reply", "m1", "inflight:m1", ttl=30, lock=lock)
    assert claim.claimed and claim.record is None
    assert claim.held.token and claim.held.record == Record({"step": 1}, 1)
    assert await store.acquire_lock("user:u", ttl=30) is None  # taken by the claim
    # The lock is held now: the next message is claimed, but must wait for the lock (nothing read).
    assert await store.get_or_claim("reply", "m2", "inflight:m2", ttl=30, lock=lock) == Claim(None, True)
    # A retry of m1 claims nothing, so it takes no lock either; nor does a message already answered.
    await store.release_lock("user:u", claim.held.token)
    assert await store.get_or_claim("reply", "m1", "inflight:m1", ttl=30, lock=lock) == Claim(None, False)
    await store.put("reply", "m3", {"text": "答"}, ttl=30)
    assert (await store.get_or_claim("reply", "m3", "inflight:m3", ttl=30, lock=lock)).held is None
    token = await store.acquire_lock("user:u", ttl=30)
    assert token is not None  # both left the lock free
    # A new guardian: the lock is taken with no session to read; its fence lets the commit through.
    claim = await store.get_or_claim("reply", "n1", "inflight:n1", ttl=30, lock=LockRead("user:n", 30, "session", "n"))
    assert claim.held.record is None
    await store.put_and_release([Write("session", "n", {"step": 1}, expected_version=0)], claim.held.fence("user:n", 30))
    assert await store.get("session", "n") == Record({"step": 1}, 1)


async def test_put_and_release_writes_all_then_releases_the_lock(store):
    token = await store.acquire_lock("user:1", ttl=30)
    await store.put("thing", "a", {"n": 1}, index={"f": "1"})
    await store.put_and_release([Write("thing", "a", {"n": 2}, expected_version=1, index={"f": "2"}),
                                 Write("reply", "m1", {"text": "第一条"}, ttl=0.2)], Fence("user:1", token, 30))
    assert [(k, r.data, r.version) for k, r in await store.query("thing", f="2")] == [("a", {"n": 2}, 2)]
    assert await store.query("thing", f="1") == []  # index values replaced like put
    assert (await store.get("reply", "m1")).data == {"text": "第一条"}
    assert await store.acquire_lock("user:1", ttl=30) is not None  # released
    await asyncio.sleep(0.3)
    assert await store.get("reply", "m1") is None  # the ttl applies


async def test_put_and_release_writes_nothing_on_a_version_conflict_and_keeps_the_lock(store):
    token = await store.acquire_lock("user:1", ttl=30)
    await store.put("session", "u", {"step": 1})
    with pytest.raises(VersionConflict):
        await store.put_and_release([Write("reply", "m1", {"text": "答"}),
                                     Write("session", "u", {"step": 2}, expected_version=0)], Fence("user:1", token, 30))
    assert await store.get("reply", "m1") is None and await store.get("session", "u") == Record({"step": 1}, 1)
    assert await store.acquire_lock("user:1", ttl=30) is None  # still ours: the turn is redone under it
    await store.put_and_release([Write("session", "u", {"step": 2}, expected_version=1)], Fence("user:1", token, 30))
    assert await store.get("session", "u") == Record({"step": 2}, 2)


async def test_put_and_release_needs_the_lock_held_by_its_token(store):
    token = await store.acquire_lock("user:f", ttl=30)
    write = Write("thing", "f", {"v": "refused"})
    for fence in (Fence("user:f", "not-the-owner", 30), Fence("user:other", token, 30)):
        with pytest.raises(LockLost):
            await store.put_and_release([write], fence)
    assert await store.acquire_lock("user:f", ttl=30) is None  # a refused fence releases nothing
    await store.release_lock("user:f", token)
    with pytest.raises(LockLost):
        await store.put_and_release([write], Fence("user:f", token, 30))  # after release
    short = await store.acquire_lock("user:f", ttl=0.2)
    await asyncio.sleep(0.3)
    with pytest.raises(LockLost):
        await store.put_and_release([write], Fence("user:f", short, 0))  # after expiry
    assert await store.get("thing", "f") is None  # nothing refused was written
    assert isinstance(LockLost("x"), StoreError)  # callers answer 系统繁忙 for it like any store failure


async def test_put_many_with_a_key_twice_keeps_the_last(store):
    await store.put_many("row", [("a", {"n": 1}, {"f": "1"}), ("b", {"n": 2}, None), ("a", {"n": 3}, {"f": "3"})])
    assert (await store.get("row", "a")).data == {"n": 3}
    assert [k for k, _ in await store.query("row", f="3")] == ["a"] and await store.query("row", f="1") == []


async def test_put_all_writes_every_record_or_none(store):
    await store.put("application", "A1", {"status": "pre_approved"}, index={"status": "pre_approved"})
    await store.put_all([Write("application", "A1", {"status": "awaiting_payment"}, expected_version=1,
                               index={"status": "awaiting_payment"}),
                         Write("order", "A1", {"order_no": "N1"}, expected_version=0, index={"order_no": "N1"})])
    assert (await store.get("application", "A1")).data == {"status": "awaiting_payment"}
    assert [k for k, _ in await store.query("order", order_no="N1")] == ["A1"]
    assert await store.query("application", status="pre_approved") == []
    # The second write's expected version is stale: the first, though it would match, is not written.
    with pytest.raises(VersionConflict):
        await store.put_all([Write("application", "A1", {"status": "paid"}, expected_version=2, index={"status": "paid"}),
                             Write("order", "A1", {"order_no": "N1", "status": "paid"}, expected_version=0)])
    assert await store.get("application", "A1") == Record({"status": "awaiting_payment"}, 2)
    assert await store.get("order", "A1") == Record({"order_no": "N1"}, 1)
    assert await store.query("application", status="paid") == []


async def test_acquire_lock_and_get_reads_only_when_it_takes_the_lock(store):
    token, record = await store.acquire_lock_and_get("user:3", 30, "session", "u")
    assert token and record is None  # taken; no session yet
    await store.put("session", "u", {"step": 1})
    assert await store.acquire_lock_and_get("user:3", 30, "session", "u") == (None, None)  # held
    assert await store.release_lock("user:3", token)
    token, record = await store.acquire_lock_and_get("user:3", 30, "session", "u")
    assert token and record == Record({"step": 1}, 1)
    assert await store.acquire_lock("user:3", ttl=30) is None


async def test_ping(store):
    await store.ping()


# --- restart and repositories ----------------------------------------------------------------


async def test_session_survives_restart_and_is_encrypted(store_maker, cipher):
    first = await store_maker.ready()
    sessions = Sessions(first, cipher)
    data, version = await sessions.load("openid-1")
    assert version == 0
    id_number, phone = fake_id_number(random.Random(7)), "17612342353"
    data.update(state="ask_phone", slots={"child": {"id_number": id_number}, "phone": phone})
    assert await sessions.save("openid-1", data, version) == 1
    with pytest.raises(VersionConflict):
        await sessions.save("openid-1", data, 0)
    await first.close()

    second = store_maker.open()
    loaded, version = await Sessions(second, cipher).load("openid-1")
    assert version == 1
    assert loaded["slots"] == {"child": {"id_number": id_number}, "phone": phone}
    raw = json.dumps((await second.get(Sessions.KIND, "openid-1")).data)
    assert id_number not in raw and phone not in raw


async def test_applications_repository(store, cipher):
    apps = Applications(store, cipher)
    id_number = fake_id_number(random.Random(3))
    created = await apps.create("openid-1", "sh_student", {"child": {"name": "小明", "id_number": id_number},
                                                          "phone": "17612342353"}, NOW)
    assert created["status"] == SUBMITTED
    raw = json.dumps((await store.get(Applications.KIND, created["id"])).data, ensure_ascii=False)
    assert id_number not in raw and "17612342353" not in raw

    found = await apps.find_by_id_number(id_number)
    assert [a["id"] for a in found] == [created["id"]]
    assert found[0]["child"]["id_number"] == id_number
    assert await apps.find_by_id_number(id_number, scheme="other") == []

    later = NOW + dt.timedelta(hours=1)
    paid = await apps.update(created["id"], later, status=PAID, expect_status=(SUBMITTED,), note="缴费成功")
    assert paid["status"] == PAID and [h["status"] for h in paid["history"]] == [SUBMITTED, PAID]
    with pytest.raises(VersionConflict):  # a duplicate payment notification
        await apps.update(created["id"], later, status=PAID, expect_status=(SUBMITTED,))
    assert [a["id"] for a in await apps.by_status(PAID)] == [created["id"]]
    assert await apps.by_status(SUBMITTED) == []
    assert [a["id"] for a in await apps.for_user("openid-1")] == [created["id"]]
    assert (await apps.get(created["id"]))["status"] == PAID
    with pytest.raises(KeyError):
        await apps.update("A-missing", later, status=PAID)


async def test_roster_replace_and_lookup(store, cipher):
    roster = Roster(store, cipher)
    rng = random.Random(11)
    ids = [fake_id_number(rng) for _ in range(3)]
    entries = [{"name": f"学生{i}", "id_number": n, "class_name": "一年级1班"} for i, n in enumerate(ids)]
    assert await roster.replace_school("S001", "实验小学", entries, NOW) == 3
    hit = await roster.lookup(ids[1])
    assert [(e["name"], e["school_code"], e["id_number"]) for e in hit] == [("学生1", "S001", ids[1])]

    assert await roster.replace_school("S001", "实验小学", entries[:1], NOW) == 1
    assert await roster.lookup(ids[1]) == []
    assert len(await roster.lookup(ids[0])) == 1
    assert (await roster.school("S001"))["count"] == 1
    assert [s["school_code"] for s in await roster.schools()] == ["S001"]
    raw = json.dumps([r.data for _, r in await store.query(Roster.KIND)])
    assert ids[0] not in raw


# --- failure ---------------------------------------------------------------------------------


@pytest.mark.redis
async def test_dead_redis_fails_fast():
    from bot.store.redis import RedisStore

    dead = RedisStore.from_url("redis://127.0.0.1:1/0", prefix="test:dead:")
    for call in (dead.ping(), dead.get("session", "x"), dead.put("session", "x", {}), dead.claim("m", 1)):
        with pytest.raises(StoreError):
            await asyncio.wait_for(call, timeout=20)  # a hang guard only: the client must give up by itself
    await dead.close()


async def test_sqlite_unwritable_path_is_store_error(tmp_path):
    from bot.store.sqlite import SQLiteStore

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError):
        SQLiteStore(str(blocker / "sub" / "bot.db"))
