"""Reimbursement answers: the engine's calculation with its steps, or exactly the missing fact."""
from __future__ import annotations

from bot.answers.context import Ask, Composed, Ctx
from bot.answers.format import join, money
from bot.answers.policy_text import benefit_summary, special_conditions_line

CLAIM_KEYS = ("kind", "hospital_level", "amount", "years_insured", "condition", "reimbursed_this_year",
              "costs_this_year")


def reimbursement(ctx: Ctx) -> Composed:
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
