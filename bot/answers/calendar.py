"""Window answers: dates, days left from today, and any specific deadline the question names."""
from __future__ import annotations

from bot.answers.context import ENROLL_HINT, Composed, Ctx
from bot.answers.format import day, join
from bot.answers.procedures import relevant_lines


def deadline(ctx: Ctx) -> Composed:
    info = ctx.engine.windows(ctx.scheme, ctx.now)
    # Words like 截止/什么时候 are what the window already answers; a line must match the rest.
    specific = relevant_lines(ctx, None, limit=2, drop=ctx.intent_words)
    lines = [line.text for line in specific]
    hint = ENROLL_HINT if info.current is not None else ""
    until = ""
    if info.current is None and info.next is not None:
        days = (info.next.start.date() - ctx.today).days
        until = f"距下一次开始还有{days}天（今天是{day(ctx.today)}）。" if days > 0 else ""
    return Composed(join(*lines, info.explanation, until, hint))
