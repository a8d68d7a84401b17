"""What the engine hands out: the loaded pack and the result of each question."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.rules.parameters import Parameter


@dataclass(frozen=True)
class RuleRef:
    """The rule that decided an answer: its short name and the seed sentence it encodes."""

    id: str
    name: str
    text: str
    explanation: str = ""


@dataclass(frozen=True)
class ProcedureItem:
    title: str
    lines: list[str]
    source: str


@dataclass(frozen=True)
class Window:
    id: str
    name: str
    start: dt.datetime
    end: dt.datetime  # last moment inside the window (23:59:59 on the last day)
    description: str
    kind: str = "enrollment"
    source: str = ""
    seed_year: int | None = None  # the one year the seed dates the window for; other years are our projection


@dataclass(frozen=True)
class CalendarEvent:
    name: str
    at: dt.datetime
    kind: str  # window_open | window_close | deadline | deduction | check | info
    description: str = ""
    source: str = ""
    id: str = ""


@dataclass
class EligibilityResult:
    status: str  # eligible | not_eligible | need_facts
    rule: RuleRef | None
    missing: list[str] = field(default_factory=list)
    missing_questions: list[str] = field(default_factory=list)
    explanation: str = ""


@dataclass
class ReimbursementResult:
    status: str  # ok | need_facts | not_covered
    amount: Decimal
    steps: list[str] = field(default_factory=list)
    standard_year: int | None = None
    missing: list[str] = field(default_factory=list)
    explanation: str = ""


@dataclass(frozen=True)
class FeeTier:
    id: str
    name: str
    amount: Decimal
    exempt: bool = False
    note: str = ""


@dataclass
class FeeResult:
    amount: Decimal | None
    exempt: bool
    category: str
    year: int | None
    explanation: str
    tiers: list[FeeTier] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


@dataclass
class WindowInfo:
    current: Window | None
    next: Window | None
    days_left: int | None
    explanation: str


@dataclass
class SchemePack:
    id: str
    name: str
    short_name: str
    aliases: list[str]
    city: str
    seed: str
    procedures: dict[str, list[ProcedureItem]]
    parameters: dict[str, Parameter]
    raw: dict[str, Any]
    file: str = ""

    def parameter(self, name: str) -> Parameter:
        return self.parameters[name]
