"""NLU and answer fixtures: one engine, one Nlu (jieba cache in a temp dir), one answerer per session."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.answers import QuestionAnswerer
from bot.nlu import Nlu
from bot.rules import RuleEngine

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="session")
def engine() -> RuleEngine:
    return RuleEngine.load(POLICIES)


@pytest.fixture(scope="session")
def nlu_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("jieba-cache")


@pytest.fixture(scope="session")
def nlu(engine, nlu_cache) -> Nlu:
    aliases = {s: engine.pack(s).aliases for s in engine.scheme_ids}
    return Nlu.load(POLICIES, nlu_cache, aliases, {s: engine.pack(s).city for s in engine.scheme_ids})


@pytest.fixture(scope="session")
def qa(engine, nlu) -> QuestionAnswerer:
    return QuestionAnswerer(engine, nlu)


@pytest.fixture
def now() -> dt.datetime:
    """Inside the Shanghai fund's and Beijing's windows (9月), before Shanghai resident insurance's."""
    return dt.datetime(2026, 9, 10, 10, 0, tzinfo=SHANGHAI)
