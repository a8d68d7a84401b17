"""Automatic reminders from the rule calendar, and payment-expiry reminders.

`ReminderScheduler.tick(now)` is called every minute by the background loop with the bot clock's
time (tests pass fixed times: nothing here reads the wall clock for scheduling).

Calendar reminders: for every dated event that asks guardians to act (window closing, deadline, bank
deduction) a reminder fires `offsets_days` before it (7, 3, 1 by default, at 10:00) to the scheme's guardians
who still need to act (no paid application this round). When the bot was down at a firing time only
the most recent missed reminder fires (nobody gets "7 days left" and "3 days left" together).

Payment reminders: each application that is pre-approved but unpaid gets one reminder when its
payment deadline (`engine.deadline_for`) is `payment_notice` away (4 hours by default).

Never twice: a reminder is a broadcast job with a deterministic id ("R-<reminder id>"), created once
under a store lock (deliveries first, then the job record), whose deliveries are keyed by openid; each
(reminder id, openid) is also marked with a store claim. Sending then goes through the job machinery
(rate limit, retries, crash safety) like any broadcast, and a calendar reminder re-checks each guardian
just before sending (paid meanwhile → skipped).
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from bot.broadcast.jobs import JOB_KIND, BroadcastJobs
from bot.broadcast.segments import Segment, resolve
from bot.store.base import Store
from bot.store.repos import AWAITING_PAYMENT, PRE_APPROVED, Applications

log = logging.getLogger(__name__)

REMIND_KINDS = ("window_close", "deadline", "deduction")  # calendar events guardians must act before
CLAIM_TTL = 400 * 86400.0  # the (reminder, openid) marks outlive any reminder round
ROUND_DAYS = 200  # without a benefit period in the pack: applications this recent belong to the round


@dataclass(frozen=True)
class PlannedReminder:
    id: str
    scheme: str
    scheme_name: str
    event_name: str
    event_kind: str
    event_at: dt.datetime
    fire_at: dt.datetime
    days_before: int

    @property
    def job_id(self) -> str:
        return reminder_job_id(self.id)


def reminder_job_id(reminder_id: str) -> str:
    return "R-" + re.sub(r"[^0-9A-Za-z_.:-]", "_", reminder_id)


class ReminderScheduler:
    def __init__(self, store: Store, engine: Any, jobs: BroadcastJobs, applications: Applications | None = None, *,
                 offsets_days: tuple[int, ...] = (7, 3, 1), payment_notice: dt.timedelta = dt.timedelta(hours=4),
                 send_time: dt.time = dt.time(10, 0)) -> None:
        self.store, self.engine, self.jobs = store, engine, jobs
        self.applications = applications
        self.offsets_days = tuple(sorted(set(offsets_days), reverse=True))
        self.payment_notice = payment_notice
        self.send_time = send_time  # calendar reminders go out at a civil hour, not at 23:59:59

    async def tick(self, now: dt.datetime) -> list[str]:
        """Fire what is due at `now`; also start due scheduled broadcasts. Returns the job ids started."""
        started: list[str] = []
        for reminder in self.due(now):
            job_id = await self._fire_calendar(reminder, now)
            if job_id:
                started.append(job_id)
        started += await self._fire_payment_reminders(now)
        started += [j for j in await self.jobs.tick(now) if j not in started]
        return started

    # ----- calendar reminders ------------------------------------------------------------------
    def plan(self, start: dt.datetime, days: int = 60) -> list[PlannedReminder]:
        """Reminders whose firing time falls in [start, start + days), in order (admin schedule page)."""
        end = start + dt.timedelta(days=days)
        return [r for r in self._candidates(start, end) if start <= r.fire_at < end]

    def due(self, now: dt.datetime) -> list[PlannedReminder]:
        """For each upcoming event, the most recent reminder whose firing time has passed."""
        latest: dict[tuple[str, str, dt.datetime], PlannedReminder] = {}
        for reminder in self._candidates(now, now):
            if reminder.fire_at <= now < reminder.event_at:
                key = (reminder.scheme, reminder.event_name, reminder.event_at)
                if key not in latest or reminder.fire_at > latest[key].fire_at:
                    latest[key] = reminder
        return sorted(latest.values(), key=lambda r: r.fire_at)

    def _candidates(self, start: dt.datetime, end: dt.datetime) -> list[PlannedReminder]:
        reach = dt.timedelta(days=max(self.offsets_days, default=0))
        out = []
        for scheme in self.engine.scheme_ids:
            pack = self.engine.pack(scheme)
            for year in range(start.year, (end + reach).year + 1):
                for event in self.engine.schedule(scheme, year):
                    if event.kind not in REMIND_KINDS or not start <= event.at <= end + reach + dt.timedelta(days=1):
                        continue
                    for days in self.offsets_days:
                        out.append(PlannedReminder(
                            id=f"{scheme}:{event.id or event.name}:{event.at:%Y%m%d}:{days}d", scheme=scheme,
                            scheme_name=pack.short_name or pack.name, event_name=event.name, event_kind=event.kind,
                            event_at=event.at, fire_at=self._fire_time(event.at, days), days_before=days))
        return sorted(out, key=lambda r: (r.fire_at, r.id))

    def _fire_time(self, event_at: dt.datetime, days: int) -> dt.datetime:
        day = event_at.date() - dt.timedelta(days=days)
        return dt.datetime.combine(day, self.send_time, tzinfo=event_at.tzinfo)

    async def _fire_calendar(self, reminder: PlannedReminder, now: dt.datetime) -> str | None:
        segment = Segment(scheme=reminder.scheme, status="needs_action", since=self._round_start(reminder).isoformat())
        text = self._calendar_text(reminder, now)
        return await self._fire(reminder.id, segment, text, now, title=f"{reminder.scheme_name}：{reminder.event_name}")

    def _round_start(self, reminder: PlannedReminder) -> dt.date:
        """The first day whose enrolment buys the same cover period as one made on the event's day:
        applications from before it (last year's payment) do not excuse a guardian from this round."""
        event_day = reminder.event_at.date()
        period = self._benefit_period(reminder.scheme, event_day)
        if period is not None:
            day = event_day
            for _ in range(400):
                if self._benefit_period(reminder.scheme, day - dt.timedelta(days=1)) != period:
                    break
                day -= dt.timedelta(days=1)
            return day
        if reminder.event_kind == "window_close":
            info = self.engine.windows(reminder.scheme, reminder.event_at - dt.timedelta(seconds=1))
            if info.current is not None:
                return info.current.start.date()
        return (reminder.event_at - dt.timedelta(days=ROUND_DAYS)).date()

    def _benefit_period(self, scheme: str, day: dt.date) -> Any:
        benefit_period = getattr(self.engine, "benefit_period", None)
        try:
            return benefit_period(scheme, day) if benefit_period else None
        except Exception:  # noqa: BLE001 - a pack without a benefit period: fall back to the window
            return None

    def _calendar_text(self, reminder: PlannedReminder, now: dt.datetime) -> str:
        at = reminder.event_at
        days_left = (at.date() - now.date()).days
        left = "就是今天" if days_left <= 0 else ("就在明天" if days_left == 1 else f"还有{days_left}天")
        description = ""
        for event in self.engine.schedule(reminder.scheme, at.year):
            if event.name == reminder.event_name and event.at == at:
                description = event.description
        return (f"【{reminder.scheme_name}提醒】{reminder.event_name}（{at.month}月{at.day}日）{left}。"
                f"{description}如已办理，请忽略本消息；回复“进度”可查看办理情况。").replace("。。", "。")

    # ----- payment reminders -------------------------------------------------------------------
    async def _fire_payment_reminders(self, now: dt.datetime) -> list[str]:
        started = []
        for status in (PRE_APPROVED, AWAITING_PAYMENT):
            for _, rec in await self.store.query(Applications.KIND, status=status):
                application = rec.data
                deadline = self.engine.deadline_for(application)
                if deadline is None or not deadline - self.payment_notice <= now < deadline:
                    continue
                scheme = application["scheme"]
                name = self.engine.pack(scheme).short_name if scheme in self.engine.scheme_ids else scheme
                text = (f"【缴费提醒】您提交的{name}参保申请已预审通过，请在{deadline.month}月{deadline.day}日"
                        f"{deadline:%H:%M}前完成缴费，逾期需要重新申请。回复“进度”可查看缴费方式。")
                job_id = await self._fire(f"pay:{application['id']}", Segment(scheme=scheme), text, now,
                                          recipients=[application["user_id"]], title=f"{name}：缴费截止提醒")
                if job_id:
                    started.append(job_id)
        return started

    # ----- firing ------------------------------------------------------------------------------
    async def _fire(self, reminder_id: str, segment: Segment, text: str, now: dt.datetime, *, title: str,
                    recipients: list[str] | None = None) -> str | None:
        """Create the reminder's job once; None when it was created before (or is being created)."""
        job_id = reminder_job_id(reminder_id)
        if await self.store.get(JOB_KIND, job_id) is not None:
            return None
        token = await self.store.acquire_lock(f"reminder:{reminder_id}", 60.0)
        if token is None:
            return None  # another process is firing it right now
        try:
            if await self.store.get(JOB_KIND, job_id) is not None:
                return None
            openids = recipients if recipients is not None else await resolve(self.store, segment, now)
            # Mark each (reminder, guardian). Under the lock and with no job yet, a mark that already
            # exists can only come from an attempt that crashed before its job was written — whose
            # messages were therefore never sent — so that guardian is included all the same.
            renewed = [o for o in openids if not await self.store.claim(f"reminder:{reminder_id}:{o}", CLAIM_TTL)]
            if renewed:
                log.warning("reminder %s: %d guardians marked by an interrupted attempt", reminder_id, len(renewed))
            await self.jobs.create(text, segment, job_id=job_id, kind="reminder", title=title,
                                   recipients=[(o, None) for o in openids], created_by="reminders",
                                   skip_paid=segment if recipients is None else None)  # calendar reminders
            log.info("reminder %s fired to %d guardians", reminder_id, len(openids))
            return job_id
        finally:
            await self.store.release_lock(f"reminder:{reminder_id}", token)
