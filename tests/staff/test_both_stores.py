"""Segments, jobs and reminder ids on both store backends (SQLite and Redis), with a scripted sender."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.broadcast.jobs import DONE, BroadcastJobs, JobSettings
from bot.broadcast.segments import Segment, count
from bot.clock import SHANGHAI, Clock
from bot.privacy import FieldCipher
from bot.store.repos import Applications, Sessions, Subscribers


@dataclass
class Result:
    ok: bool
    status: str
    errcode: int = 0
    detail: str = ""


class ScriptedSender:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send_text(self, openid: str, text: str) -> Result:
        if openid == "o-gone":
            return Result(False, "undeliverable", 45015, "out of time limit")
        self.sent.append((openid, text))
        return Result(True, "sent")


async def test_segments_and_a_reminder_job_on_each_backend(store):
    now = dt.datetime(2026, 9, 20, 10, tzinfo=SHANGHAI)
    subscribers, apps = Subscribers(store), Applications(store, FieldCipher(b"k" * 32))
    for openid, district in (("o-a", "浦东新区"), ("o-b", "浦东新区"), ("o-c", "黄浦区"), ("o-gone", "黄浦区")):
        await subscribers.touch(openid, now - dt.timedelta(days=3 if openid == "o-c" else 0), district=district,
                                schemes=["sh-child-fund"])
    await subscribers.touch("o-out", now, opted_out=True, schemes=["sh-child-fund"])
    await apps.create("o-a", "sh-child-fund", {"status": "paid"}, now)
    await apps.create("o-b", "sh-child-fund", {"status": "draft"}, now)
    assert await count(store, Segment(scheme="sh-child-fund"), now) == 4
    assert await count(store, Segment(district="浦东新区", status="needs_action"), now) == 1
    assert await count(store, Segment(status="started"), now) == 1
    await Sessions(store, FieldCipher(b"k" * 32)).save(
        "o-c", {"enroll": {"form": {"scheme": "sh-child-fund", "state": "child_name", "slots": {}}}}, 0)
    assert await count(store, Segment(status="started"), now) == 2  # a form in progress, no draft yet
    assert await count(store, Segment(status="no_application"), now) == 2
    assert await count(store, Segment(window_only=True), now) == 3
    # A declared exemption awaiting staff: no deadline reminder pushing to pay what may be waived.
    await apps.create("o-c", "sh-child-fund", {"status": "awaiting_verification"}, now)
    assert await count(store, Segment(status="verifying"), now) == 1
    assert await count(store, Segment(district="黄浦区", status="needs_action"), now) == 1  # o-gone, not o-c
    assert await count(store, Segment(status="no_application"), now) == 1

    sender = ScriptedSender()
    jobs = BroadcastJobs(store, Clock(now), sender, JobSettings(rate=100))
    job = await jobs.create("提醒", Segment(scheme="sh-child-fund", status="needs_action"),
                            job_id="R-sh-child-fund:enrollment:20260930:7d", kind="reminder",
                            recipients=[("o-b", None), ("o-c", "您好，o-c"), ("o-gone", None)])
    again = await jobs.create("提醒", Segment(), job_id=job["id"], recipients=[("o-a", None)])
    assert again["id"] == job["id"]
    await jobs.wait(job["id"])
    progress = await jobs.progress(job["id"])
    assert progress["status"] == DONE and progress["counts"]["sent"] == 2 and progress["counts"]["failed"] == 1
    assert sorted(sender.sent) == [("o-b", "提醒"), ("o-c", "您好，o-c")]


async def test_without_a_wechat_account_broadcasts_go_to_the_simulator_outbox(tmp_path):
    from bot.broadcast import install
    from bot.delivery import outbox
    from tests.staff.conftest import make_services

    services = make_services(tmp_path, dt.datetime(2026, 9, 20, 10, tzinfo=SHANGHAI))
    services.settings.wechat_secret = ""
    try:
        await Subscribers(services.store).touch("o-sim", services.clock.now())
        jobs, _ = install(services, engine=object())
        job = await jobs.create("模拟器里能看到", Segment())
        await jobs.wait(job["id"])
        assert await outbox(services).take("o-sim") == ["模拟器里能看到"]
    finally:
        await services.store.close()


async def test_schemes_added_at_once_both_stay(store):
    """Two forms submitted together for one guardian: each adds its scheme inside the compare-and-set."""
    import asyncio

    now = dt.datetime(2026, 9, 20, 10, tzinfo=SHANGHAI)
    subscribers = Subscribers(store)
    await subscribers.touch("o-two", now, add={"schemes": "bj-child-student"})
    await asyncio.gather(subscribers.touch("o-two", now, add={"schemes": "sh-child-fund"}, district="黄浦区"),
                         subscribers.touch("o-two", now, add={"schemes": "sh-resident-student"}),
                         subscribers.touch("o-two", now, add={"reminders": "sh-child-fund"}))
    data = await subscribers.get("o-two")
    assert data["schemes"] == ["bj-child-student", "sh-child-fund", "sh-resident-student"]
    assert data["reminders"] == ["sh-child-fund"] and data["district"] == "黄浦区"
