"""Fixtures for the rule-engine tests: the repository's packs, loaded once."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.rules import RuleEngine

POLICIES = Path(__file__).resolve().parents[2] / "policies"


@pytest.fixture(scope="session")
def engine() -> RuleEngine:
    return RuleEngine.load(POLICIES)
