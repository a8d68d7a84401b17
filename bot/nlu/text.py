"""Text normalisation shared by the tokenizer, the matcher and the slot extractors."""
from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
# Punctuation that carries no meaning for intent or slots (after NFKC, full-width forms are ASCII).
_PUNCT = re.compile(r"[,.!?;:'\"“”‘’、。，！？；：（）()\[\]【】<>《》~～…—\-_/\\|·*#@^`]+")


_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def normalise(text: str) -> str:
    """NFKC (full-width → ASCII digits and letters), lower case, no spaces, "12,000" → "12000"."""
    text = unicodedata.normalize("NFKC", text or "")
    return _THOUSANDS.sub("", _SPACES.sub("", text)).lower()


def strip_punctuation(text: str) -> str:
    return _PUNCT.sub(" ", text).strip()
