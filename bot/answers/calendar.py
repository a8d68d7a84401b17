"""Window answers: dates, days left from today, and any specific deadline the question names."""
from __future__ import annotations

import re

from bot.answers.context import ENROLL_HINT, Composed, Ctx
from bot.answers.format import day, join
from bot.answers.procedures import relevant_lines
from bot.answers.retrieval import CALENDAR_TOPIC


GENERIC_WORDS = ("参保", "医保", "办理", "参加")
# A line quoted for a "when" question must say something about time: "1. 打开小程序…" does not.
TIME_WORDS = re.compile(r"\d+月|\d+日|\d+号|截止|之前|以前|以后|期间|工作日|小时|天内|分钟|每月|每年")
# "什么时候生效" asks when cover starts, not when to enrol: answered with the benefit period first.
COVER_WORDS = ("生效", "享受待遇", "待遇开始", "开始享受", "开始报销", "开始能报", "起保", "待遇期", "保障期",
               "保到什么时候", "保到哪天", "能用医保")


def deadline(ctx: Ctx) -> Composed:
    info = ctx.engine.windows(ctx.scheme, ctx.now)
    # Words like 截止/什么时候 are what the window already answers; a line must match the rest.
    # The scheme's own names and generic words (参保, 缴费) say nothing about which deadline is meant.
    drop = [*ctx.intent_words, *ctx.pack.aliases, ctx.pack.short_name, *GENERIC_WORDS]
    cover = _cover(ctx, info) if any(w in ctx.text for w in COVER_WORDS) else ""
    # With the cover period given, lines picked by the question's other words (交了…) answer something else.
    specific = [] if cover else relevant_lines(ctx, None, limit=2, drop=drop)
    lines = [line.text for line in specific if line.text not in info.explanation and TIME_WORDS.search(line.text)]
    hint = ENROLL_HINT if info.current is not None else ""
    until = ""
    if info.current is None and info.next is not None:
        days = (info.next.start.date() - ctx.today).days
        until = f"距下一次开始还有{days}天（今天是{day(ctx.today)}）。" if days > 0 else ""
    return Composed(join(cover, *lines, info.explanation, until, _upcoming(ctx, lines), hint))


def _cover(ctx: Ctx, info) -> str:
    """When cover bought in the current (or next) window starts and ends."""
    window = info.current or info.next
    enrolled = window.start.date() if window else ctx.today
    period = ctx.engine.benefit_period(ctx.scheme, enrolled)
    if not period or period[0] < enrolled:
        return ""  # cover that would begin before the payment (宁波's monthly windows): the seed does not say
    start, end = period
    which = "这一期" if info.current else "下一期"
    return (f"{which}参保缴费成功后，{start.year}年{day(start)}至{end.year}年{day(end)}享受待遇"
            f"（{ctx.pack.short_name}）。")


UPCOMING = 4  # dated milestones listed after the window
RELEVANT = 2.0  # an event this related to the question's words is listed even if not the soonest
HORIZON_DAYS = 200


def _upcoming(ctx: Ctx, already: list[str]) -> str:
    """The next dated milestones from engine.schedule: those the question names first, then the soonest."""
    events = []
    for year in (ctx.now.year, ctx.now.year + 1):
        events += ctx.engine.schedule(ctx.scheme, year)
    soon, names = [], set()
    for event in sorted(events, key=lambda e: e.at):
        if ctx.now <= event.at and (event.at - ctx.now).days <= HORIZON_DAYS and event.kind != "window_open" \
                and event.name not in names and not any(event.description and event.description in a for a in already):
            names.add(event.name)  # a monthly window closes every month: name it once
            soon.append(event)
    if not soon:
        return ""
    relevance = {line.text: score for score, line in ctx.index.scored(ctx.scheme, ctx.index.question_features(
        ctx.question)) if line.topic == CALENDAR_TOPIC}
    asked = sorted(soon, key=lambda e: relevance.get(e.description, 0.0), reverse=True)
    chosen = [e for e in asked[:2] if relevance.get(e.description, 0.0) >= RELEVANT]
    chosen += [e for e in soon if e not in chosen][:UPCOMING - len(chosen)]
    items = "；".join(f"{e.at.month}月{e.at.day}日 {e.name}" for e in sorted(chosen, key=lambda e: e.at))
    return f"接下来的时间节点：{items}。"
