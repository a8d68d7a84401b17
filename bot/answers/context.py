"""What every composer receives, and what it returns."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from bot.answers.retrieval import ProcedureIndex

ENROLL_HINT = "回复「参保」开始办理。"


@dataclass
class Ask:
    """A question back to the guardian; remembered so the next short reply completes it."""

    question: str
    need: list[str]
    slots: dict[str, Any]
    options: list[Any] = field(default_factory=list)  # numbered choices: "2" picks the second


@dataclass
class Ctx:
    engine: Any
    index: ProcedureIndex
    scheme: str
    pack: Any
    slots: dict[str, Any]
    text: str  # the normalised question
    question: str  # the question with scheme names masked out (what retrieval reads)
    now: dt.datetime
    topics: list[str] = field(default_factory=list)  # the intent's procedure topics
    intent_words: list[str] = field(default_factory=list)  # the intent's catalogue keywords
    conditions: list[dict] = field(default_factory=list)  # lexicon.line_conditions: lines facts rule out
    silence_terms: list[str] = field(default_factory=list)  # lexicon.silence_terms: named things a pack may not say

    @property
    def today(self) -> dt.date:
        return self.now.date()


@dataclass
class Composed:
    text: str
    ask: Ask | None = None
    confident: bool = True
    figure: Any = None  # the amount the answer gives (a fee), with `year`: what a side-by-side compares
    year: int | None = None
