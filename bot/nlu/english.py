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


def is_english(text: str) -> bool:
    """Mostly Latin letters: the guardian writes English (a Chinese question with "ok" or "A档" is not)."""
    latin = len(_LATIN.findall(text.lower()))
    return latin >= 4 and latin >= 3 * len(_CJK.findall(text))


@dataclass
class EnglishReader:
    phrases: dict[str, str] = field(default_factory=dict)
    scheme_names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> "EnglishReader":
        raw = (load_yaml(path) if Path(path).is_file() else None) or {}
        phrases = {str(k).lower().replace("’", "'"): str(v) for k, v in (raw.get("phrases") or {}).items()}
        names = {str(k): str(v) for k, v in (raw.get("schemes") or {}).items()}
        return cls(phrases, names)

    def __post_init__(self) -> None:
        ordered = sorted(self.phrases, key=len, reverse=True)
        # Whole words only: "hi" inside "children" is no greeting. A phrase starting with "-" ("-year-old")
        # follows a digit directly.
        self._pattern = re.compile(
            "|".join(rf"(?<![a-z]){re.escape(p)}(?![a-z])" for p in ordered)) if ordered else None

    def translate(self, text: str) -> str:
        """Lower-cased English → Chinese words; unknown English words dropped, spaces kept for the caller."""
        text = text.lower().replace("’", "'")
        if self._pattern is not None:
            text = self._pattern.sub(lambda m: f" {self.phrases[m.group()]} ", text)
        return _WORD.sub(" ", text)
