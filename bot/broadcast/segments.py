"""Segments: who a broadcast or a reminder goes to.

A segment is a filter over subscribers (district, school, scheme, 48-hour window) combined with the
state of their children's applications. It resolves to a sorted list of OpenIDs; opted-out and
unsubscribed guardians are never included.

Everything is decided on keys and index values (`Store.query_keys`, `Store.query_index`): subscribers' district, school and
declared schemes, applications' user, scheme, status and creation date, and the scheme of the form a
guardian is filling in (the session's index) — so counting a segment of 100 000 guardians decodes no
record (only the 48-hour window filter reads the subscribers' records).
"""
from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import asdict, dataclass, fields
from typing import Any

from bot.store.base import Store
from bot.store.repos import (AWAITING_PAYMENT, AWAITING_VERIFICATION, DONE, DRAFT, PAID, PRE_APPROVED, SUBMITTED,
                             Applications, Sessions, Subscribers, created_on)

# Application-state filters a segment can use, with the label staff see.
STATUS_FILTERS: dict[str, str] = {
    "": "全部关注用户",
    "started": "已开始填写、未提交",
    "submitted": "已提交、等待预审",
    "unpaid": "预审通过、未缴费",
    "paid": "已缴费",
    "verifying": "免缴资格待审核",
    "no_application": "尚未办理",
    "needs_action": "仍需办理（未缴费、也不在免缴审核中的全部用户）",
}
_PAID = {PAID, DONE}
_UNPAID = {PRE_APPROVED, AWAITING_PAYMENT}
# A declared exemption awaiting staff's verification: the guardian has done their part for now (a deadline
# reminder would push them to pay what may be waived); a refusal makes them unpaid again.
_VERIFYING = {AWAITING_VERIFICATION}


class SegmentError(ValueError):
    """A segment description staff typed is malformed; the message is Chinese."""


@dataclass(frozen=True)
class Segment:
    scheme: str = ""  # scheme id; "" = any scheme
    district: str = ""
    school_code: str = ""
    status: str = ""  # a key of STATUS_FILTERS
    window_only: bool = False  # only guardians who wrote within the last 48 hours (客服消息 window)
    since: str = ""  # ISO date: applications created before it do not count (last year's payment)

    def __post_init__(self) -> None:
        if self.status not in STATUS_FILTERS:
            raise SegmentError(f"未知的办理状态“{self.status}”，可选：{'、'.join(k for k in STATUS_FILTERS if k)}")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "Segment":
        data = data or {}
        if not isinstance(data, dict):
            raise SegmentError("分组条件应为“名称: 值”的对象。")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise SegmentError(f"不认识的分组条件：{'、'.join(sorted(unknown))}")
        values: dict[str, Any] = {k: str(v or "").strip()[:60] for k, v in data.items() if k != "window_only"}
        if values.get("since"):
            try:
                dt.date.fromisoformat(values["since"])
            except ValueError:
                raise SegmentError("since 应为日期，如 2026-09-01。") from None
        values["window_only"] = str(data.get("window_only", "")).lower() in {"1", "true", "yes", "on"}
        return cls(**values)

    @classmethod
    def parse(cls, text: str) -> "Segment":
        """`scheme=sh-child-fund,status=unpaid,district=浦东新区` (CLI); "" or "all" = everybody."""
        text = (text or "").strip()
        if text in {"", "all", "全部"}:
            return cls()
        pairs: dict[str, str] = {}
        for part in text.replace("，", ",").split(","):
            key, sep, value = part.partition("=")
            if not sep:
                raise SegmentError(f"分组条件应写成 名称=值，例如 status=unpaid；无法理解“{part}”")
            pairs[key.strip()] = value.strip()
        return cls.from_dict(pairs)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        parts = []
        if self.scheme:
            parts.append(f"险种 {self.scheme}")
        if self.district:
            parts.append(f"区县 {self.district}")
        if self.school_code:
            parts.append(f"学校 {self.school_code}")
        parts.append(STATUS_FILTERS[self.status])
        if self.window_only:
            parts.append("48小时内互动过")
        return "，".join(parts)


async def resolve(store: Store, segment: Segment, now: dt.datetime) -> list[str]:
    """OpenIDs of the subscribers in the segment, sorted."""
    population = await _Population.load(store, segment, now)
    return population.matching(segment.status)


async def count(store: Store, segment: Segment, now: dt.datetime) -> int:
    return len(await resolve(store, segment, now))


