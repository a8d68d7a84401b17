"""Finds the procedure lines (engine.procedure) that best match a question's wording.

Each line's content tokens and character bigrams are indexed once at start-up; a question is
scored against them so "预审通过了要多久之内交钱" finds "缴费时限为预审通过的24小时内".
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from bot.answers.policy_text import parameter_notes
from bot.nlu.matcher import STOPWORDS
from bot.nlu.text import normalise

# Question words that say what kind of answer is wanted, not what it is about.
QUESTION_WORDS = frozenset(
    "怎么 怎么办 怎样 如何 什么 哪些 哪里 哪个 哪家 多少 多久 几 吗 呢 能 可以 需要 要 时候 什么时候 有没有 是不是"
    " 问题 情况 一下 请问 知道 告诉 上海 北京 宁波 宣城".split())
# "材料中…" / "材料没有写明" in a pack's notes speaks of the seed document, not of documents to bring:
# such a line must not answer "要带什么材料".
ABOUT_THE_SEED = re.compile(r"材料(?=中|里|没有|未|上|写|所|原文)|原文如此")
DISTINCTIVE = 1.0  # weight of pack-specific words needed to name the pack (one word, or two bigrams)
STRONG = 5.0  # a line at least this relevant (idf-weighted) answers the question on its own


CALENDAR_TOPIC = "calendar"  # dated events and relative deadlines of the pack, indexed like procedure lines


PARAMETER_TOPIC = "parameters"  # each dated parameter as a sentence: "筹资标准（元/人/年）：1810元（2021年度，原1600元）"


RULES_TOPIC = "rules"  # eligibility rules (name, seed sentence): who may join


def _rule_notes(pack: Any) -> list[tuple[str, str]]:
    spec = (pack.raw or {}).get("eligibility") or {}
    rules = [*(spec.get("rules") or []), *([spec["otherwise"]] if spec.get("otherwise") else [])]
    return [(str(r.get("name", "")), _sentences(str(r["text"]), str(r.get("explanation") or ""))) for r in rules
            if r.get("text")]


def _sentences(*parts: str) -> str:
    """Parts joined as sentences: the seed's rule text often has no full stop of its own."""
    kept = [p.strip() for p in parts if p.strip()]
    return "".join(p if p[-1] in "。！？；.!?" else p + "。" for p in kept[:-1]) + (kept[-1] if kept else "")


def _calendar_notes(pack: Any) -> list[tuple[str, str]]:
    calendar = (pack.raw or {}).get("calendar") or {}
    notes = []
    specs = [*(calendar.get("windows") or []), *(calendar.get("relative_deadlines") or []),
             *(calendar.get("events") or [])]
    for spec in specs:
        if spec.get("description"):
            notes.append((str(spec.get("name", "")), str(spec["description"])))
    return notes


@dataclass(frozen=True)
class Line:
    topic: str
    item: int
    index: int
    title: str
    text: str
    features: frozenset[str]
    title_features: frozenset[str] = frozenset()  # words and pairs in the heading count twice


def text_features(tokens: list[str]) -> frozenset[str]:
    """Content tokens, character bigrams ("#ab") and characters ("@a"): robust to jieba's cuts."""
    content = [t for t in tokens if t not in STOPWORDS and t not in QUESTION_WORDS and len(t.strip()) > 0]
    chars = "".join(t for t in content if not t.isdigit())
    feats = set(content)
    feats.update("#" + chars[i:i + 2] for i in range(len(chars) - 1))
    feats.update("@" + c for c in chars if "\u4e00" <= c <= "\u9fff")
    return frozenset(feats)


def _base(feature: str) -> float:
    return 0.5 if feature[0] == "#" else 0.15 if feature[0] == "@" else 1.0


