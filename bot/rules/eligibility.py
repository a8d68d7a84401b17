"""Eligibility: an ordered decision list over facts. The first rule that holds decides; a rule whose
facts are missing, placed before the deciding one with a different verdict, means we must ask first."""
from __future__ import annotations

import datetime as dt
from typing import Any

from bot.rules.conditions import evaluate
from bot.rules.facts import prepare, question_for
from bot.rules.model import EligibilityResult, RuleRef, SchemePack


def _ref(rule: dict[str, Any]) -> RuleRef:
    return RuleRef(rule["id"], rule["name"], rule["text"], rule.get("explanation", ""))


def decide(pack: SchemePack, facts: dict[str, Any] | None, on: dt.date) -> EligibilityResult:
    spec = pack.raw.get("eligibility")
    if not spec:
        return EligibilityResult("need_facts", None, explanation=f"{pack.short_name}的材料没有写明参保条件，请咨询经办机构。")
    known, bad = prepare(facts, on)
    missing: list[str] = list(bad)
    undecided: set[str] = set()  # results of earlier rules we cannot evaluate yet
    for rule in spec["rules"]:
        truth = evaluate(rule["when"], known)
        if truth.value is None:
            if rule.get("ask") is False:  # a special case worth noting only when its facts are known
                continue
            missing += [m for m in truth.missing if m not in missing]
            undecided.add(rule["result"])
            continue
        if truth.value and undecided <= {rule["result"]}:
            # Earlier unknown rules could only give the same verdict, so no need to ask.
            return _decided(pack, rule["result"], _ref(rule))
        if truth.value:
            break
    if missing:
        return _need(pack, missing, bad)
    other = spec["otherwise"]
    return _decided(pack, "not_eligible", RuleRef(other["id"], other["name"], other["text"], other["explanation"]))


def _decided(pack: SchemePack, status: str, rule: RuleRef) -> EligibilityResult:
    verdict = "符合参保条件" if status == "eligible" else "不符合参保条件"
    text = f"根据{pack.short_name}的规定（{rule.name}：“{rule.text}”），{verdict}。"
    if rule.explanation:
        text += rule.explanation
    return EligibilityResult(status, rule, explanation=text)


def _need(pack: SchemePack, missing: list[str], bad: list[str]) -> EligibilityResult:
    questions = [question_for(name) for name in missing]
    # Dialogs ask one question at a time (missing[0] first); the text names the first few.
    text = f"要判断能否参加{pack.short_name}，还需要了解：" + "".join(questions[:3])
    if bad:
        text = "有些信息没能看懂，请再说一次。" + text
    return EligibilityResult("need_facts", None, missing=missing, missing_questions=questions, explanation=text)
