"""Enrollment windows, dated events and relative deadlines, all in Shanghai time (UTC+8)."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any, Iterator

from bot.clock import SHANGHAI
from bot.rules.model import CalendarEvent, SchemePack, Window, WindowInfo


def local(when: dt.datetime) -> dt.datetime:
    return when.replace(tzinfo=SHANGHAI) if when.tzinfo is None else when.astimezone(SHANGHAI)


def parse_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return local(value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=SHANGHAI)
    if isinstance(value, str) and value.strip():
        try:
            return local(dt.datetime.fromisoformat(value.strip()))
        except ValueError:
            return None
    return None


def _at(year: int, month_day: str, clock: str = "00:00", second: int = 0) -> dt.datetime:
    month, day = (int(x) for x in month_day.split("-"))
    hour, minute = (int(x) for x in clock.split(":"))
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def _hours(spec: dict[str, Any]) -> tuple[str, str, int]:
    """Opening and closing clock times; a whole day closes at 23:59:59."""
    if "daily_hours" in spec:
        return spec["daily_hours"][0], spec["daily_hours"][1], 0
    return "00:00", "23:59", 59


def occurrences(spec: dict[str, Any], years: range) -> Iterator[Window]:
    """Every occurrence of one window definition in the given years, in order."""
    opens, closes, second = _hours(spec)
    make = lambda start, end: Window(spec["id"], spec["name"], start, end, spec["description"],  # noqa: E731
                                     spec["kind"], spec.get("source", ""), spec.get("seed_year"))
    for year in years:
        if "years" in spec and year not in spec["years"]:
            continue
        if "yearly" in spec:
            start = _at(year, spec["yearly"]["start"], opens)
            end = _at(year, spec["yearly"]["end"], closes, second)
            if end < start:  # a window that runs over New Year
                end = end.replace(year=year + 1)
            yield make(start, end)
            continue
        days = spec["monthly"]
        for month in range(1, 13):
            yield make(_at(year, f"{month:02d}-{days['start_day']:02d}", opens),
                       _at(year, f"{month:02d}-{days['end_day']:02d}", closes, second))


def _inside(window: Window, spec: dict[str, Any], on: dt.datetime) -> bool:
    if not window.start <= on <= window.end:
        return False
    if "daily_hours" not in spec:
        return True
    opens, closes, _ = _hours(spec)
    return opens <= on.strftime("%H:%M") <= closes


def _next_opening(window: Window, spec: dict[str, Any], on: dt.datetime) -> Window | None:
    """Inside a window's dates but outside its daily hours: the rest of it, from the next opening."""
    if "daily_hours" not in spec or not window.start <= on <= window.end:
        return None
    opens = _at(on.year, on.strftime("%m-%d"), _hours(spec)[0])
    if opens <= on:
        opens += dt.timedelta(days=1)
    return replace(window, start=opens) if opens <= window.end else None


def _date(when: dt.datetime) -> str:
    return f"{when.year}年{when.month}月{when.day}日"


def _span(window: Window) -> str:
    """The window's dates, said as a projection when the seed dates it for another year only."""
    span = f"{_date(window.start)}至{_date(window.end)}"
    if window.seed_year and window.start.year != window.seed_year:
        return f"{span}，按材料中{window.seed_year}年度的日期推算，以当年通知为准"
    return span


def window_info(pack: SchemePack, on: dt.datetime, kind: str = "enrollment") -> WindowInfo:
    on = local(on)
    specs = [w for w in (pack.raw.get("calendar") or {}).get("windows", []) if w["kind"] == kind]
    if not specs:
        note = (pack.raw.get("calendar") or {}).get("note", "材料没有写明固定的办理时间，请关注学校或经办机构的通知。")
        return WindowInfo(None, None, None, f"{pack.short_name}：{note}")
    current = upcoming = None
    for spec in specs:
        for window in occurrences(spec, range(on.year - 1, on.year + 2)):
            if current is None and _inside(window, spec, on):
                current = window
            window = _next_opening(window, spec, on) or window
            if window.start > on and (upcoming is None or window.start < upcoming.start):
                upcoming = window
    if current is None:
        text = f"现在不在{pack.short_name}的办理时间内。"
        if upcoming:
            text += f"下一次{upcoming.name}是{_span(upcoming)}。{upcoming.description}"
        return WindowInfo(None, upcoming, None, text)
    days_left = (current.end.date() - on.date()).days
    left = "今天是最后一天" if days_left == 0 else f"还有{days_left}天截止"
    text = (f"现在是{pack.short_name}的{current.name}（{_span(current)}），{left}。"
            f"{current.description}")
    return WindowInfo(current, upcoming, days_left, text)


def schedule(pack: SchemePack, year: int) -> list[CalendarEvent]:
    calendar = pack.raw.get("calendar") or {}
    events: list[CalendarEvent] = []
    for spec in calendar.get("windows", []):
        for window in occurrences(spec, range(year, year + 1)):
            events.append(CalendarEvent(f"{window.name}开始", window.start, "window_open", window.description,
                                        window.source, spec["id"]))
            events.append(CalendarEvent(f"{window.name}截止", window.end, "window_close", window.description,
                                        window.source, spec["id"]))
    for spec in calendar.get("events", []):
        if "years" in spec and year not in spec["years"]:
            continue
        events.append(CalendarEvent(spec["name"], _at(year, spec["date"], spec.get("time", "00:00")), spec["kind"],
                                    spec.get("description", ""), spec.get("source", ""), spec["id"]))
    return sorted(events, key=lambda e: (e.at, e.name))


def relative_events(pack: SchemePack, application: dict[str, Any]) -> list[CalendarEvent]:
    """Deadlines and reminders that run from the application's own timestamps."""
    calendar = pack.raw.get("calendar") or {}
    windows = {w["id"]: w for w in calendar.get("windows", [])}
    events = []
    for spec in calendar.get("relative_deadlines", []):
        if any(application.get(field) for field in spec.get("unless", [])):
            continue
        anchor = parse_datetime(application.get(spec["after"]))
        if anchor is None:
            continue
        if "window" in spec:
            at = _window_end_after(windows[spec["window"]], anchor)
            if at is None:
                continue
        else:
            at = anchor + dt.timedelta(hours=spec.get("hours", 0), minutes=spec.get("minutes", 0))
        events.append(CalendarEvent(spec["name"], at, spec["kind"], spec.get("description", ""),
                                    spec.get("source", ""), spec["id"]))
    return events


def _window_end_after(spec: dict[str, Any], anchor: dt.datetime) -> dt.datetime | None:
    for window in occurrences(spec, range(anchor.year, anchor.year + 2)):
        if window.end >= anchor:
            return window.end
    return None


def benefit_period(pack: SchemePack, enrolled_on: dt.date) -> tuple[dt.date, dt.date] | None:
    """When cover bought on a date starts and ends (e.g. 9月1日–次年8月31日, or next calendar year)."""
    spec = (pack.raw.get("calendar") or {}).get("benefit_period")
    if not spec:
        return None
    year = enrolled_on.year + (1 if spec.get("starts_next_year") else 0)
    start = _at(year, spec["start"]).date()
    if not spec.get("starts_next_year") and enrolled_on < start - dt.timedelta(days=31):
        start = start.replace(year=year - 1)  # mid-year: the period began last calendar year
    end = _at(start.year, spec["end"]).date()
    if end < start:
        end = end.replace(year=start.year + 1)
    return start, end
