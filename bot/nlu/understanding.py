"""Nlu: message → Understanding (intent, confidence, slots, tokens, ranked candidates)."""
from __future__ import annotations

import re
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bot.nlu.catalogue import Catalogue
from bot.nlu.english import EnglishReader
from bot.nlu.lexicon import Lexicon
from bot.nlu.matcher import MASK, IntentMatcher
from bot.nlu.slots import SlotExtractor
from bot.nlu.text import normalise, strip_punctuation
from bot.nlu.tokenizer import JiebaTokenizer, Tokenizer
from bot.nlu.typos import TypoCorrector
from dialogs.forms import copy_json

MAX_CHARS = 500
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")


def clean(text: str) -> str:
    """Control and zero-width characters removed (they come with pasted text and break nothing else)."""
    return _CONTROL.sub("", text)


UNCLEAR = "unclear"  # the intent when no catalogue intent is convincing
MIN_SCORE = 0.30  # below this the bot says it did not understand
MIN_MARGIN = 0.02  # two near-equal weak candidates are also "unclear"
CLOSE_CALL = 0.40  # …unless the leader is this sure anyway
# A greeting before a question ("你好，…", "您好 请问…", "在吗？…"): read the question.
_GREETING_FIRST = re.compile(r"^(?:你好|您好|在吗|哈喽|hello|hi|早上好|下午好|晚上好|老师好)[呀啊哦~！!，,。.？?\s]*(?:请问)?")
GREETING_REST_MIN = 4
STRONG_KEYWORDS = 4.0  # a message this clearly about a new topic overrides a pending question
_MENU_CHOICE = re.compile(r"^(?:第)?([1-9]|[一二三四五六七八九])(?:个|项|号)?$")
_CN_DIGIT = "一二三四五六七八九"
# Understandings remembered by (text, the pending question, the menu shown): the same message in the same
# context reads the same for every guardian ("我要参保", "交多少钱", a menu's "2"), and reading it afresh is
# a tokenizer pass, slot patterns and the matcher — most of a short turn's CPU.
MEMO_SIZE = 5_000  # about 2.4 KB each with the typo memo's entry: ~12 MB at most


@dataclass
class Understanding:
    intent: str
    confidence: float
    slots: dict[str, Any]
    tokens: list[str]
    candidates: list[tuple[str, float]] = field(default_factory=list)
    text: str = ""  # the normalised message (English read as Chinese, typos corrected)
    lang: str = "zh"  # "en" when the guardian wrote English: the reply's own parts are composed in English


