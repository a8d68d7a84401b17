"""Ranks intents for a message: weighted keywords plus similarity to the catalogue's examples.

Keywords are matched on the message with scheme names masked; similarity is a Dice coefficient
over content tokens, character bigrams and slot placeholders (so "北京一小多少钱" resembles
"<scheme> 多少钱" whichever scheme is named).
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
KEYWORD_SCALE = 4.0  # keyword weight that gives ~63 % of the keyword score
KEYWORD_SHARE = 0.6


def features(tokens: list[str], masked: str, slots: dict[str, Any]) -> frozenset[str]:
    content = [t for t in tokens if t not in STOPWORDS and MASK not in t and not t.isdigit()]
    feats = set(content)
    chars = "".join(content)
    feats.update("#" + chars[i:i + 2] for i in range(len(chars) - 1))
    feats.update(f"<{name}>" for name in _PLACEHOLDER_SLOTS if name in slots)
    if "scheme_candidates" in slots:
        feats.add("<scheme>")
    return frozenset(feats)


def dice(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


class IntentMatcher:
    def __init__(self, catalogue: Catalogue, analyse: Callable[[str], tuple[list[str], str, dict[str, Any]]]) -> None:
        """`analyse(text)` returns (tokens, masked text, slots) for a normalised text."""
        self.catalogue = catalogue
        # Longest keywords first, so "扣款失败" claims its characters before "扣款".
        self._keywords = {
            name: sorted(intent.keywords.items(), key=lambda kv: len(kv[0]), reverse=True)
            for name, intent in catalogue.intents.items()
        }
        for intent in catalogue.intents.values():
            intent.example_features = [features(*analyse(example)) for example in intent.examples]

    def keyword_weight(self, name: str, masked: str) -> float:
        claimed = [False] * len(masked)
        total = 0.0
        for word, weight in self._keywords[name]:
            start = masked.find(word)
            while start >= 0:
                span = range(start, start + len(word))
                if not all(claimed[i] for i in span):
                    for i in span:
                        claimed[i] = True
                    total += weight
                    break
                start = masked.find(word, start + 1)
        return total

    def rank(self, tokens: list[str], masked: str, slots: dict[str, Any]) -> list[tuple[str, float, float]]:
        """(intent, score, raw keyword weight), best first."""
        feats = features(tokens, masked, slots)
        ranked = []
        for name, intent in self.catalogue.intents.items():
            raw = self.keyword_weight(name, masked)
            keyword_score = 1 - math.exp(-raw / KEYWORD_SCALE)
            similarity = max((dice(feats, ex) for ex in intent.example_features), default=0.0)
            score = KEYWORD_SHARE * keyword_score + (1 - KEYWORD_SHARE) * similarity
            ranked.append((name, score + _slot_bonus(name, slots), raw))
        ranked.sort(key=lambda item: item[1], reverse=True)
        return ranked


def _slot_bonus(intent: str, slots: dict[str, Any]) -> float:
    """Evidence from slots: a bill amount with a visit kind is a reimbursement question."""
    if intent == "reimbursement" and "amount" in slots and ("kind" in slots or "hospital_level" in slots):
        return 0.15
    if intent == "reimbursement" and "condition" in slots:
        return 0.05
    return 0.0
