"""The development questions (tests/eval/dev-questions.yaml, kept in the repository) through the real
webhook: signed XML in, XML reply out, each question from a new guardian (a fresh conversation)."""
from __future__ import annotations

from pathlib import Path

import yaml

from bot.config import ROOT
from tests.wechat_client import in_process_bot

EVAL = ROOT / "tests" / "eval" / "dev-questions.yaml"


def _check(question: str, reply: str, case: dict) -> str | None:
    reply = reply.replace(question, "")
    missing = [s for s in case.get("all", []) if s not in reply]
    if missing or (case.get("any") and not any(s in reply for s in case["any"])):
        return f"{question}\n  → {reply[:300]!r}\n  missing all={missing} any={case.get('any')}"
    return None


async def test_dev_questions_through_the_webhook(aiohttp_client, tmp_path):
    cases = yaml.safe_load(Path(EVAL).read_text(encoding="utf-8"))
    _, sender, _ = await in_process_bot(aiohttp_client, tmp_path, "2026-09-10T10:00:00+08:00")
    failures = []
    for i, case in enumerate(cases):
        reply = await sender.say(f"eval-guardian-{i}", case["q"])
        assert len(reply) <= 600, f"reply too long for a phone screen: {case['q']}"
        failure = _check(case["q"], reply, case)
        if failure:
            failures.append(failure)
    assert not failures, f"{len(failures)}/{len(cases)} questions failed:\n" + "\n".join(failures)
