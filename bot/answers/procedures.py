"""Procedure answers (materials, steps, payment, refund, contacts, aftercare…) from engine.procedure.

Lines are ranked by how well they match the question plus a prior for the intent's own topics
(main topic most), then shown in document order within the reply budget. So "余额不足怎么办" puts
that very line first, and "扣款后什么时候能查到结果" also finds the dated check in the calendar.
"""
from __future__ import annotations

import re

from bot.answers.context import Composed, Ctx
from bot.answers.format import join
from bot.answers.policy_text import source_note
from bot.answers.retrieval import STRONG, Line

NUMBERED = re.compile(r"\d+[.、．]")  # a step of a numbered list ("1. 填写参保人信息…")
BUDGET = 260  # characters of procedure text: a reply a phone shows whole (most under ~300 characters)
MAIN_TOPIC_PRIOR = 3.0
OTHER_TOPIC_PRIOR = 1.5
MIN_SCORE = 1.0


def relevant_lines(ctx: Ctx, topics: list[str] | None, limit: int = 3, drop: list[str] = (),
                   strong: float = STRONG) -> list[Line]:
    """Lines that answer this very question (strong matches only), in their document order."""
    text = ctx.question
    for word in sorted(drop, key=len, reverse=True):
        text = text.replace(word, " ")
    question = ctx.index.question_features(text)
    best = [(score, line) for score, line in ctx.index.best(ctx.scheme, question, topics, limit=limit)
            if not contradicted(line, ctx)]
    if not best or best[0][0] < strong:
        return []
    floor = max(strong, best[0][0] * 0.5)
    lines = [line for score, line in best if score >= floor]
    return sorted(lines, key=lambda line: (line.topic, line.item, line.index))


def _prior(line: Line, topics: list[str]) -> float:
    if topics and line.topic == topics[0]:
        return MAIN_TOPIC_PRIOR
    return OTHER_TOPIC_PRIOR if line.topic in topics else 0.0


def _cost(line: Line, chosen: list[Line]) -> int:
    return len(line.text) + 3 + (0 if any(c.title == line.title for c in chosen) else len(line.title) + 3)


def _select(ranked: list[tuple[float, Line]], budget: int) -> list[Line]:
    """The best lines that fit the budget. A numbered step comes with the steps before it: "2. … 3. …"
    alone reads as a list with its start cut off."""
    lines = [line for _, line in ranked]
    chosen: list[Line] = []
    size = 0
    for score, line in ranked:
        if score < MIN_SCORE:
            break
        if line in chosen:
            continue
        group = [line]
        if NUMBERED.match(line.text):
            group = sorted((l for l in lines if (l.topic, l.item) == (line.topic, line.item) and l.index < line.index
                            and NUMBERED.match(l.text) and l not in chosen), key=lambda l: l.index) + group
        cost = sum(_cost(l, chosen) for l in group)
        if size + cost > budget:
            continue
        chosen += group
        size += cost
    return chosen


def _render(lines: list[Line], topics: list[str], lead: Line | None = None) -> str:
    """Document order, topics in the intent's order; the line that answers outright comes first."""
    rank = {t: i for i, t in enumerate(topics)}

    def key(l: Line) -> tuple:
        first = 0 if lead is not None and (l.topic, l.item) == (lead.topic, lead.item) else 1
        return (first, rank.get(l.topic, len(topics)), l.topic, l.item, l.index)

    ordered = sorted(lines, key=key)
    out: list[str] = []
    current = None
    said: set[str] = set()
    for line in ordered:
        if line.text in said:
            continue  # two items quoting one sentence: said once, and no heading left standing alone
        said.add(line.text)
        if (line.topic, line.item, line.title) != current:
            current = (line.topic, line.item, line.title)
            out.append(f"【{line.title}】")
        out.append(f"· {line.text}")
    return "\n".join(out)


def contradicted(line: Line, ctx: Ctx) -> bool:
    """The line's condition is one the guardian's facts rule out (the employer route for a 户口 in 宁波)."""
    said = f"{line.title}{line.text}"
    for condition in ctx.conditions:
        if any(w in said for w in condition["words"]) and _any_fact_contradicts(condition["contradicted_by"], ctx):
            return True
    return False


