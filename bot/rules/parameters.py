"""Dated policy parameters (OpenFisca style): each value carries the date it takes effect,
the standard year it belongs to, and the seed sentence it comes from."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise InvalidOperation(value)
    return Decimal(str(value))


@dataclass(frozen=True)
class DatedValue:
    since: dt.date
    year: int
    value: Any  # Decimal, or {level: Decimal} for values by hospital level
    source: str
    through: dt.date | None = None  # last day the seed says this value applies to, when it says so


@dataclass(frozen=True)
class Resolved:
    """The value in force on a date, and whether we had to fall back to the latest known year."""

    value: Any
    year: int
    source: str
    fallback: bool  # True when `on` lies outside every known standard period

    def at(self, key: Any) -> Decimal | None:
        if not isinstance(self.value, dict):
            return self.value
        return self.value.get(int(key)) if str(key).isdigit() else None


@dataclass(frozen=True)
class Parameter:
    name: str
    description: str
    unit: str
    period: str  # "calendar_year" | "school_year"
    values: tuple[DatedValue, ...]  # sorted by since

    def period_end(self, year: int) -> dt.date:
        return dt.date(year + 1, 8, 31) if self.period == "school_year" else dt.date(year, 12, 31)

    def resolve(self, on: dt.date) -> Resolved:
        in_force = [v for v in self.values if v.since <= on]
        chosen = in_force[-1] if in_force else self.values[-1]
        last_day = chosen.through or self.period_end(chosen.year)
        fallback = not in_force or (chosen is self.values[-1] and on > last_day)
        return Resolved(chosen.value, chosen.year, chosen.source, fallback)

    @property
    def latest(self) -> DatedValue:
        return self.values[-1]


def year_phrase(resolved: Resolved, on: dt.date) -> str:
    """"按2021年度标准", plus why when the date is outside every known standard."""
    text = f"按{resolved.year}年度标准"
    if resolved.fallback:
        text += f"（材料中没有{on.year}年的标准，采用已知最新标准，请以当年通知为准）"
    return text
