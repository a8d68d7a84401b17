"""The development questions (tests/eval/dev-questions.yaml, kept in the repository), each in a fresh state."""
from __future__ import annotations

import pytest
import yaml

from bot.config import ROOT

DEV = ROOT / "tests" / "eval" / "dev-questions.yaml"
QUESTIONS = yaml.safe_load(DEV.read_text(encoding="utf-8"))


@pytest.mark.parametrize("item", QUESTIONS, ids=[q["q"] for q in QUESTIONS])
def test_dev_question(qa, now, item):
    answer = qa.answer(item["q"], {}, now)
    reply = answer.text.replace(item["q"], "")
    for expected in item.get("all", []):
        assert expected in reply, f"{expected!r} missing from:\n{answer.text}"
    if item.get("any"):
        assert any(s in reply for s in item["any"]), f"none of {item['any']} in:\n{answer.text}"
    assert len(answer.text) <= 600
