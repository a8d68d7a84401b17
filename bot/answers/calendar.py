"""Window answers: dates, days left from today, and any specific deadline the question names."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

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
    if isinstance(ctx.slots.get("event"), dict):
        since = since_event(ctx, ctx.slots["event"])
        if since is not None:
            return since
    if ctx.slots.get("when_asked"):
        return can_do(ctx, str(ctx.slots["when_asked"]))
    info = ctx.engine.windows(ctx.scheme, ctx.now)
    # Words like 截止/什么时候 are what the window already answers; a line must match the rest.
    # The scheme's own names and generic words (参保, 缴费) say nothing about which deadline is meant.
    drop = [*ctx.intent_words, *ctx.pack.aliases, ctx.pack.short_name, *GENERIC_WORDS]
    asks_cover = any(w in ctx.text for w in COVER_WORDS)
    cover = _cover(ctx, info) if asks_cover else ""
    if asks_cover and not cover:  # 宁波: the seed does not say when cover starts; the window is no answer to it
        return Composed(f"{ctx.pack.short_name}：材料没有写明参保后从什么时候开始享受待遇（保障期），请咨询经办机构。")
    # With the cover period given, lines picked by the question's other words (交了…) answer something else.
    specific = [] if cover else relevant_lines(ctx, None, limit=2, drop=drop)
    lines = [line.text for line in specific if line.text not in info.explanation and TIME_WORDS.search(line.text)]
    hint = ENROLL_HINT if info.current is not None else ""
    until = ""
    if info.current is None and info.next is not None:
        days = (info.next.start.date() - ctx.today).days
        until = f"距下一次开始还有{days}天（今天是{day(ctx.today)}）。" if days > 0 else ""
    return Composed(join(cover, *lines, info.explanation, until, _upcoming(ctx, lines), hint))


def since_event(ctx: Ctx, event: dict) -> Composed | None:
    """"昨天上午9点预审通过的，现在还能交吗": the pack's deadline that runs from that step, against the clock."""
    day_start = ctx.now.replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        at = day_start - dt.timedelta(days=int(event["days_ago"])) + dt.timedelta(hours=int(event["hour"]),
                                                                                   minutes=int(event["minute"]))
    except (KeyError, TypeError, ValueError):
        return None
    deadlines = [e for e in ctx.engine.relative_events({"scheme": ctx.scheme, event.get("field"): at.isoformat()})
                 if e.kind == "deadline"]
    if not deadlines:
        return None
    due = min(deadlines, key=lambda e: e.at)
    when = f"{day(due.at)}{due.at.hour}:{due.at.minute:02d}"
    name = ctx.pack.short_name
    if ctx.now <= due.at:
        return Composed(join(f"可以。{name}：{due.name}，请在{when}前完成。", due.description))
    return Composed(join(f"不可以。{name}：{due.name}，已在{when}过期。", due.description))


def asked_days(now: dt.datetime, when: str) -> tuple[dt.datetime, dt.datetime, str] | None:
    """The stretch of time a "能交吗" question is about, and how to name it: today, tomorrow, the rest
    of this month, next month, the rest of this year or the next day N of a month."""
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    end_of = lambda start: start.replace(hour=23, minute=59, second=59)  # noqa: E731
    if when == "today":
        return now, end_of(now), f"今天（{day(now)}）"
    if when == "tomorrow":
        tomorrow = day_start + dt.timedelta(days=1)
        return tomorrow, end_of(tomorrow), f"明天（{day(tomorrow)}）"
    first_next = (day_start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    if when == "this_month":
        return now, end_of(first_next - dt.timedelta(days=1)), f"这个月（{now.month}月底前）"
    if when == "next_month":
        after = (first_next + dt.timedelta(days=32)).replace(day=1)
        return first_next, end_of(after - dt.timedelta(days=1)), f"下个月（{first_next.month}月）"
    if when == "this_year":
        return now, end_of(now.replace(month=12, day=31)), f"今年（{now.year}年底前）"
    if when.startswith("date:"):  # "9月30号以后": date:9-30+1, the next time that day comes (or today)
        found = re.fullmatch(r"date:(\d{1,2})-(\d{1,2})\+(\d)", when)
        if not found:
            return None
        month, wanted, after = (int(g) for g in found.groups())
        try:
            target = day_start.replace(month=month, day=wanted) + dt.timedelta(days=after)
        except ValueError:
            return None
        if target.date() < now.date():
            following = target.replace(year=target.year + 1)
            if (now - target) < (following - now):  # "9月30号以后还能交吗" in December: that date is gone, it is now
                return now, end_of(now), f"现在（今年{month}月{wanted}日已过）"
            target = following  # "1月28号能交吗" in December: the coming one
        return max(target, now), end_of(target), f"{target.month}月{target.day}日"
    if when.startswith("day:") and when[4:].isdigit():
        wanted = int(when[4:])
        for month_start in (day_start.replace(day=1), first_next):
            try:
                target = month_start.replace(day=wanted)
            except ValueError:
                continue
            if target.date() >= now.date():
                start = max(target, now)
                return start, end_of(target), f"{day(target)}"
    return None


def can_do(ctx: Ctx, when: str) -> Composed:
    """"今天能交吗" / "这个月还来得及吗" / "28号能办吗": yes or no first, against the bot's clock and the
    scheme's whole calendar, with the next possible date when the answer is no."""
    span = asked_days(ctx.now, when)
    if span is None:
        return deadline(replace(ctx, slots={k: v for k, v in ctx.slots.items() if k != "when_asked"}))
    start, end, named = span
    name = ctx.pack.short_name
    info = ctx.engine.windows(ctx.scheme, start)
    if info.current is None and info.next is None:  # the pack gives no dated window: say so
        note = info.explanation.removeprefix(f"{name}：")
        return Composed(join(f"{name}：没法确定{named}能否办理。{note}"))
    window = info.current or (info.next if info.next and info.next.start <= end else None)
    how = ctx.engine.payment_channel(ctx.scheme)[1]
    if window is not None:
        since = "" if info.current else f"从{day(window.start)}起"
        close = window.end
        lead = f"可以。{name}：{named}{since}在{window.name}内（{_date(window.start)}至{_date(close)}），{day(close)}截止。"
        return Composed(join(lead, window.description, how if how and how not in window.description else "",
                             _upcoming(ctx, [window.description]), ENROLL_HINT))
    later = ctx.engine.windows(ctx.scheme, end).next or info.next
    lead = f"不可以。{name}：{named}不在办理时间内。"
    nxt = f"下一次可以办理是{_date(later.start)}（{later.name}，至{_date(later.end)}）。" if later else ""
    return Composed(join(lead, nxt, later.description if later else ""))


def _date(when: dt.datetime) -> str:
    return f"{when.year}年{when.month}月{when.day}日"


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


_MONTH_NAMED = re.compile(r"([0-9]{1,2}|十[一二]?|[一二三四五六七八九])月(?:份)?(?:的)?(?:银行)?(?:扣款|扣费|扣|缴费|没扣|扣失败)")
_NEXT_MONTH_DAY = re.compile(r"次月(\d{1,2})日(前)?")
_CN_MONTHS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10, "十一": 11, "十二": 12}


