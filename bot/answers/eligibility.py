"""Eligibility answers: the deciding rule, or the one fact still needed."""
from __future__ import annotations

from typing import Any

from bot.answers.context import ENROLL_HINT, Ask, Composed, Ctx
from bot.answers.format import join
from bot.answers.policy_text import source_note
from bot.answers.rule_helpers import settled_rule
from bot.rules.model import EligibilityResult

LOCAL = "本市"
OUTSIDE = "外地"


def facts_from(slots: dict[str, Any], city: str, fact_names: set[str]) -> dict[str, Any]:
    """Slots that are engine facts; "本市" becomes the scheme's city, school city is inferred."""
    facts = {k: v for k, v in slots.items() if k in fact_names}
    if facts.get("hukou_city") == LOCAL:
        facts["hukou_city"] = city
    if facts.get("in_school") and facts.get("full_time", True) and "employed" not in facts:
        facts["employed"] = False  # a student asked about as a student is taken as not employed
    if "school_city" not in facts and (facts.get("studying_elsewhere") or facts.get("studying_abroad")):
        facts["school_city"] = OUTSIDE  # "在外地上大学": not in the scheme's city
    if facts.get("in_school") and "school_city" not in facts and slots.get("city") == city:
        facts["school_city"] = city  # "孩子在上海上幼儿园" / "上海的学生"
    return facts


def eligibility(ctx: Ctx, fact_names: set[str]) -> Composed:
    facts = facts_from(ctx.slots, ctx.pack.city, fact_names)
    result = ctx.engine.eligibility(ctx.scheme, facts, ctx.today)
    name = ctx.pack.short_name
    rule = result.rule
    if result.status == "need_facts" and (settled := settled_rule(ctx.pack, facts, ctx.today)):
        status, rule = settled
        result = EligibilityResult(status, rule, explanation=rule.explanation)
    if result.status in ("eligible", "not_eligible"):
        why = f"依据「{rule.name}」：“{rule.text}”。{rule.explanation}" if rule else result.explanation
        if result.status == "eligible":
            return Composed(join(f"可以参加{name}，符合参保条件。", why, source_note(ctx.pack), ENROLL_HINT))
        return Composed(join(f"按规定不能参加{name}（不符合参保条件）。", why, source_note(ctx.pack)))
    question = (result.missing_questions or ["请再介绍一下孩子的情况。"])[0]
    known = {k: v for k, v in ctx.slots.items() if k in fact_names or k == "city"}
    intro = f"要判断能否参加{name}，还需要了解：" if not facts else f"还差一点信息才能判断能否参加{name}："
    return Composed(join(intro, question), Ask(question, list(result.missing[:1]), known))
