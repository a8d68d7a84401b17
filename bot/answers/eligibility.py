"""Eligibility answers: the deciding rule, or the one fact still needed."""
from __future__ import annotations

from typing import Any

from bot.answers.context import ENROLL_HINT, Ask, Composed, Ctx
from bot.answers.format import join
from bot.answers.policy_text import source_note
from bot.answers.rule_helpers import named_values, routes_left, settled_rule
from bot.rules.facts import FACTS
from bot.rules.model import EligibilityResult

_RARE_WORDS = {"special_class": "新疆班、西藏班", "counterpart_support": "对口支援学生", "overseas_chinese": "华侨子女",
               "jiedu_fee_exempt": "免借读费人员子女", "gaokao_repeat": "高考复读生", "studying_abroad": "境外就读",
               "parent_work_residence_permit": "工作居住证人员子女"}
LOCAL = "本市"
OUTSIDE = "外地"


# Typical upper age of a school stage, used only when no age is given: every rule threshold in the
# packs (≤16, ≤18, 6–18, ≤22) gives the same answer for any child of that stage.
STAGE_AGE = {"primary": 12, "junior": 15}
NURSERY_AGE_BELOW = 6  # children younger than this who are "in school" attend 托儿所/幼儿园
# Rare memberships a guardian would mention if they applied; assumed "no" when unsaid, and the
# reply says so (see eligibility()).
RARE_FACTS = ("special_class", "counterpart_support", "overseas_chinese", "jiedu_fee_exempt", "gaokao_repeat",
              "studying_abroad", "parent_work_residence_permit")
ASSUMED_NOTE = "（以上按孩子不属于{items}判断；如属于，请告诉我。）"


def facts_from(slots: dict[str, Any], pack: Any, fact_names: set[str], text: str = "") -> dict[str, Any]:
    """Slots that are engine facts; "本市" becomes the scheme's city, school city and name are inferred."""
    city = pack.city
    facts = {k: v for k, v in slots.items() if k in fact_names}
    if "school_name" not in facts:
        named = [n for n in named_values(pack, "school_name") if n and n in text]
        if named:
            facts["school_name"] = named[0]
    if "age" not in facts and facts.get("school_stage") in STAGE_AGE:
        facts["age"] = STAGE_AGE[facts["school_stage"]]
    if facts.get("hukou_city") == LOCAL:
        facts["hukou_city"] = city
    if facts.get("hukou_city") == city and "parent_residence_permit" not in facts:
        facts["parent_residence_permit"] = "none"  # a local-户籍 family needs no residence permit
    if facts.get("in_school") is False:  # "不上学了": not studying anywhere, so not elsewhere or abroad either
        facts.setdefault("studying_elsewhere", False)
        facts.setdefault("studying_abroad", False)
        facts.setdefault("gaokao_repeat", False)
    if facts.get("in_school") and facts.get("full_time", True) and "employed" not in facts:
        facts["employed"] = False  # a student asked about as a student is taken as not employed
    if "school_city" not in facts and (facts.get("studying_elsewhere") or facts.get("studying_abroad")):
        facts["school_city"] = OUTSIDE  # "在外地上大学": not in the scheme's city
    if facts.get("in_school") and "school_city" not in facts and slots.get("city") == city:
        facts["school_city"] = city  # "孩子在上海上幼儿园" / "上海的学生"
    if facts.get("in_school") and "school_stage" not in facts and isinstance(facts.get("age"), int) \
            and facts["age"] < NURSERY_AGE_BELOW:
        facts["school_stage"] = "nursery"  # a child under six "in school" is in 托幼
    return facts


# Ages a child of a school stage may have: an age the rules ask for is not needed when every one of these
# gives the same verdict ("在北京上幼儿园" is under 16 whatever the exact age).
STAGE_AGES = {"nursery": range(0, 8), "primary": range(6, 14), "junior": range(11, 17), "senior": range(14, 20),
              "vocational": range(14, 21), "reform": range(11, 19)}


ANY_AGE = range(0, 26)  # a child or student of any age the schemes speak of


def _same_at_every_age(ctx: Ctx, facts: dict[str, Any]) -> EligibilityResult | None:
    """The verdict when every age the child may have gives the same one (the age then need not be asked)."""
    ages = STAGE_AGES.get(facts.get("school_stage"), ANY_AGE)
    if "age" in facts:
        return None
    outcomes = [ctx.engine.eligibility(ctx.scheme, {**facts, "age": age}, ctx.today) for age in ages]
    statuses = {o.status for o in outcomes}
    return outcomes[0] if len(statuses) == 1 and "need_facts" not in statuses else None


