"""Nlu: message → Understanding (intent, confidence, slots, tokens, ranked candidates)."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.nlu.catalogue import Catalogue
from bot.nlu.lexicon import Lexicon
from bot.nlu.matcher import MASK, IntentMatcher
from bot.nlu.slots import SlotExtractor
from bot.nlu.text import normalise, strip_punctuation
from bot.nlu.tokenizer import JiebaTokenizer, Tokenizer

UNCLEAR = "unclear"  # the intent when no catalogue intent is convincing
MIN_SCORE = 0.30  # below this the bot says it did not understand
MIN_MARGIN = 0.02  # two near-equal weak candidates are also "unclear"
CLOSE_CALL = 0.40  # …unless the leader is this sure anyway
STRONG_KEYWORDS = 4.0  # a message this clearly about a new topic overrides a pending question
_MENU_CHOICE = re.compile(r"^(?:第)?([1-9]|[一二三四五六七八九])(?:个|项|号)?$")
_CN_DIGIT = "一二三四五六七八九"


@dataclass
class Understanding:
    intent: str
    confidence: float
    slots: dict[str, Any]
    tokens: list[str]
    candidates: list[tuple[str, float]] = field(default_factory=list)
    text: str = ""  # the normalised message


class Nlu:
    def __init__(self, tokenizer: Tokenizer, lexicon: Lexicon, catalogue: Catalogue) -> None:
        self.tokenizer = tokenizer
        self.lexicon = lexicon
        self.catalogue = catalogue
        self.slots = SlotExtractor(lexicon)
        self.matcher = IntentMatcher(catalogue, self._analyse)
        self.startup_seconds = 0.0

    @classmethod
    def load(cls, policies_dir: Path, cache_dir: Path,
             scheme_aliases: dict[str, list[str]] | None = None) -> "Nlu":
        """Build once at start-up: jieba's prefix dictionary comes from `cache_dir` after the first run."""
        started = time.perf_counter()
        nlu_dir = Path(policies_dir) / "nlu"
        lexicon = Lexicon.load(nlu_dir / "lexicon.yaml", scheme_aliases)
        catalogue = Catalogue.load(nlu_dir / "intents.yaml")
        catalogue_words = [k for i in catalogue.intents.values() for k in i.keywords if len(k) >= 2]
        tokenizer = JiebaTokenizer(Path(cache_dir), [*lexicon.words, *catalogue_words])
        nlu = cls(tokenizer, lexicon, catalogue)
        nlu.startup_seconds = time.perf_counter() - started
        return nlu

    def _analyse(self, text: str) -> tuple[list[str], dict[str, Any]]:
        text = self.lexicon.standardise(normalise(text))
        slots, masked = self.slots.extract(text)
        return self._content_tokens(self.tokenizer.cut(text), masked), slots

    @staticmethod
    def _content_tokens(tokens: list[str], masked: str) -> list[str]:
        """Tokens outside the masked scheme names (one cut serves both the reply and matching)."""
        content = []
        position = 0
        for token in tokens:
            start = masked.find(token, position) if MASK not in token else -1
            found = start >= 0 and masked[start:start + len(token)] == token
            if found:
                content.append(token)
                position = start + len(token)
        return content

    def understand(self, text: str, context: dict | None = None) -> Understanding:
        context = context or {}
        norm = self.lexicon.standardise(normalise(text)[:500])  # a pasted essay is not a question
        slots, masked = self.slots.extract(norm)
        tokens = self.tokenizer.cut(strip_punctuation(norm))
        content_tokens = self._content_tokens(tokens, masked)
        menu_choice = self._menu_choice(norm, context)
        if menu_choice:
            return Understanding(menu_choice, 1.0, slots, tokens, [(menu_choice, 1.0)], norm)
        ranked = self.matcher.rank(content_tokens, masked, slots)
        candidates = [(name, round(score, 3)) for name, score, _ in ranked[:3]]
        best, score, raw = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        pending = (context.get("pending") or {}).get("intent")
        if pending and raw < STRONG_KEYWORDS and (slots or len(norm) <= 8):
            # "住院还是门诊？" → "住院": an answer to our own question, not a new topic.
            return Understanding(pending, 0.9, slots, tokens, candidates, norm)
        if score < MIN_SCORE or (score - second < MIN_MARGIN and score < CLOSE_CALL):
            return Understanding(UNCLEAR, round(score, 3), slots, tokens, candidates, norm)
        return Understanding(best, round(min(score, 1.0), 3), slots, tokens, candidates, norm)

    @staticmethod
    def _menu_choice(norm: str, context: dict) -> str | None:
        menu = context.get("menu") or []
        match = _MENU_CHOICE.match(strip_punctuation(norm))
        if not menu or not match:
            return None
        digit = match.group(1)
        index = int(digit) if digit.isdigit() else _CN_DIGIT.index(digit) + 1
        return menu[index - 1] if 0 < index <= len(menu) else None
