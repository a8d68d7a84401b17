"""Records written before segments and the dashboard counted from index values (a session's open form, a
subscriber's declared schemes, an application's creation date and funnel stage) count once re-indexed —
at start-up (`ensure_indexed`) or by `python -m bot records reindex` — on every backend (fixture `store`);
and the dashboard's figures agree with the segments'."""
from __future__ import annotations

import asyncio
import datetime as dt
from types import SimpleNamespace

from bot.broadcast.segments import Segment, overview
from bot.privacy import FieldCipher
from bot.store.reindex import ensure_indexed, reindex_records
from bot.store.repos import (AWAITING_PAYMENT, AWAITING_VERIFICATION, DRAFT, PAID, PRE_APPROVED, SUBMITTED,
                             Applications, Handoffs, Sessions, Subscribers)

NOW = dt.datetime(2026, 9, 10, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
SCHEME = "sh-child-fund"
CIPHER = FieldCipher(b"k" * 32)


async def _write_as_before(store, apps: Applications) -> dict:
    """Records as the version before wrote them: sessions without their form's index values, subscribers
    without their declared schemes', applications without creation date and funnel stage."""
    form = {"schema": 1, "enroll": {"form": {"scheme": SCHEME, "state": "child_name", "slots": {}}}}
    await store.put(Sessions.KIND, "o-form", form, ttl=600)
    for openid in ("o-form", "o-declared", "o-paid"):
        data = {"openid": openid, "subscribed": True, "schemes": [SCHEME] if openid == "o-declared" else [],
                "district": "", "school_code": ""}
        await store.put(Subscribers.KIND, openid, data,
                        index={k: v for k, v in Subscribers.index_of(data).items() if not k.startswith("in.")})
    app = await apps.create("o-paid", SCHEME, {"child": {"name": "钱小付", "id_number": "310101201603022993"}}, NOW)
    app = await apps.update(app["id"], NOW, status=PAID)
    rec = await store.get(Applications.KIND, app["id"])
    old = {k: v for k, v in apps.index_of(app).items() if k not in ("created_on", "reached")}
    await store.put(Applications.KIND, app["id"], rec.data, expected_version=rec.version, index=old)
    return app


async def test_older_records_count_once_reindexed_and_a_second_run_changes_nothing(store):
    apps = Applications(store, CIPHER)
    app = await _write_as_before(store, apps)
    segment = Segment(scheme=SCHEME)
    before = await overview(store, segment, NOW)
    assert before[""] == 1 and before["started"] == 0  # only the payer, through the application's scheme

    assert await ensure_indexed(store, CIPHER) == {Sessions.KIND: 1, Subscribers.KIND: 1, Applications.KIND: 1}
    after = await overview(store, segment, NOW)
    assert after[""] == 3 and after["started"] == 1 and after["paid"] == 1 and after["no_application"] == 2
    assert await store.query_index(Applications.KIND, ("created_on", "reached", "id_hash")) == [
        (app["id"], {"created_on": "2026-09-10", "reached": "paid", "id_hash": CIPHER.blind("310101201603022993")})]
    assert (await store.get(Sessions.KIND, "o-form")).version == 1  # index values only: no write of the data

    assert await ensure_indexed(store, CIPHER) is None  # marked done: start-up skips it
    assert await reindex_records(store, CIPHER) == {Sessions.KIND: 0, Subscribers.KIND: 0, Applications.KIND: 0}


async def test_reindexing_while_guardians_write_leaves_every_record_with_its_own_values(store):
    apps = Applications(store, CIPHER)
    created = [await apps.create(f"o-{n}", SCHEME, {"child": {"name": f"孩子{n}"}}, NOW) for n in range(40)]
    for app in created:  # all stored without their funnel stage
        rec = await store.get(Applications.KIND, app["id"])
        await store.reindex(Applications.KIND, [(app["id"], rec.version, {"user_id": app["user_id"]})])

    async def pay_some() -> None:
        for app in created[::3]:
            await apps.update(app["id"], NOW, status=PAID)
            await asyncio.sleep(0)

    await asyncio.gather(reindex_records(store, CIPHER, batch=7), pay_some())
    indexed = dict(await store.query_index(Applications.KIND, ("status", "reached", "scheme")))
    for app in await apps.all():
        own = apps.index_of(app)
        assert indexed[app["id"]] == {"status": own["status"], "reached": own["reached"], "scheme": SCHEME}


async def test_the_dashboard_counts_what_the_segments_count(store):
    apps, sessions = Applications(store, CIPHER), Sessions(store, CIPHER)
    subscribers = Subscribers(store)
    statuses = {"o-1": SUBMITTED, "o-2": PRE_APPROVED, "o-3": AWAITING_PAYMENT, "o-4": AWAITING_VERIFICATION,
                "o-5": PAID, "o-6": DRAFT, "o-7": None, "o-8": None}
    for openid, status in statuses.items():
        await subscribers.touch(openid, NOW, add={"schemes": SCHEME})
        if status:
            app = await apps.create(openid, SCHEME, {"child": {"name": "孩子"}, "status": DRAFT}, NOW)
            if status != DRAFT:
                await apps.update(app["id"], NOW, status=SUBMITTED)
                await apps.update(app["id"], NOW, status=status)
    await sessions.save("o-7", {"enroll": {"form": {"scheme": SCHEME, "state": "child_name"}}}, 0)

    from bot.web.admin.dashboard import DashboardViews

    services = SimpleNamespace(clock=SimpleNamespace(today=lambda: NOW.date()), handoffs=Handoffs(store))
    stats = await DashboardViews(SimpleNamespace(store=store, services=services, scheme_ids=lambda: [SCHEME])).stats()
    counts = await overview(store, Segment(scheme=SCHEME), NOW)
    mine = stats["by_scheme"][SCHEME]
    assert counts["submitted"] == mine[SUBMITTED] == 1
    assert counts["unpaid"] == mine[PRE_APPROVED] + mine[AWAITING_PAYMENT] == 2
    assert counts["verifying"] == mine[AWAITING_VERIFICATION] == 1
    assert counts["paid"] == mine[PAID] == 1
    assert counts["started"] == mine[DRAFT] + stats["filling"][SCHEME] == 2
    funnel = {f["stage"]: f["count"] for f in stats["funnel"]}
    assert funnel == {"开始办理": 6, "已提交": 5, "预审通过": 4, "已缴费": 1}
    assert funnel["已提交"] == counts["submitted"] + counts["unpaid"] + counts["verifying"] + counts["paid"]