def _same_either_way(ctx: Ctx, facts: dict[str, Any], missing: str) -> EligibilityResult | None:
    """A yes/no fact that does not change the verdict need not be asked ("3岁宝宝" in 托幼 or not)."""
    if FACTS.get(missing) is None or FACTS[missing].kind != "bool":
        return None
    outcomes = [ctx.engine.eligibility(ctx.scheme, facts_from_value(facts, missing, value), ctx.today)
                for value in (True, False)]
    if all(o.status == "eligible" for o in outcomes):
        return outcomes[0]
    return None


def facts_from_value(facts: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    out = {**facts, name: value}
    if name == "in_school" and value and "school_stage" not in out and isinstance(out.get("age"), int) \
            and out["age"] < NURSERY_AGE_BELOW:
        out["school_stage"] = "nursery"
    return out


def _decide(ctx: Ctx, facts: dict[str, Any]) -> tuple[EligibilityResult, list[str]]:
    """The engine's decision; rare memberships nobody mentioned are taken as "no" (and listed), and
    so are the pack's own assumptions (see `eligibility.assumptions` in a pack)."""
    assumed: list[str] = []
    pack_assumptions = ((ctx.pack.raw.get("eligibility") or {}).get("assumptions")) or {}
    while True:
        result = ctx.engine.eligibility(ctx.scheme, facts, ctx.today)
        if result.status == "need_facts" and (settled := settled_rule(ctx.pack, facts, ctx.today)):
            status, rule = settled
            return EligibilityResult(status, rule, explanation=rule.explanation), assumed
        missing = result.missing[0] if result.status == "need_facts" and result.missing else None
        if missing and (either := _same_either_way(ctx, facts, missing)) is not None:
            return either, assumed
        if missing == "age" and (any_age := _same_at_every_age(ctx, facts)) is not None:
            return any_age, assumed
        if missing in pack_assumptions and missing not in assumed \
                and all(other in facts for other in pack_assumptions[missing].get("only_with") or []):
            facts = {**facts, missing: pack_assumptions[missing]["value"]}
            assumed.append(missing)
            continue
        if missing not in RARE_FACTS or len(facts) < 2 or len(assumed) >= len(RARE_FACTS) + len(pack_assumptions):
            return result, assumed
        facts = {**facts, missing: False}
        assumed.append(missing)


def ruled_out(ctx: Ctx, fact_names: set[str]) -> bool:
    """Whether the facts said decide that the child cannot join (what `eligibility` would answer)."""
    facts = facts_from(ctx.slots, ctx.pack, fact_names, ctx.text)
    return bool(facts) and _decide(ctx, facts)[0].status == "not_eligible"


def eligibility(ctx: Ctx, fact_names: set[str]) -> Composed:
    facts = facts_from(ctx.slots, ctx.pack, fact_names, ctx.text)
    result, assumed = _decide(ctx, facts)
    if result.status == "need_facts":
        assumed = []
    name = ctx.pack.short_name
    rule = result.rule
    pack_assumptions = ((ctx.pack.raw.get("eligibility") or {}).get("assumptions")) or {}
    rare = [a for a in assumed if a in _RARE_WORDS]
    note = ASSUMED_NOTE.format(items="、".join(_RARE_WORDS[a] for a in rare)) if rare else ""
    conditions = "".join(pack_assumptions[a]["note"] for a in assumed if a in pack_assumptions)
    if result.status in ("eligible", "not_eligible"):
        why = f"依据「{rule.name}」：“{rule.text}”。{rule.explanation}" if rule else result.explanation
        if result.status == "eligible":
            return Composed(join(f"可以参加{name}，符合参保条件。", why, conditions, source_note(ctx.pack), ENROLL_HINT))
        return Composed(join(f"按规定不能参加{name}（不符合参保条件）。", why, note, source_note(ctx.pack)))
    question = (result.missing_questions or ["请再介绍一下孩子的情况。"])[0]
    known = {k: v for k, v in ctx.slots.items() if k in fact_names or k == "city"}
    intro = f"要判断能否参加{name}，还需要了解：" if not facts else f"还差一点信息才能判断能否参加{name}："
    routes = routes_left(ctx.pack, facts, ctx.today) if facts else None
    if routes:  # "外地户口": the main way in is closed; say so, and which ways in are left, then ask about them
        main, left = routes
        intro = f"按您说的情况，不符合「{main}」这一条；只有属于以下情况之一才在{name}参保范围内：{'；'.join(left)}。"
    return Composed(join(intro, question), Ask(question, list(result.missing[:1]), known))
