"""Fee answers: the tier that applies (with its standard year), or all tiers when unsure."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.answers.context import ENROLL_HINT, Ask, Composed, Ctx
from bot.answers.eligibility import eligibility, facts_from
from bot.answers.format import join, money
from bot.answers.procedures import relevant_lines
from bot.answers.claims import caveats, figure_head
from bot.answers.retrieval import RULES_TOPIC
from bot.rules.facts import FACTS

EXTRA_STRONG = 7.0  # a fee answer is complete on its own: add only lines that clearly answer more
# Words every fee question has (who pays, how much): they must not pull in extra lines by themselves.
ASKED_ANYWAY = ["中小学生", "大学生", "学生", "婴幼儿", "宝宝", "孩子", "成年居民", "成年人", "未成年人", "交多少", "多少钱",
                "多少", "一年", "个人缴费", "缴费标准"]


def _bigrams(text: str) -> set[str]:
    text = text.lower()
    return {text[i:i + 2] for i in range(len(text) - 1)}


def _named_tier(tiers: list[Any], question: str) -> Any | None:
    """The tier the guardian named ("婴幼儿", "成年居民A档"), by shared character pairs."""
    asked = _bigrams(question)
    scored = sorted(((len(_bigrams(t.name) & asked), t) for t in tiers), key=lambda s: s[0], reverse=True)
    if scored and scored[0][0] >= 2 and (len(scored) == 1 or scored[0][0] > scored[1][0]):
        return scored[0][1]
    return None


# Words for the group the guardian named, so "初二的学生" finds the tier "中小学生（其他未成年人）".
GROUP_WORDS = {"student": "中小学生未成年人学生", "infant": "婴幼儿", "adult": "成年居民"}
STUDENT_STAGES = {"nursery", "primary", "junior", "senior", "vocational", "special"}


def _group_words(slots: dict[str, Any]) -> str:
    group = slots.get("person_group")
    if slots.get("school_stage") in STUDENT_STAGES:
        group = "student"
    return GROUP_WORDS.get(group or "", "")


def fee(ctx: Ctx, fact_names: set[str]) -> Composed:
    # "已经有职工医保了，还用交少儿基金吗": facts the guardian gave that rule the child out answer first,
    # so no fee is quoted for a child who cannot join.
    stated = facts_from(ctx.slots, ctx.pack, fact_names, ctx.text)
    if stated and ctx.engine.eligibility(ctx.scheme, stated, ctx.today).status == "not_eligible":
        return eligibility(ctx, fact_names)
    if (ctx.slots.get("children") or 1) >= 2:
        several = _several_children(ctx, fact_names)
        if several is not None:
            return several
    composed = _fee(ctx, fact_names)
    # "以前交多少" / "免缴的人怎么办": a line of the pack that answers the rest of the question.
    topics = [t for t in ctx.index.topics(ctx.scheme) if t != RULES_TOPIC]
    extra = [line.text for line in relevant_lines(ctx, topics, limit=3, drop=ASKED_ANYWAY, strong=EXTRA_STRONG)
             if line.text not in composed.text]
    if extra:
        composed.text = join(composed.text.removesuffix(ENROLL_HINT), *extra, ENROLL_HINT)
    return composed


def _several_children(ctx: Ctx, fact_names: set[str]) -> Composed | None:
    """"两个孩子一共交多少": one fee per child (each by its own age where given), then the sum; None when a
    child's tier cannot be told yet (the single answer then lists the tiers and asks)."""
    count = ctx.slots["children"]
    ages = list(ctx.slots.get("ages") or [])[:count]
    ages += [ctx.slots.get("age")] * (count - len(ages))
    each = []
    for age in ages:
        slots = {k: v for k, v in ctx.slots.items() if k not in ("ages", "age")}
        if age is not None:
            slots["age"] = age
        result = ctx.engine.fee(ctx.scheme, facts_from(slots, ctx.pack, fact_names, ctx.text), ctx.today)
        if result.amount is None:
            return None
        each.append((age, result))
    total = sum(r.amount for _, r in each)
    lines = [f"{i}. {f'{age}岁，' if age is not None else ''}{r.category}：{money(r.amount)}元"
             for i, (age, r) in enumerate(each, 1)]
    head = figure_head(ctx.pack, each[0][1].year)
    return Composed(join(f"{head}{count}个孩子每人分别缴费，一共{money(total)}元。", *lines,
                         *caveats(each[0][1].explanation), ENROLL_HINT), figure=total, year=each[0][1].year)


def _fee(ctx: Ctx, fact_names: set[str]) -> Composed:
    person = facts_from(ctx.slots, ctx.pack, fact_names, ctx.text)
    result = ctx.engine.fee(ctx.scheme, person, ctx.today)
    head = figure_head(ctx.pack, result.year)
    period = ((ctx.pack.raw or {}).get("fees") or {}).get("period_name", "年")
    if result.amount is not None:
        amount = "免予缴费。" if result.exempt else f"{result.category}个人缴费{money(result.amount)}元/{period}。"
        rest = result.explanation.split("。", 1)[1] if "。" in result.explanation else ""
        if ctx.slots.get("hardship") is False:  # "不是低保家庭": the note on reductions does not apply to them
            rest = "".join(s + "。" for s in rest.split("。") if s and not s.startswith("如属于"))
        return Composed(join(head + amount, rest, *caveats(result.explanation), ENROLL_HINT),
                        figure=Decimal(0) if result.exempt else result.amount, year=result.year)
    tier = _named_tier(result.tiers, ctx.text + _group_words(ctx.slots))
    if tier is not None:
        amount = "免予缴费" if tier.exempt else f"个人缴费{money(tier.amount)}元/{period}"
        # Only the tier that applies: other tiers' figures do not answer this guardian's question
        return Composed(join(f"{head}{tier.name}{amount}。", tier.note, *caveats(result.explanation), ENROLL_HINT),
                        figure=Decimal(0) if tier.exempt else tier.amount, year=result.year)
    listing = "；".join(f"{t.name}{'免缴' if t.exempt else money(t.amount) + '元'}" for t in result.tiers)
    text = join(f"{head}{listing}。" if listing else result.explanation, *caveats(result.explanation))
    missing = [m for m in result.missing if m in FACTS]
    if missing:  # "16了" next completes it: the tier that applies, not the whole list again
        question = "告诉我" + FACTS[missing[0]].question.rstrip("？?") + "，就能确定档次。"
        known = {k: v for k, v in ctx.slots.items() if k in fact_names}
        return Composed(join(text, question), Ask(question, missing[:1], known))
    return Composed(join(text, ENROLL_HINT))
