"""Reimbursement answers: the engine's calculation with its steps, or exactly the missing fact."""
from __future__ import annotations

import re

from bot.answers.context import Ask, Composed, Ctx
from bot.answers.format import join, money
from bot.answers.policy_text import benefit_summary, special_conditions_line

CLAIM_KEYS = ("kind", "hospital_level", "amount", "years_insured", "condition", "reimbursed_this_year",
              "costs_this_year")


# "孩子在外地住院了能报吗": care outside the scheme's city. Answered with the pack's own lines on 异地就医 when
# it has some, else with a note that the standards below are for care in the city.
ELSEWHERE_CARE = re.compile(r"(?:在|去|回|到)(?:外地|异地|外省|老家|家乡)|异地就医|(?:外地|外省|老家)(?:看病|住院|就医|医院)")
NOT_COVERED_ELSEWHERE = "材料没有写明在外地看病怎么报销，外地就医请先咨询医保经办机构；以下是本地就医的标准。"


def reimbursement(ctx: Ctx) -> Composed:
    composed = _reimbursement(ctx)
    if ELSEWHERE_CARE.search(ctx.text):
        lines = [line for topic in ctx.engine.topics() for item in ctx.engine.procedure(ctx.scheme, topic)
                 for line in item.lines if "异地就医" in line]
        composed.text = join(*(lines[:2] or [NOT_COVERED_ELSEWHERE]), composed.text)
    return composed


def _reimbursement(ctx: Ctx) -> Composed:
    claim = {k: ctx.slots[k] for k in CLAIM_KEYS if k in ctx.slots}
    claim["on"] = ctx.today.isoformat()
    result = ctx.engine.reimbursement(ctx.scheme, claim)
    name = ctx.pack.short_name
    special = special_conditions_line(ctx.pack, claim.get("condition")) if claim.get("condition") else ""
    if result.status == "ok":
        steps = "\n".join(f"{i}. {s}" for i, s in enumerate(result.steps, 1))
        return Composed(join(f"{name}：预计医保基金支付{money(result.amount)}元。", "计算过程：", steps,
                             result.explanation))
    if result.status == "need_facts":
        kinds = [claim["kind"]] if claim.get("kind") in ("inpatient", "outpatient") else ["inpatient", "outpatient"]
        ask = Ask(result.explanation, list(result.missing), {k: v for k, v in claim.items() if k != "on"})
        if special and kinds == ["outpatient"]:  # "化疗门诊能按住院报吗": say so first, then that standard
            summary = benefit_summary(ctx.pack, ["inpatient"], ctx.today)
            return Composed(join(f"{name}：{special}", "住院报销标准：", *summary, result.explanation), ask)
        summary = benefit_summary(ctx.pack, kinds, ctx.today)
        return Composed(join(f"{name}报销标准：", *summary, special, result.explanation), ask)
    text = result.explanation if name in result.explanation else f"{name}：{result.explanation}"
    steps = [s for s in result.steps[:2] if s not in text]
    return Composed(join(text, *steps, special), confident=True)