def resolve_next_month(text: str, question: str, dated: list[str] = ()) -> str:
    """"9月扣款…余额不足": the pack's "次月20日前" said as the date it is, "次月20日前（即10月20日前）" — only for a
    month the pack's own dated deadlines are named for (`dated`: their names; Beijing has none for a
    November failure, after which there is no next deduction)."""
    named = _MONTH_NAMED.search(question)
    if not named:
        return text
    word = named.group(1)
    month = int(word) if word.isdigit() else _CN_MONTHS.get(word, 0)
    if not 1 <= month <= 12 or not any(f"{month}月" in name for name in dated):
        return text
    following = month % 12 + 1
    return _NEXT_MONTH_DAY.sub(lambda m: f"{m.group(0)}（即{following}月{m.group(1)}日{m.group(2) or ''}）", text)


_MONTH_NUMBER = re.compile(r"\d{1,2}月")
_STILL_IN_TIME = re.compile(r"来得及|还能|还可以|还行|晚不晚|迟不迟|赶得上")
_MONTH_IN_QUESTION = re.compile(r"([0-9]{1,2}|十[一二]?|[一二三四五六七八九])月")


def month_deadlines(ctx: Ctx) -> Composed | None:
    """"10月扣款没成功，还来得及吗": the pack's dated deadlines named for that month, against the clock —
    来得及 with the dates still ahead, or 来不及 when they have all passed. None when the pack names none."""
    if not _STILL_IN_TIME.search(ctx.text):
        return None
    named = _MONTH_IN_QUESTION.search(ctx.text)
    if not named:
        return None
    word = named.group(1)
    month = int(word) if word.isdigit() else _CN_MONTHS.get(word, 0)
    events = [e for year in (ctx.now.year, ctx.now.year + 1) for e in ctx.engine.schedule(ctx.scheme, year)
              if e.kind == "deadline" and f"{month}月" in e.name and e.at.year == ctx.now.year + (e.at.month < month)]
    if not events:
        return None
    ahead = sorted((e for e in events if e.at >= ctx.now), key=lambda e: e.at)
    name = ctx.pack.short_name
    passed = ""
    if not ahead:  # "9月扣款失败" asked in late October: those dates are gone, the same steps for a later month are not
        kinds = {_MONTH_NUMBER.sub("#月", e.name) for e in events}
        later = [e for year in (ctx.now.year, ctx.now.year + 1) for e in ctx.engine.schedule(ctx.scheme, year)
                 if e.kind == "deadline" and e.at >= ctx.now and _MONTH_NUMBER.sub("#月", e.name) in kinds]
        ahead = sorted(later, key=lambda e: e.at)[:len(kinds)]
        if not ahead:
            return None
        passed = f"{month}月的相关截止日期已过，"
    lines = [f"· {day(e.at)}前：{e.name}" for e in ahead]  # the dated name: a "次月…" description is another month's
    return Composed(join(f"{name}：{passed}还来得及的是：", *lines, _upcoming(ctx, [e.description for e in ahead])))
