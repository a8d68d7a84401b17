"""RuleEngine: the one object the bot asks about policy. Plain Python, no I/O after `load`."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from bot.rules import benefits, calendar, eligibility, fees
from bot.rules.errors import UnknownScheme
from bot.rules.loader import TOPICS, load_dir
from bot.rules.model import (CalendarEvent, EligibilityResult, FeeResult, ProcedureItem, ReimbursementResult,
                             SchemePack, WindowInfo)


def _as_date(on: Any) -> dt.date:
    parsed = benefits.parse_date(on)
    return parsed or dt.datetime.now(calendar.SHANGHAI).date()


class RuleEngine:
    def __init__(self, packs: dict[str, SchemePack]) -> None:
        self._packs = dict(packs)

    @classmethod
    def load(cls, policies_dir: Path | str) -> "RuleEngine":
        """Load and validate every policies/*.yaml; raises PolicyError on the first broken pack."""
        return cls(load_dir(Path(policies_dir)))

    @property
    def scheme_ids(self) -> list[str]:
        return sorted(self._packs)

    @property
    def packs(self) -> list[SchemePack]:
        return [self._packs[i] for i in self.scheme_ids]

    def pack(self, scheme_id: str) -> SchemePack:
        try:
            return self._packs[scheme_id]
        except (KeyError, TypeError):
            raise UnknownScheme(scheme_id, self.scheme_ids) from None

    def find_scheme(self, text: str) -> str | None:
        """The scheme whose id, name, short name or alias occurs in the text (longest match wins)."""
        best: tuple[int, str] | None = None
        for pack in self._packs.values():
            for name in (pack.id, pack.name, pack.short_name, *pack.aliases):
                if name and name in (text or "") and (best is None or len(name) > best[0]):
                    best = (len(name), pack.id)
        return best[1] if best else None

    def eligibility(self, scheme_id: str, facts: dict[str, Any] | None, on: dt.date | None = None) -> EligibilityResult:
        return eligibility.decide(self.pack(scheme_id), facts, _as_date(on))

    def reimbursement(self, scheme_id: str, claim: dict[str, Any] | None) -> ReimbursementResult:
        return benefits.compute(self.pack(scheme_id), claim)

    def benefit_standards(self, scheme_id: str, on: dt.date | None = None) -> list[str]:
        """起付线, 比例, 封顶 in words without a bill ([] when the seed states none)."""
        return benefits.standards(self.pack(scheme_id), _as_date(on))

    def fee(self, scheme_id: str, person: dict[str, Any] | None = None, on: dt.date | None = None) -> FeeResult:
        return fees.compute(self.pack(scheme_id), person, _as_date(on))

    def windows(self, scheme_id: str, on: dt.datetime, kind: str = "enrollment") -> WindowInfo:
        when = calendar.parse_datetime(on) or dt.datetime.now(calendar.SHANGHAI)
        return calendar.window_info(self.pack(scheme_id), when, kind)

    def deadline_for(self, application: dict[str, Any]) -> dt.datetime | None:
        """The hard deadline running from the application's timestamps (e.g. 预审通过 + 24 小时)."""
        deadlines = [e for e in self.relative_events(application) if e.kind == "deadline"]
        return min((e.at for e in deadlines), default=None)

    def relative_events(self, application: dict[str, Any]) -> list[CalendarEvent]:
        """All deadlines and reminders running from an application's timestamps (unknown scheme → [])."""
        if not isinstance(application, dict):
            return []
        scheme_id = application.get("scheme") or application.get("scheme_id")
        if scheme_id not in self._packs:
            return []
        return calendar.relative_events(self._packs[scheme_id], application)

    def procedure(self, scheme_id: str, topic: str) -> list[ProcedureItem]:
        """Items for one topic (see TOPICS); an unknown or absent topic gives []."""
        return list(self.pack(scheme_id).procedures.get(topic, []))

    @staticmethod
    def topics() -> tuple[str, ...]:
        return TOPICS

    def schedule(self, scheme_id: str, year: int) -> list[CalendarEvent]:
        """Dated events of one calendar year; an unusable year gives []."""
        pack = self.pack(scheme_id)
        try:
            year = int(year)
        except (TypeError, ValueError):
            return []
        return calendar.schedule(pack, year) if 1900 <= year <= 2200 else []

    def payment_channel(self, scheme_id: str) -> tuple[str, str]:
        """("online", "") when the guardian pays through our link after 预审; ("external", how) when the
        scheme is paid through its own channel (bank deduction, the tax app, the school)."""
        spec = self.pack(scheme_id).raw.get("payment") or {}
        return spec.get("channel", "online"), spec.get("how", "")

    def benefit_period(self, scheme_id: str, enrolled_on: dt.date) -> tuple[dt.date, dt.date] | None:
        return calendar.benefit_period(self.pack(scheme_id), _as_date(enrolled_on))
