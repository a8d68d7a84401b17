"""English questions read as the Chinese the NLU understands (policies/nlu/english.yaml).

"How much is the Shanghai children's hospitalization fund a year?" becomes "多少钱上海少儿住院互助基金一年":
the same keywords and slots as the Chinese question. English words the table does not list carry no
meaning for intents or slots and are dropped (digits stay: "5-year-old" → "5岁").
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.yamlio import load_yaml

_LATIN = re.compile(r"[a-z]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[a-z][a-z'’]*")
NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
    " seventeen eighteen nineteen twenty".split())}
_NUMBER_WORDS = re.compile(r"(?<![a-z])(?:" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")(?![a-z])")
# "my son is 17", "she turned 6": an age said without "years old"
_BARE_AGE = re.compile(r"\b(is|aged|age|turned|turns)\s+(\d{1,2})\b(?!\s*(?:yuan|rmb|kuai|%|years|year|-year|months|month))")


def is_english(text: str) -> bool:
    """Mostly Latin letters: the guardian writes English (a Chinese question with "ok" or "A档" is not)."""
    latin = len(_LATIN.findall(text.lower()))
    return latin >= 4 and latin >= 3 * len(_CJK.findall(text))


@dataclass
class EnglishReader:
    phrases: dict[str, str] = field(default_factory=dict)
    scheme_names: dict[str, str] = field(default_factory=dict)
    pinyin: dict[str, str] = field(default_factory=dict)  # pinyin words: read, but not English

    @classmethod
    def load(cls, path: Path) -> "EnglishReader":
        raw = (load_yaml(path) if Path(path).is_file() else None) or {}
        phrases = {str(k).lower().replace("’", "'"): str(v) for k, v in (raw.get("phrases") or {}).items()}
        names = {str(k): str(v) for k, v in (raw.get("schemes") or {}).items()}
        pinyin = {str(k).lower(): str(v) for k, v in (raw.get("pinyin") or {}).items()}
        return cls({**phrases, **pinyin}, names, pinyin)

    def __post_init__(self) -> None:
        ordered = sorted(self.phrases, key=len, reverse=True)
        # Whole words only: "hi" inside "children" is no greeting. A phrase starting with "-" ("-year-old")
        # follows a digit directly.
        self._pattern = re.compile(
            "|".join(rf"(?<![a-z]){re.escape(p)}(?![a-z])" for p in ordered)) if ordered else None

    def is_english(self, text: str) -> bool:
        """English, not pinyin typed in Latin letters: pinyin words do not count as English."""
        if self.pinyin:
            text = re.sub("|".join(rf"(?<![a-z]){re.escape(p)}(?![a-z])" for p in self.pinyin), " ", text.lower())
        return is_english(text)

    def translate(self, text: str, drop_unknown: bool = True) -> str:
        """Lower-cased English → Chinese words; unknown English words dropped (in an English message; a
        Chinese one with "ok" or "A档" keeps them), spaces kept for the caller."""
        text = text.lower().replace("’", "'")
        text = _BARE_AGE.sub(lambda m: f"{m.group(1)} {m.group(2)} years old", text)  # "my son is 17"
        text = _NUMBER_WORDS.sub(lambda m: str(NUMBER_WORDS[m.group()]), text)
        if self._pattern is not None:
            text = self._pattern.sub(lambda m: f" {self.phrases[m.group()]} ", text)
        return _WORD.sub(" ", text) if drop_unknown else text