class Nlu:
    def __init__(self, tokenizer: Tokenizer, lexicon: Lexicon, catalogue: Catalogue,
                 english: EnglishReader | None = None) -> None:
        self.tokenizer = tokenizer
        self.lexicon = lexicon
        self.catalogue = catalogue
        self.english = english or EnglishReader()
        is_word = getattr(tokenizer, "is_word", lambda _w: False)
        self.typos = TypoCorrector(lexicon.typo_targets, is_word, lexicon.typo_excluded)
        self.slots = SlotExtractor(lexicon)
        self.matcher = IntentMatcher(catalogue, self._analyse)
        self.startup_seconds = 0.0
        self._memo: OrderedDict[tuple, Understanding] = OrderedDict()

    @classmethod
    def load(cls, policies_dir: Path, cache_dir: Path, scheme_aliases: dict[str, list[str]] | None = None,
             scheme_cities: dict[str, str] | None = None) -> "Nlu":
        """Build once at start-up: jieba's prefix dictionary comes from `cache_dir` after the first run."""
        started = time.perf_counter()
        nlu_dir = Path(policies_dir) / "nlu"
        lexicon = Lexicon.load(nlu_dir / "lexicon.yaml", scheme_aliases, scheme_cities)
        catalogue = Catalogue.load(nlu_dir / "intents.yaml")
        catalogue_words = [k for i in catalogue.intents.values() for k in i.keywords if len(k) >= 2]
        tokenizer = JiebaTokenizer(Path(cache_dir), [*lexicon.words, *catalogue_words])
        nlu = cls(tokenizer, lexicon, catalogue, EnglishReader.load(nlu_dir / "english.yaml"))
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

    def read(self, text: str) -> tuple[str, str]:
        """(the message as the matcher reads it, its language): English read as Chinese, full-width and
        traditional characters folded, colloquial words standardised, typos of domain words corrected."""
        text = clean(text or "")[:MAX_CHARS]  # a pasted essay is not a question
        lang = "en" if self.english.is_english(text) else "zh"
        if lang == "en" or _LATIN_WORD.search(text):  # "shanghai 少儿住院互助基金 how much 一年" too
            text = self.english.translate(unicodedata.normalize("NFKC", text), drop_unknown=lang == "en")
        return self.typos.correct(self.lexicon.standardise(normalise(text))), lang

    def command(self, text: str) -> str:
        """A whole message that is a command said with a typo ("上一部") → the command; else the text as is."""
        stripped = clean(text or "").strip().strip("。.!！")
        if stripped in self.lexicon.commands or not 2 <= len(stripped) <= 6:
            return text
        corrected = self.typos.correct(stripped)
        return corrected if corrected in self.lexicon.commands else text

    def understand(self, text: str, context: dict | None = None) -> Understanding:
        context = context or {}
        key = _memo_key(text, context)
        found = self._memo.get(key) if key is not None else None
        if found is None:
            found = self._understand(text, context)
            if key is not None:
                if len(self._memo) >= MEMO_SIZE:
                    self._memo.popitem(last=False)
                self._memo[key] = found
        else:
            self._memo.move_to_end(key)
        # a copy: callers may change what they are given, the remembered reading must not change
        return Understanding(found.intent, found.confidence, copy_json(found.slots), list(found.tokens),
                             list(found.candidates), found.text, found.lang)

    def _understand(self, text: str, context: dict) -> Understanding:
        norm, lang = self.read(text)
        greeted = _GREETING_FIRST.match(norm)
        if greeted and len(norm) - greeted.end() >= GREETING_REST_MIN:
            # "你好，少儿基金多少钱": the greeting is manners; the question is the rest
            rest = self._understand(norm[greeted.end():], context)
            return Understanding(rest.intent, rest.confidence, rest.slots, rest.tokens, rest.candidates, norm, lang)
        slots, masked = self.slots.extract(norm)
        tokens = self.tokenizer.cut(strip_punctuation(norm))
        content_tokens = self._content_tokens(tokens, masked)
        menu_choice = self._menu_choice(norm, context)
        if menu_choice:
            return Understanding(menu_choice, 1.0, slots, tokens, [(menu_choice, 1.0)], norm, lang)
        ranked = self.matcher.rank(content_tokens, masked, slots)
        candidates = [(name, round(score, 3)) for name, score, _ in ranked[:3]]
        if ranked[0][0] == "enroll" and _HOW_TO.search(norm) and "procedure" in self.catalogue.intents \
                and not slots.get("enroll_request"):
            # "宁波医保通app怎么给孩子参保" asks how it is done, not to start our form ("…怎么办理？我要办" does)
            ranked = sorted(ranked, key=lambda r: r[0] != "procedure")
            ranked[0] = ("procedure", max(ranked[0][1], ranked[1][1] if len(ranked) > 1 else 0), ranked[0][2])
        best, score, raw = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        pending = (context.get("pending") or {}).get("intent")
        if pending and raw < STRONG_KEYWORDS and (slots or len(norm) <= 8) \
                and not _new_question(norm, best, score, context.get("pending") or {}, slots):
            # "住院还是门诊？" → "住院": an answer to our own question, not a new topic.
            return Understanding(pending, 0.9, slots, tokens, candidates, norm, lang)
        if score < MIN_SCORE or (score - second < MIN_MARGIN and score < CLOSE_CALL):
            return Understanding(UNCLEAR, round(score, 3), slots, tokens, candidates, norm, lang)
        return Understanding(best, round(min(score, 1.0), 3), slots, tokens, candidates, norm, lang)

    @staticmethod
    def _menu_choice(norm: str, context: dict) -> str | None:
        menu = context.get("menu") or []
        match = _MENU_CHOICE.match(strip_punctuation(norm))
        if not menu or not match:
            return None
        digit = match.group(1)
        index = int(digit) if digit.isdigit() else _CN_DIGIT.index(digit) + 1
        return menu[index - 1] if 0 < index <= len(menu) else None


_HOW_TO = re.compile(r"怎么|怎样|如何|咋|流程|步骤|在哪")
_ASKS = re.compile(r"吗|么|\?|多少|什么|怎么|几|哪|能不能|可不可以|来得及|是否")


def _new_question(norm: str, best: str, score: float, pending: dict, slots: dict) -> bool:
    """"今天能交吗" while we wait for a hospital level is a question of its own, not the answer: a message
    that asks, is about another intent and does not give the fact we asked for."""
    need = (pending.get("need") or [None])[0]
    gives = need in slots or (need == "scheme" and bool(slots.keys() & {"scheme", "scheme_candidates", "city"}))
    return bool(_ASKS.search(norm)) and best != pending.get("intent") and score >= MIN_SCORE and not gives


def _memo_key(text: str, context: dict) -> tuple | None:
    """What an understanding depends on besides the text: the question we asked and the menu we showed."""
    pending, menu = context.get("pending"), context.get("menu")
    try:
        return (text, orjson.dumps(pending, option=orjson.OPT_SORT_KEYS) if pending else b"",
                orjson.dumps(menu) if menu else b"")
    except (TypeError, orjson.JSONEncodeError):  # not plain data: read afresh
        return None
