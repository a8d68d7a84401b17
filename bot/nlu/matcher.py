"""Ranks intents for a message: weighted keywords plus similarity to the catalogue's examples.

Keywords are matched on the message with scheme names masked; similarity is a Dice coefficient
over content tokens, character bigrams and slot placeholders (so "北京一小多少钱" resembles
"<scheme> 多少钱" whichever scheme is named). Both use indexes built once, so a message costs a
few hundred dictionary look-ups, not a scan of every keyword and example.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from bot.nlu.catalogue import Catalogue

STOPWORDS = frozenset(
    "的 了 吗 呢 啊 吧 呀 哦 嘛 么 哈 是 在 我 我家 我们 你 您 你们 请问 想 问 问下 一下 个 这 那 这个 那个 还 就 都 也 和 与 及"
    " 给 对 孩子 娃 宝宝 小孩 儿子 女儿 闺女 小朋友 家 有 要 会 能 可以 不 吧 哪 请 下 啦 噢 嗯 帮 麻烦".split())
MASK = "□"
# Slots that become placeholder features for similarity.
_PLACEHOLDER_SLOTS = ("scheme", "city", "amount", "age", "kind", "hospital_level", "condition")
# Facts describing the child: a "能交吗" said with them asks whether the child may join.
CHILD_FACTS = ("hukou_city", "in_school", "school_stage", "age", "person_group", "school_city")
KEYWORD_SCALE = 4.0  # keyword weight that gives ~63 % of the keyword score
KEYWORD_SHARE = 0.6


def features(tokens: list[str], slots: dict[str, Any]) -> frozenset[str]:
    content = [t for t in tokens if t not in STOPWORDS and MASK not in t and not t.isdigit()]
    feats = set(content)
    chars = "".join(content)
    feats.update("#" + chars[i:i + 2] for i in range(len(chars) - 1))
    feats.update(f"<{name}>" for name in _PLACEHOLDER_SLOTS if name in slots)
    if "scheme_candidates" in slots:
        feats.add("<scheme>")
    return frozenset(feats)


def _latin(char: str) -> bool:
    return char.isascii() and char.isalpha()


def _inside_a_latin_word(text: str, start: int, end: int) -> bool:
    """A Latin keyword ("hi", "hello") counts only as a whole word."""
    if not _latin(text[start]):
        return False
    return (start > 0 and _latin(text[start - 1])) or (end < len(text) and _latin(text[end]))


class IntentMatcher:
    def __init__(self, catalogue: Catalogue, analyse: Callable[[str], tuple[list[str], dict[str, Any]]]) -> None:
        """`analyse(text)` returns (content tokens with scheme names removed, slots) for a normalised text."""
        self.catalogue = catalogue
        self.names = list(catalogue.intents)
        # keyword → [(intent index, weight)]
        self._keywords: dict[str, list[tuple[int, float]]] = {}
        for i, intent in enumerate(catalogue.intents.values()):
            for word, weight in intent.keywords.items():
                self._keywords.setdefault(word, []).append((i, weight))
        self._longest = max((len(w) for w in self._keywords), default=1)
        # feature → [example index]; example index → (intent index, feature count)
        self._postings: dict[str, list[int]] = {}
        self._examples: list[tuple[int, int]] = []
        for i, intent in enumerate(catalogue.intents.values()):
            for example in intent.examples:
                feats = features(*analyse(example))
                for feat in feats:
                    self._postings.setdefault(feat, []).append(len(self._examples))
                self._examples.append((i, len(feats)))

    def keyword_weights(self, masked: str) -> list[float]:
        """Per intent: the weights of its keywords found, a longer keyword claiming its characters."""
        found: list[tuple[int, int, int, float]] = []  # (-length, start, intent, weight)
        for start in range(len(masked)):
            for end in range(start + 1, min(len(masked), start + self._longest) + 1):
                hits = self._keywords.get(masked[start:end], ())
                if hits and _inside_a_latin_word(masked, start, end):
                    continue  # "hi" in "child" is no greeting
                for intent, weight in hits:
                    found.append((start - end, start, intent, weight))
        found.sort()
        totals = [0.0] * len(self.names)
        claimed: dict[int, set[int]] = {}
        longer: list[tuple[int, int]] = []  # spans taken by longer keywords of any intent
        seen: set[tuple[int, str]] = set()  # one keyword counts once however often it is repeated
        for neg_len, start, intent, weight in found:
            end = start - neg_len
            if any(s <= start and end <= e and e - s > end - start for s, e in longer):
                continue  # "怎么报名" is not "怎么报"; "扣款失败" is not "扣款"
            word = (intent, masked[start:end])
            span = set(range(start, end))
            taken = claimed.setdefault(intent, set())
            if word in seen or span <= taken:
                continue
            seen.add(word)
            taken |= span
            longer.append((start, end))
            totals[intent] += weight
        return totals

    def similarities(self, feats: frozenset[str]) -> list[float]:
        shared: dict[int, int] = {}
        for feat in feats:
            for example in self._postings.get(feat, ()):
                shared[example] = shared.get(example, 0) + 1
        best = [0.0] * len(self.names)
        size = len(feats)
        for example, count in shared.items():
            intent, ex_size = self._examples[example]
            best[intent] = max(best[intent], 2 * count / (size + ex_size))
        return best

    def rank(self, content_tokens: list[str], masked: str, slots: dict[str, Any]) -> list[tuple[str, float, float]]:
        """(intent, score, raw keyword weight), best first."""
        raws = self.keyword_weights(masked)
        sims = self.similarities(features(content_tokens, slots))
        ranked = []
        for i, name in enumerate(self.names):
            keyword_score = 1 - math.exp(-raws[i] / KEYWORD_SCALE)
            score = KEYWORD_SHARE * keyword_score + (1 - KEYWORD_SHARE) * sims[i]
            ranked.append((name, score + _slot_bonus(name, slots), raws[i]))
        ranked.sort(key=lambda item: item[1], reverse=True)
        return ranked


def _slot_bonus(intent: str, slots: dict[str, Any]) -> float:
    """Evidence from slots: a bill amount with a visit kind is a reimbursement question."""
    if intent == "reimbursement" and "amount" in slots and ("kind" in slots or "hospital_level" in slots):
        return 0.15
    if intent == "reimbursement" and "condition" in slots:
        return 0.05
    if intent == "deadline" and slots.get("when_asked"):
        return 0.5  # "今天能交吗": a yes/no about a date, answered from the calendar
    if intent == "eligibility" and slots.get("when_asked"):
        return -0.2  # "今天能参保吗" asks whether it can be done today, not whether the child may join
    if intent == "enroll" and slots.get("done_already"):
        return -0.3  # "已经给孩子办好了": nothing to start
    if intent == "enroll" and slots.get("enroll_request"):
        return 0.35  # "帮我孩子办下北京的一小医保", "给娃办个少儿基金": a request to enrol, with no question in it
    if intent == "eligibility" and slots.get("can_ask") and any(name in slots for name in CHILD_FACTS):
        # "孩子在上海上学但户口在江苏，少儿基金能交吗", "孩子16岁了还能交吗": whether this child may join
        return 0.45 if "age" in slots else 0.35
    if intent == "deadline" and slots.get("date_mention"):
        return 0.2
    return 0.0