async def overview(store: Store, segment: Segment, now: dt.datetime) -> dict[str, int]:
    """How many subscribers each status filter of STATUS_FILTERS reaches within `segment`'s other
    conditions: one read of the population for all of them (the broadcast page's table)."""
    population = await _Population.load(store, segment, now)
    return {key: len(population.matching(key)) for key in STATUS_FILTERS}


@dataclass
class _Population:
    """What a segment is decided on, read from index values only (no record is decoded): the
    subscribers, their applications' statuses, and who is in the middle of a form."""

    scheme: str
    openids: list[str]  # subscribed, not opted out, matching district/school/window (and the scheme)
    statuses: dict[str, set[str]]  # openid → statuses of their applications (of the scheme, since its date)
    filling: set[str]  # openids with a form of the scheme (any scheme when none is given) open

    @classmethod
    async def load(cls, store: Store, segment: Segment, now: dt.datetime) -> "_Population":
        index = {"subscribed": "1", "opted_out": "0"}
        if segment.district:
            index["district"] = segment.district
        if segment.school_code:
            index["school_code"] = segment.school_code

        async def subscribers() -> list[str]:
            if not segment.window_only:
                return await store.query_keys(Subscribers.KIND, **index)
            cutoff = now - dt.timedelta(hours=48)  # the last interaction is no index value: this filter reads the records
            return [key for key, r in await store.query(Subscribers.KIND, **index)
                    if _parse_time(r.data.get("last_interaction")) >= cutoff]

        async def declared() -> set[str]:
            if not segment.scheme:
                return set()
            return set(await store.query_keys(Subscribers.KIND, **{Subscribers.scheme_field(segment.scheme): "1"}))

        # Four reads that do not depend on each other, at once: a database with a pool runs them side by side.
        openids, statuses, filling, members = await asyncio.gather(
            subscribers(), _statuses_by_user(store, segment), store.query_keys(
                Sessions.KIND, **({"form_scheme": segment.scheme} if segment.scheme else {"form_open": "1"})), declared())
        filling = set(filling)
        if segment.scheme:
            # A guardian belongs to a scheme by declaring it, by an application for it, or by filling in its form.
            members |= statuses.keys() | filling
            openids = [o for o in openids if o in members]
        return cls(segment.scheme, openids, statuses, filling)

    def matching(self, status_filter: str) -> list[str]:
        if not status_filter:
            return list(self.openids)
        if status_filter == "started":
            return [o for o in self.openids if DRAFT in self.statuses.get(o, ()) or o in self.filling]
        return [o for o in self.openids if _matches(status_filter, self.statuses.get(o, set()))]


async def has_paid(store: Store, openid: str, segment: Segment) -> bool:
    """Whether the guardian has a paid application of the segment's scheme (since its date) — checked
    again just before a reminder is sent, so somebody who paid after it was planned is skipped."""
    since = segment.since or ""
    for _, rec in await store.query(Applications.KIND, user_id=openid):
        app = rec.data
        if (not segment.scheme or app.get("scheme") == segment.scheme) and app.get("status") in _PAID \
                and str(app.get("created_at", ""))[:10] >= since:
            return True
    return False


def _matches(status_filter: str, statuses: set[str]) -> bool:
    if status_filter == "submitted":
        return SUBMITTED in statuses and not statuses & (_PAID | _UNPAID | _VERIFYING)
    if status_filter == "verifying":
        return bool(statuses & _VERIFYING) and not statuses & _PAID
    if status_filter == "unpaid":
        return bool(statuses & _UNPAID) and not statuses & _PAID
    if status_filter == "paid":
        return bool(statuses & _PAID)
    if status_filter == "no_application":
        return not statuses
    if status_filter == "needs_action":
        return not statuses & _PAID and not (statuses and statuses <= _VERIFYING)
    return True


async def _statuses_by_user(store: Store, segment: Segment) -> dict[str, set[str]]:
    """user_id → the statuses of their applications (of the segment's scheme, since its date)."""
    index = {"scheme": segment.scheme} if segment.scheme else {}
    since = segment.since or ""
    result: dict[str, set[str]] = {}
    for key, values in await store.query_index(Applications.KIND, ("user_id", "status", "created_on"), **index):
        if since and await created_on(store, key, values) < since:
            continue
        result.setdefault(values["user_id"], set()).add(values["status"])
    return result


def _parse_time(value: Any) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
