"""Schemes side by side ("少儿基金和居民医保有什么区别", "两个都要交吗"): who may join, the fee, what it pays
and when to enrol, each from its own pack. Nothing links them beyond that: whether a child should join
one or both is not in the seeds, so it is not said."""
from __future__ import annotations

import datetime as dt
from typing import Any

from bot.answers.format import join, money
from bot.rules.benefits import standards

# Not "都要办": "两个孩子都要办" is about two children, not two schemes.
COMPARE_WORDS = ("区别", "不同", "不一样", "差别", "哪个好", "哪个更", "选哪个", "比较", "一样吗", "两个都", "两项都",
                 "两个要", "两个医保都", "两样都")
NAMED_ONLY_WORDS = ("同时",)  # "居民医保和少儿基金可以同时报销吗" — but "两个孩子同时办" is not about schemes
BOTH_WORDS = ("两个", "两项", "这两", "两种")  # without naming the schemes: the city's, as the bot just listed them
MAX_SCHEMES = 2  # two cards fit a reply; Shanghai, the city with two schemes, has two
ASK_MORE = "想细问哪一项，直接问我，例如「少儿基金交多少」「居民医保住院报多少」。"


def schemes_to_compare(text: str, slots: dict[str, Any], city_schemes: list[str]) -> list[str]:
    """The schemes a comparison question is about: those it names ("少儿基金和居民医保有什么区别"), or with
    "两个/这两" and no names ("两个都要交吗") the city's. "门诊和住院有什么区别" compares no schemes."""
    named = list(dict.fromkeys(slots.get("scheme_candidates") or []))
    if len(named) >= 2 and any(w in text for w in NAMED_ONLY_WORDS):
        return named[:MAX_SCHEMES]
    if not any(w in text for w in COMPARE_WORDS):
        return []
    if len(named) < 2:
        named = city_schemes if any(w in text for w in BOTH_WORDS) else []
    return named[:MAX_SCHEMES] if len(named) >= 2 else []


def compare(engine: Any, schemes: list[str], now: dt.datetime, text: str = "") -> str:
    cards = [_card(engine, scheme, now) for scheme in schemes]
    head = "这是两项不同的保障，分别参保、分别缴费："
    if any(w in text for w in NAMED_ONLY_WORDS):  # "可以同时报销吗": the seeds do not say how the two combine
        head = "材料没有写明这两项能否同时使用、怎样衔接，请以经办机构的答复为准。" + head
    return join(head, *cards, ASK_MORE)


def _card(engine: Any, scheme: str, now: dt.datetime) -> str:
    pack = engine.pack(scheme)
    who = [r["name"] for r in (pack.raw.get("eligibility") or {}).get("rules", []) if r.get("result") == "eligible"]
    lines = [f"【{pack.short_name}】"]
    if who:
        lines.append(f"· 参保对象：{'；'.join(who[:2])}{'等' if len(who) > 2 else ''}")
    lines.append(f"· 个人缴费：{_fee(engine, scheme, now.date())}")
    lines.append(f"· 报销：{_benefits(pack, now.date())}")
    lines.append(f"· 办理时间：{_first_sentence(engine.windows(scheme, now).explanation)}")
    return "\n".join(lines)


def _fee(engine: Any, scheme: str, on: dt.date) -> str:
    result = engine.fee(scheme, {}, on)
    year = f"（{result.year}年度标准）" if result.year else ""
    if result.amount is not None:
        return f"{money(result.amount)}元{year}"
    tiers = "；".join(f"{t.name}{'免缴' if t.exempt else money(t.amount) + '元'}" for t in result.tiers[:3])
    return f"{tiers}{year}" if tiers else "以当年通知为准"


def _benefits(pack: Any, on: dt.date) -> str:
    lines = standards(pack, on)
    if lines:
        return lines[0].rstrip("。")  # the inpatient line: what a family most needs to compare
    return _first_sentence((pack.raw.get("notes") or {}).get("benefits", "材料没有写明报销比例。"))


def _first_sentence(text: str) -> str:
    head, dot, _rest = text.partition("。")
    return head + dot if dot else text
