"""Reminders fire on the right dates (time injected), never twice, never to paid guardians."""
from __future__ import annotations

import collections
import datetime as dt
from types import SimpleNamespace

import pytest

from bot.broadcast.jobs import BroadcastJobs, JobSettings
from bot.broadcast.reminders import ReminderScheduler
from bot.clock import SHANGHAI
from bot.config import ROOT
from bot.rules import CalendarEvent
from tests.staff.conftest import add_subscribers, make_sender

FUND = "sh-child-fund"


def at(month: int, day: int, hour: int = 9, minute: int = 0, second: int = 0, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


class CalendarEngine:
    """The rule engine's calendar surface, with the Shanghai fund's window (9月1日–9月30日) and a
    24-hour payment deadline; the real packs are exercised in test_real_rule_calendar below."""

    scheme_ids = [FUND]

    def pack(self, scheme_id):
        return SimpleNamespace(id=scheme_id, name="上海市少儿住院互助基金", short_name="少儿住院互助基金")

    def schedule(self, scheme_id, year):
        return [CalendarEvent("集中参保期开始", at(9, 1, 0, 0, year=year), "window_open", "", "", "window"),
                CalendarEvent("集中参保期截止", dt.datetime(year, 9, 30, 23, 59, 59, tzinfo=SHANGHAI), "window_close",
                              "请在截止前完成网上参保和缴费。", "", "window")]

    def windows(self, scheme_id, on):
        start = at(9, 1, 0, 0, year=on.year)
        return SimpleNamespace(current=SimpleNamespace(start=start) if on.month == 9 else None)

    def deadline_for(self, application):
        when = application.get("pre_approved_at")
        return dt.datetime.fromisoformat(when) + dt.timedelta(hours=24) if when else None


@pytest.fixture
async def setup(services, fake_api):
    sender = make_sender(services, fake_api.base_url)
    jobs = BroadcastJobs(services.store, services.clock, sender, JobSettings(rate=500, backoff_base=0.05))
    scheduler = ReminderScheduler(services.store, CalendarEngine(), jobs, services.applications)
    yield SimpleNamespace(services=services, fake=fake_api, jobs=jobs, scheduler=scheduler)
    await jobs.stop()
    await sender.close()


async def run_tick(s, when: dt.datetime) -> list[str]:
    s.services.clock.set(when)
    started = await s.scheduler.tick(when)
    for job_id in started:
        await s.jobs.wait(job_id)
    return started


async def add_application(services, user_id: str, status: str, when: dt.datetime, **extra) -> dict:
    return await services.applications.create(user_id, FUND, {"status": status, **extra}, when)


async def test_window_reminders_fire_7_3_1_days_before_once_each_and_skip_the_paid(setup):
    s = setup
    await add_subscribers(s.services, 5, schemes=[FUND])
    await add_application(s.services, "o00000", "paid", at(9, 5))
    await add_application(s.services, "o00001", "paid", at(9, 2, year=2025))  # last year's payment does not count
    await add_application(s.services, "o00002", "awaiting_payment", at(9, 6))

    assert await run_tick(s, at(9, 23, 9, 59)) == []  # not yet 10:00, 7 days before
    fired = await run_tick(s, at(9, 23, 10, 0))  # 7 days before the close (9月30日 23:59:59)
    assert len(fired) == 1
    assert sorted(s.fake.recipients) == ["o00001", "o00002", "o00003", "o00004"]
    assert "还有7天" in s.fake.texts_to("o00003")[0] and "9月30日" in s.fake.texts_to("o00003")[0]
    for minute in range(3):  # the background loop calls tick every minute: no repeats
        assert await run_tick(s, at(9, 24, 0, minute)) == []
    await run_tick(s, at(9, 27, 10, 0))
    await run_tick(s, at(9, 29, 10, 30))
    await run_tick(s, at(9, 30, 12))
    await run_tick(s, at(10, 1, 9))  # after the close: nothing more
    counts = collections.Counter(s.fake.recipients)
    assert counts == {"o00001": 3, "o00002": 3, "o00003": 3, "o00004": 3}
    assert "就在明天" in s.fake.texts_to("o00004")[-1]


async def test_a_guardian_who_pays_after_the_reminder_was_planned_is_skipped(setup):
    s = setup
    await add_subscribers(s.services, 3, schemes=[FUND])
    s.services.clock.set(at(9, 23, 10, 0))
    [job_id] = await s.scheduler.tick(s.services.clock.now())  # recipients fixed; sending not yet begun
    await add_application(s.services, "o00002", "paid", at(9, 23, 10, 0))
    await s.jobs.wait(job_id)
    assert sorted(s.fake.recipients) == ["o00000", "o00001"]
    progress = await s.jobs.progress(job_id)
    assert progress["counts"]["skipped"] == 1 and progress["status"] == "done"


async def test_missed_reminders_are_not_all_sent_at_once(setup):
    s = setup
    await add_subscribers(s.services, 2, schemes=[FUND])
    await run_tick(s, at(9, 28, 10))  # the bot was down on the 23rd: only the 3-day reminder goes out
    assert collections.Counter(s.fake.recipients) == {"o00000": 1, "o00001": 1}
    assert "还有2天" in s.fake.texts_to("o00000")[0]


async def test_payment_reminder_four_hours_before_the_deadline_once_and_not_after_payment(setup):
    s = setup
    approved = at(9, 10, 8)
    a1 = await add_application(s.services, "g1", "pre_approved", approved, pre_approved_at=approved.isoformat())
    await add_application(s.services, "g2", "awaiting_payment", approved, pre_approved_at=approved.isoformat())
    await add_application(s.services, "g3", "paid", approved, pre_approved_at=approved.isoformat())
    assert await run_tick(s, at(9, 11, 3, 59)) == []  # 4 h 1 min left
    await s.services.applications.update(a1["id"], at(9, 11, 3, 59, ), status="paid")
    assert len(await run_tick(s, at(9, 11, 4, 0))) == 1
    for minute in range(1, 4):
        assert await run_tick(s, at(9, 11, 4, minute)) == []
    assert s.fake.recipients == ["g2"]
    assert "9月11日08:00前完成缴费" in s.fake.texts_to("g2")[0]
    assert await run_tick(s, at(9, 11, 8, 1)) == []  # the deadline passed


async def test_real_rule_calendar():
    """The real packs: every reminder fires before its event, at the configured offsets."""
    from bot.rules import RuleEngine

    engine = RuleEngine.load(ROOT / "policies")
    scheduler = ReminderScheduler(None, engine, None)  # type: ignore[arg-type]
    plan = scheduler.plan(at(1, 1, 0, 0), days=366)
    assert plan, "the packs have no dated deadlines"
    for reminder in plan:
        assert reminder.event_at.date() - reminder.fire_at.date() == dt.timedelta(days=reminder.days_before)
        assert reminder.fire_at.hour == 10
        assert reminder.event_kind in ("window_close", "deadline", "deduction")
    if FUND in engine.scheme_ids:
        closes = [r for r in plan if r.scheme == FUND and r.event_kind == "window_close"]
        assert {(r.fire_at.month, r.fire_at.day) for r in closes} >= {(9, 23), (9, 27), (9, 29)}
        # Last school year's payment (before this round's cover period) does not excuse anybody.
        assert dt.date(2026, 6, 1) < scheduler._round_start(closes[0]) <= dt.date(2026, 9, 1)


async def test_a_reminder_interrupted_before_its_job_was_written_still_reaches_everybody(setup):
    s = setup
    await add_subscribers(s.services, 3, schemes=[FUND])
    [reminder] = s.scheduler.due(at(9, 23, 10, 0))
    for openid in ("o00000", "o00001"):  # marks left by a crashed attempt (no job, nothing sent)
        assert await s.services.store.claim(f"reminder:{reminder.id}:{openid}", 3600)
    await run_tick(s, at(9, 23, 10, 1))
    await run_tick(s, at(9, 23, 10, 2))
    assert collections.Counter(s.fake.recipients) == {"o00000": 1, "o00001": 1, "o00002": 1}