def _any_fact_contradicts(facts: dict, ctx: Ctx) -> bool:
    age = ctx.slots.get("age")
    for name, value in facts.items():
        if name == "age_at_most" and isinstance(age, int) and age <= int(value):
            return True
        if name == "age_at_least" and isinstance(age, int) and age >= int(value):
            return True
        if name in ("hukou_city", "school_city") and value == "本市" and ctx.slots.get(name) in ("本市", ctx.pack.city):
            return True
        if name not in ("age_at_most", "age_at_least", "hukou_city", "school_city") and ctx.slots.get(name) == value:
            return True
    return False


_ASKED_FOR = re.compile(r"(?:哪些|哪几|哪个|哪家|哪种|什么|几个|几家|几种)(?:个|家|种|样)?([\u4e00-\u9fff]{2})")
LISTING_BONUS = 6.0
SILENT_CONTACT_LINES = 2
# Topics a question is wholly about: a pack without them is silent on the question, whatever other line
# shares a word with it ("交了以后能退吗" is not answered by "上交确认表").
SILENCE_TOPICS = {"refund", "payment_failure", "aftercare", "hospitals"}
FILLER_SHARE = 0.45


def _focus(question: str) -> str:
    """The thing asked for: "可以选哪些银行" → 银行."""
    found = _ASKED_FOR.search(question)
    return found.group(1) if found else ""


def _listing(line: Line, focus: str) -> float:
    """A line that lists the thing asked for ("工商银行、建设银行…" for 哪些银行) answers it outright."""
    return LISTING_BONUS if focus and line.text.count(focus) >= 2 else 0.0


SILENCE_RELATED = "，下面是相关的内容："  # how a silence opening hands over to the related lines


def silence_opening(ctx: Ctx) -> str:
    """"…的材料里没有提到“支付宝”，下面是相关的内容：" when the question names things (lexicon.silence_terms:
    支付宝, 新生儿, 补交…) that the pack never names, nor a synonym; else ""."""
    missing = ctx.index.unsaid(ctx.scheme, ctx.question, ctx.silence_terms)[:2]
    return f"{ctx.pack.short_name}的材料里没有提到“{'”“'.join(missing)}”{SILENCE_RELATED}" if missing else ""


def topic_answer(ctx: Ctx, topics: list[str]) -> Composed:
    name = ctx.pack.short_name
    question = ctx.index.question_features(ctx.question)
    scored = [(score, line) for score, line in ctx.index.scored(ctx.scheme, question) if not contradicted(line, ctx)]
    focus = _focus(ctx.text)
    ranked = sorted(((score + _prior(line, topics) + _listing(line, focus), line) for score, line in scored),
                    key=lambda s: s[0], reverse=True)
    has_topic = any(line.topic in topics for _, line in scored)
    strong = ranked and ranked[0][0] - _prior(ranked[0][1], topics) >= STRONG
    silent = bool(topics) and topics[0] in SILENCE_TOPICS and not ctx.engine.procedure(ctx.scheme, topics[0])
    if silent or (not has_topic and not strong):  # "北京一小能退费吗": the letter says nothing of refunds
        contacts = ctx.engine.procedure(ctx.scheme, "contacts")
        lines = [line for item in contacts for line in item.lines][:SILENT_CONTACT_LINES]  # whole lines, a phone's worth
        hint = "\n".join(f"· {line}" for line in lines)
        return Composed(join(f"{name}的材料里没有写明这方面的内容，建议向学校或经办机构确认。", hint), confident=False)
    lead = ranked[0][1] if strong else None
    opening = silence_opening(ctx) or f"{name}："
    floor = MIN_SCORE
    if lead is not None:  # a line answers outright: far weaker lines are filler, unless they go with it
        floor = ranked[0][0] * FILLER_SHARE
        ranked = [(score if score >= floor or (line.topic, line.item) == (lead.topic, lead.item) else 0.0, line)
                  for score, line in ranked]
        ranked.sort(key=lambda s: s[0], reverse=True)
    return Composed(join(opening, _render(_select(ranked, BUDGET), topics, lead), source_note(ctx.pack)))


LOOKUP_STRONG = 3.5  # for an unclear question a fairly relevant line still beats a menu
LOOKUP_HINT = "没答到点上的话，请换个说法再问，或回复「帮助」「人工」。"


def lookup(ctx: Ctx) -> Composed | None:
    """For a question whose intent is unclear: the pack's lines that answer it, if any."""
    lines = relevant_lines(ctx, None, limit=3, strong=LOOKUP_STRONG)
    if not lines:
        return None
    opening = silence_opening(ctx) or f"{ctx.pack.short_name}："
    return Composed(join(opening, _render(lines, []), source_note(ctx.pack), LOOKUP_HINT), confident=False)