class ProcedureIndex:
    def __init__(self, engine: Any, cut: Callable[[str], list[str]],
                 synonyms: dict[str, list[str]] | None = None) -> None:
        self._cut = cut
        self._synonyms = sorted((synonyms or {}).items(), key=lambda kv: len(kv[0]), reverse=True)
        self._lines: dict[str, list[Line]] = {}
        self._weights: dict[str, dict[str, float]] = {}
        self._places = sorted({engine.pack(s).city for s in engine.scheme_ids}, key=len, reverse=True)
        for scheme_id in engine.scheme_ids:
            pack = engine.pack(scheme_id)
            lines = []
            for topic, items in (pack.procedures or {}).items():
                for i, item in enumerate(items):
                    for j, text in enumerate(item.lines):
                        lines.append(self._line(topic, i, j, item.title, text))
            notes = [(CALENDAR_TOPIC, _calendar_notes(pack)), (RULES_TOPIC, _rule_notes(pack)),
                     (PARAMETER_TOPIC, parameter_notes(pack))]
            for topic, pairs in notes:
                lines += [self._line(topic, 0, j, title, text) for j, (title, text) in enumerate(pairs)]
            self._lines[scheme_id] = lines
            self._weights[scheme_id] = self._idf(lines)
        self._owner = self._sole_owners()  # built at start-up: the first question must not pay for it
        self._said = {scheme_id: "".join(f"{line.title}{line.text}" for line in lines).lower()
                      for scheme_id, lines in self._lines.items()}
        self._groups: dict[str, tuple[str, ...]] = {}  # silence term → its synonym group (`unsaid`)

    def _sole_owners(self) -> dict[str, str]:
        """Feature → the only pack whose lines use it."""
        owners: dict[str, set[str]] = {}
        for scheme_id, lines in self._lines.items():
            for line in lines:
                for feature in line.features:
                    # Single characters ("@交", or a one-character word such as 交 or 刚) are too common
                    # to tell packs apart: "交了钱能退吗" is not about Ningbo.
                    if feature[0] != "@" and len(feature) > 1:
                        owners.setdefault(feature, set()).add(scheme_id)
        return {f: next(iter(s)) for f, s in owners.items() if len(s) == 1}

    def _line(self, topic: str, item: int, index: int, title: str, text: str) -> Line:
        features = text_features(self._cut(normalise(ABOUT_THE_SEED.sub(" ", f"{title} {text}"))))
        heading = frozenset(f for f in text_features(self._cut(normalise(title))) if f[0] != "@")
        return Line(topic, item, index, title, text, features, heading)

    @staticmethod
    def _idf(lines: list[Line]) -> dict[str, float]:
        """Rare words in a pack's procedures say more than ones on every line (银行, 缴费)."""
        counts: dict[str, int] = {}
        for line in lines:
            for feature in line.features:
                counts[feature] = counts.get(feature, 0) + 1
        total = len(lines) + 1
        return {f: _base(f) * math.log(total / n) for f, n in counts.items()}

    def topics(self, scheme_id: str) -> list[str]:
        return sorted({line.topic for line in self._lines.get(scheme_id, [])})

    def question_features(self, text: str, expand: bool = True) -> frozenset[str]:
        for place in self._places:  # the city says which pack, not which line
            text = text.replace(place, " ")
        extra = [w for word, words in self._synonyms if word in text for w in words] if expand else []
        return text_features(self._cut(" ".join([text, *extra])))

    def scored(self, scheme_id: str, question: frozenset[str]) -> list[tuple[float, Line]]:
        """Every line of the pack with its relevance (0 when nothing is shared)."""
        weights = self._weights.get(scheme_id, {})
        return [(sum(weights.get(f, 0.0) for f in question & line.features)
                 + sum(weights.get(f, 0.0) for f in question & line.title_features), line)
                for line in self._lines.get(scheme_id, [])]

    def best(self, scheme_id: str, question: frozenset[str], topics: list[str] | None = None,
             limit: int = 3) -> list[tuple[float, Line]]:
        """The most relevant lines (optionally within some topics), best first, only relevant ones."""
        scored = [(score, line) for score, line in self.scored(scheme_id, question)
                  if topics is None or line.topic in topics]
        scored = [s for s in scored if s[0] > 0]
        scored.sort(key=lambda s: s[0], reverse=True)
        return scored[:limit]

    def unsaid(self, scheme_id: str, text: str, terms: list[str]) -> list[str]:
        """The `terms` (lexicon.silence_terms) the question names and this pack's lines never do, nor any
        synonym of them ("能用支付宝交吗" of a pack that names no 支付宝): what the pack is silent on."""
        said, text = self._said.get(scheme_id, ""), text.lower()
        missing = []
        for term in terms:
            synonyms = self._synonym_group(term)
            asked = any(w in text for w in synonyms)  # "刚出生" asks about 新生儿
            if asked and not any(w in said for w in synonyms):
                missing.append(term)
        return missing

    def _synonym_group(self, term: str) -> tuple[str, ...]:
        """`term` and every word a lexicon synonym entry pairs with it, lower-cased; worked out once per term
        (asked on every answer, and a walk over all synonym entries costs ~10 µs a term)."""
        group = self._groups.get(term)
        if group is None:
            words = {term, *(w for word, others in self._synonyms if term in (word, *others) for w in (word, *others))}
            group = self._groups[term] = tuple(w.lower() for w in words)
        return group

    def distinctive_scheme(self, text: str, vocabulary: frozenset[str] | set[str] | None = None) -> str | None:
        """The one pack whose own vocabulary the question uses ("预审" → the Shanghai fund, "京卡" → Beijing).

        Only words found in a single pack's lines count; if they point at two packs, nobody is chosen.
        """
        votes: dict[str, float] = {}
        for feature in self.question_features(text, expand=False):  # the guardian's own words only
            scheme_id = self._owner.get(feature)
            if scheme_id and (vocabulary is None or feature in vocabulary):  # only domain words, when given
                votes[scheme_id] = votes.get(scheme_id, 0.0) + _base(feature)
        ranked = sorted(votes.items(), key=lambda kv: kv[1], reverse=True)
        if not ranked or ranked[0][1] < DISTINCTIVE:
            return None
        if len(ranked) > 1 and ranked[0][1] < 2 * ranked[1][1]:
            return None  # words of two packs: ask rather than guess
        return ranked[0][0]
