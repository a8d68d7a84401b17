"""Segments: who a broadcast or a reminder goes to.

A segment is a filter over subscribers (district, school, scheme, 48-hour window) combined with the
state of their children's applications. It resolves to a sorted list of OpenIDs; opted-out and
unsubscribed guardians are never included.

Application states are read from the raw store records (index fields and status only), so resolving
a segment of ten thousand guardians decrypts nothing.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields
from typing import Any

from bot.store.base import Store
from bot.store.repos import (AWAITING_PAYMENT, DONE, DRAFT, PAID, PRE_APPROVED, SUBMITTED, Applications,
                             Subscribers)

try:  # where the enrolment dialogs keep their state in a guardian's session
    from dialogs.enrollment import ENROLL_KEY as _ENROLL_KEY
except ImportError:  # pragma: no cover - a build without the dialogs
    _ENROLL_KEY = "enroll"

# Application-state filters a segment can use, with the label staff see.
STATUS_FILTERS: dict[str, str] = {
    "": "全部关注用户",
    "started": "已开始填写、未提交",
    "submitted": "已提交、等待预审",
    "unpaid": "预审通过、未缴费",
    "paid": "已缴费",
    "no_application": "尚未办理",
    "needs_action": "仍需办理（未缴费的全部用户）",
}
_PAID = {PAID, DONE}
_UNPAID = {PRE_APPROVED, AWAITING_PAYMENT}


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
    index = {"subscribed": "1", "opted_out": "0"}
    if segment.district:
        index["district"] = segment.district
    if segment.school_code:
        index["school_code"] = segment.school_code
    subscribers = [r.data for _, r in await store.query(Subscribers.KIND, **index)]
    if segment.window_only:
        cutoff = now - dt.timedelta(hours=48)
        subscribers = [s for s in subscribers if _parse_time(s.get("last_interaction")) >= cutoff]
    statuses = await _statuses_by_user(store, segment)
    if segment.scheme:
        # A guardian belongs to a scheme by declaring it or by having an application for it.
        subscribers = [s for s in subscribers if segment.scheme in (s.get("schemes") or []) or s["openid"] in statuses]
    openids = sorted(s["openid"] for s in subscribers)
    if not segment.status:
        return openids
    if segment.status == "started":
        return [o for o in openids if DRAFT in statuses.get(o, set()) or await _has_active_form(store, o)]
    return [o for o in openids if _matches(segment.status, statuses.get(o, set()))]


async def count(store: Store, segment: Segment, now: dt.datetime) -> int:
    return len(await resolve(store, segment, now))


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
        return SUBMITTED in statuses and not statuses & (_PAID | _UNPAID)
    if status_filter == "unpaid":
        return bool(statuses & _UNPAID) and not statuses & _PAID
    if status_filter == "paid":
        return bool(statuses & _PAID)
    if status_filter == "no_application":
        return not statuses
    if status_filter == "needs_action":
        return not statuses & _PAID
    return True


async def _statuses_by_user(store: Store, segment: Segment) -> dict[str, set[str]]:
    """user_id → the statuses of their applications (of the segment's scheme, since its date)."""
    index = {"scheme": segment.scheme} if segment.scheme else {}
    since = dt.date.fromisoformat(segment.since) if segment.since else None
    result: dict[str, set[str]] = {}
    for _, rec in await store.query(Applications.KIND, **index):
        app = rec.data
        if since and str(app.get("created_at", ""))[:10] < since.isoformat():
            continue
        result.setdefault(app["user_id"], set()).add(app["status"])
    return result


async def _has_active_form(store: Store, openid: str) -> bool:
    """A saved conversation with an enrolment form in progress (started, not yet submitted)."""
    rec = await store.get("session", openid)
    if rec is None:
        return False
    state = rec.data.get(_ENROLL_KEY)
    return isinstance(state, dict) and bool(state.get("form"))


def _parse_time(value: Any) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
