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
    if "amount" not in claim and ctx.slots.get("amount_choices"):
        return _which_amount(ctx, claim)
    result = ctx.engine.reimbursement(ctx.scheme, claim)
    name = ctx.pack.short_name
    special = special_conditions_line(ctx.pack, claim.get("condition")) if claim.get("condition") else ""
    if result.status == "ok":
        if len(ctx.slots.get("amount_parts") or []) > 1 and _per_stay(ctx.pack, claim):
            return _each_stay(ctx, claim)
        steps = "\n".join(f"{i}. {s}" for i, s in enumerate(result.steps, 1))
        return Composed(join(figure_head(ctx.pack, result.standard_year) + _outcome(result.explanation, result.amount),
                             steps, *caveats(result.explanation), special))
    if result.status == "need_facts":
        kinds = [claim["kind"]] if claim.get("kind") in ("inpatient", "outpatient") else ["inpatient", "outpatient"]
        ask = Ask(result.explanation, list(result.missing), {k: v for k, v in claim.items() if k != "on"})
        if special and kinds == ["outpatient"]:  # "化疗门诊能按住院报吗": say so first, then that standard
            summary = benefit_summary(ctx.pack, ["inpatient"], ctx.today)
            return Composed(join(f"{name}：{special}", "住院报销标准：", *summary, result.explanation), ask)
        summary = benefit_summary(ctx.pack, kinds, ctx.today)
        head = f"{name}报销标准："
        if len(kinds) == 1 and summary and YES_NO.search(ctx.text) and not _conditional(ctx.pack, kinds[0]):
            head = f"可以报销。{head}"  # "住院报不报": the yes first, then the standard and what is needed for a figure
        return Composed(join(head, *summary, special, result.explanation), ask)
    text = result.explanation if name in result.explanation else f"{name}：{result.explanation}"
    steps = [s for s in result.steps[:2] if s not in text]
    return Composed(join(text, *steps, special), confident=True)


_OUTCOME = re.compile(r"[^，。]*费用[0-9.]+元[^。]*?(?:预计医保基金支付|基金不支付)[^。]*。")
_FALLBACK = re.compile(r"（(材料中没有[^）]*)）")
SETTLED_BY_FUND = "实际金额以医保结算为准。"


def figure_head(pack, year: int | None) -> str:
    """Every figure-bearing answer starts with the scheme and the year of the standard it used."""
    return f"{pack.short_name}，按{year}年度标准：" if year else f"{pack.short_name}："


def _outcome(explanation: str, amount) -> str:
    """The engine's sentence with the bill, the fund's share and the guardian's share."""
    found = _OUTCOME.search(explanation)
    return found.group().lstrip("，") if found else f"预计医保基金支付{money(amount)}元。"


def caveats(explanation: str) -> list[str]:
    """The notes under a figure: a standard older than this year, and who settles the exact amount."""
    found = _FALLBACK.search(explanation)
    notes = [found.group(1)] if found else []
    notes += [SETTLED_BY_FUND.rstrip("。")] if SETTLED_BY_FUND in explanation else []
    return ["；".join(notes) + "。"] if notes else []  # one line: a phone shows the figure and its steps whole


def _per_stay(pack, claim: dict) -> bool:
    spec = ((pack.raw or {}).get("benefits") or {}).get(claim.get("kind") or "") or {}
    return spec.get("deductible_scope") == "per_stay"


def _each_stay(ctx: Ctx, claim: dict) -> Composed:
    """"两次住院一共能报多少" where the 起付线 is per stay: each stay is computed on its own, then added."""
    parts = ctx.slots["amount_parts"]
    levels = ctx.slots.get("amount_levels") or [claim.get("hospital_level")] * len(parts)
    results = [ctx.engine.reimbursement(ctx.scheme, {**claim, "amount": part, "hospital_level": level})
               for part, level in zip(parts, levels)]
    if any(r.status != "ok" for r in results):
        return Composed(join(f"{ctx.pack.short_name}：每次住院分别计算起付线，请分别告诉我每次住院的费用和医院等级。"))
    total = sum(r.amount for r in results)
    where = [f"{'一二三'[level - 1]}级医院" if isinstance(level, int) and 1 <= level <= 3 else "" for level in levels]
    lines = [f"{i}. {w}费用{money(part)}元：预计支付{money(r.amount)}元"
             for i, (part, r, w) in enumerate(zip(parts, results, where), 1)]
    head = figure_head(ctx.pack, results[0].standard_year)
    return Composed(join(f"{head}每次住院分别计算起付线，{len(parts)}次合计预计医保基金支付{money(total)}元。", *lines,
                         *caveats(results[0].explanation)))


def _which_amount(ctx: Ctx, claim: dict) -> Composed:
    """Several bills and no word saying which one is asked about: ask, with numbered choices."""
    choices = list(ctx.slots["amount_choices"])
    options = [*choices, sum(choices)]
    labels = [f"{money(c)}元" for c in choices] + [f"合计{money(sum(choices))}元"]
    question = "您问的是哪一笔费用？请回复序号：\n" + "\n".join(f"{i}. {label}" for i, label in enumerate(labels, 1))
    kept = {k: v for k, v in claim.items() if k != "on"}
    return Composed(join(f"{ctx.pack.short_name}：", question), Ask(question, ["amount"], kept, options))


YES_NO = re.compile(r"能报吗|能不能报|可以报吗|可不可以报|报不报|给报吗|能报销吗|可以报销吗|报销吗")


def _conditional(pack, kind: str) -> bool:
    """The standard holds only under a condition (Beijing's outpatient care after a year insured)."""
    spec = ((pack.raw or {}).get("benefits") or {}).get(kind) or {}
    return "min_years_insured" in spec
