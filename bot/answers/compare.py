"""Schemes side by side ("少儿基金和居民医保有什么区别", "两个都要交吗"): who may join, the fee, what it pays
and when to enrol, each from its own pack. Nothing links them beyond that: whether a child should join
one or both is not in the seeds, so it is not said."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from bot.answers.format import join, money
from bot.rules.benefits import standards

# Not "都要办": "两个孩子都要办" is about two children, not two schemes.
# "都要买吗": whether both are required — neither seed says
NEED_BOTH_WORDS = ("都要买", "都得买", "都要参加", "都得参加", "只买一个", "买一个就行", "只参加一个", "参加一个就行",
                   # "少儿基金交过了，居民医保还要办吗": the one scheme done, is the other needed too
                   "还要办", "还要交", "还要买", "还要参加", "还需要办", "还需要交", "还需要买", "还用办", "还用交",
                   "还得办", "还得交", "还用买")
COMPARE_WORDS = ("区别", "不同", "不一样", "差别", "哪个好", "哪个更", "选哪个", "比较", "一样吗", "两个都", "两项都",
                 "两个要", "两个医保都", "两样都") + NEED_BOTH_WORDS
NAMED_ONLY_WORDS = ("同时", "叠加")  # "居民医保和少儿基金可以同时报销吗" — but "两个孩子同时办" is not about schemes
BOTH_COVER_WORDS = ("都能报", "都可以报", "都报", "一起报", "都能用", "叠加", "重复报", "二次报")
SUM_WORDS = ("一共", "总共", "加起来", "合计", "共多少")  # "两个都买一共多少钱"
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


DIFFERENCE_WORDS = ("差多少", "相差", "差几", "差价", "贵多少", "便宜多少", "多多少", "少多少", "哪个贵", "哪个便宜",
                    "交得多", "交得少", "更贵", "更便宜")
SIDE_LINES = 2
# Lines that frame an answer rather than answer: headings, the source note, the hint to enrol.
_FRAME = re.compile(r"^【.*】$|^（依据|回复「参保」|：$|没答到点上")  # each scheme's answer in a side-by-side reply: its direct answer and the line after it


def side_by_side(answers: dict[str, tuple[Any, Any]], intent: str, text: str) -> str:
    """One question about two schemes ("宣城合工大的和上海中小学生医保交费差多少"): each scheme's own answer,
    shortened to its direct answer, one under the other; for fees asked "差多少" the difference, with
    the two standards' years (the seeds give different years, so the bot says so)."""
    parts = []
    for pack, composed in answers.values():
        answer = composed.text
        lines = [line.lstrip("· ") for line in answer.split("\n") if line.strip() and not _FRAME.search(line)]
        lead = lines[:SIDE_LINES]
        if lead and not lead[0].startswith(pack.short_name):
            lead[0] = f"【{pack.short_name}】{lead[0]}"
        parts.append("\n".join(lead))
    extra = ""
    if intent == "fee" and any(w in text for w in DIFFERENCE_WORDS):
        extra = _fee_difference(list(answers.values()))
    elif intent == "fee" and any(w in text for w in SUM_WORDS):
        extra = _fees_added([(composed.figure, composed.year) for _pack, composed in answers.values()],
                            [pack for pack, _composed in answers.values()])
    return join(*parts, extra, "两项分别参保、分别缴费，各按自己的材料计算。")


def _fee_difference(answers: list[tuple[Any, Any]]) -> str:
    """The two fees' difference, from the figures the two answers gave (the tier the guardian's facts chose)."""
    if len(answers) < 2 or any(composed.figure is None for _, composed in answers[:2]):
        return "其中一项按孩子情况分档，告诉我孩子的年龄或身份，我再算差额。"
    (pack_a, a), (pack_b, b) = answers[:2]
    (high_pack, high), (_low_pack, low) = sorted(answers[:2], key=lambda pc: pc[1].figure, reverse=True)
    if high.figure == low.figure:
        return "两项个人缴费金额相同。"
    years = f"（{a.year}年度与{b.year}年度标准，年份不同）" if a.year != b.year else ""
    return f"个人缴费相差{money(high.figure - low.figure)}元，{high_pack.short_name}多{years}。"


def compare(engine: Any, schemes: list[str], now: dt.datetime, text: str = "") -> str:
    cards = [_card(engine, scheme, now) for scheme in schemes]
    head = "这是两项不同的保障，分别参保、分别缴费："
    if any(w in text for w in NAMED_ONLY_WORDS + BOTH_COVER_WORDS):  # "可以同时报销吗" / "都能报吗": the seeds do not say how the two combine
        head = "材料没有写明这两项能否同时使用、怎样衔接，请以经办机构的答复为准。" + head
    elif any(w in text for w in NEED_BOTH_WORDS):
        head = "两份材料都没有说是否必须两项都参加，请以学校或经办机构的通知为准。" + head
    total = _fee_total(engine, schemes, now.date()) if any(w in text for w in SUM_WORDS) else ""
    return join(head, *cards, total, ASK_MORE)


def _fee_total(engine: Any, schemes: list[str], on: dt.date) -> str:
    """"两个都买一共多少钱": the standard fees added."""
    fees = [(r.amount, r.year) for r in (engine.fee(scheme, {}, on) for scheme in schemes)]
    return _fees_added(fees, [engine.pack(s) for s in schemes])


def _fees_added(fees: list[tuple[Any, int | None]], packs: list[Any]) -> str:
    """(amount, year) of each scheme's fee, added, saying when their years or periods (学年, 年) differ."""
    if any(amount is None for amount, _year in fees):
        return "其中一项按孩子情况分档，告诉我孩子的年龄或身份，我再算合计。"
    years = sorted({year for _amount, year in fees if year})
    notes = [f"{'年度与'.join(str(y) for y in years)}年度标准，年份不同"] if len(years) > 1 else []
    periods = [str(((p.raw or {}).get("fees") or {}).get("period_name") or "年") for p in packs]
    if len(set(periods)) > 1:
        notes.append("；".join(f"{p.short_name}按{period}" for p, period in zip(packs, periods)))
    note = f"（{'；'.join(notes)}）" if notes else ""
    return f"两项个人缴费合计{money(sum(amount for amount, _year in fees))}元{note}；低保、困境儿童等另有规定。"


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
