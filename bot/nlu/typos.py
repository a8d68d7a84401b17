"""Typo and homophone correction, only into words of the domain lexicon.

Pinyin input and voice recognition write a word that sounds right with one wrong character: 参宝 (参保),
医宝 (医保), 保销 (报销), 基今 (基金), 静按区 (静安区), 上一部 (上一步). A run of characters is replaced by a
lexicon word of the same length when exactly one character differs (edit distance 1) and that character
sounds like the lexicon's (same toneless pinyin, allowing the usual southern mergers zh/z, ch/c, sh/s,
n/l, -ng/-n). Ordinary words are never "corrected": a run that is itself a dictionary word is kept, and
so is one whose changed character forms a dictionary word with its neighbour ("可以保证" is not "可医保证").
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable, Iterable

MAX_LEN = 6
_HOLE = "*"
_REMEMBERED = 20_000  # corrected texts kept (a few MB at most); forgotten all at once when full
# Characters so common as words of their own that one typed where a domain word's sound fits is meant:
# "马上还可以" is not "马上海可以".
ANCHORED = 4  # words this long are recognised whatever one character is
FUNCTION_CHARS = frozenset("的了是在有不就也都还和与而很要会能可以这那你我他她它们吗呢吧啊呀哦嘛么个一")


def _cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


def _fold(syllable: str) -> str:
    """Merge the sounds guardians' accents and voice recognition confuse."""
    for hard, soft in (("zh", "z"), ("ch", "c"), ("sh", "s")):
        if syllable.startswith(hard):
            syllable = soft + syllable[len(hard):]
    if syllable.startswith("l"):
        syllable = "n" + syllable[1:]
    if syllable.endswith("ng") and len(syllable) > 2:
        syllable = syllable[:-1]
    return syllable


@lru_cache(maxsize=8192)
def readings(char: str) -> frozenset[str]:
    """Every toneless reading of one character, folded; empty for anything pypinyin does not know."""
    if not _cjk(char):
        return frozenset()
    from pypinyin import Style, pinyin  # imported lazily: only the corrector needs it

    found = pinyin(char, style=Style.NORMAL, heteronym=True, errors="ignore")
    return frozenset(_fold(s) for group in found for s in group if s)


def sounds_alike(a: str, b: str) -> bool:
    return bool(readings(a) & readings(b))


class TypoCorrector:
    def __init__(self, targets: Iterable[str], is_word: Callable[[str], bool] = lambda _w: False,
                 excluded: Iterable[str] = ()) -> None:
        """`targets`: the domain words a typo may be corrected into; `is_word(w)`: w is an ordinary word;
        `excluded`: words never corrected into."""
        self.is_word = is_word
        self.excluded = frozenset(excluded)
        self.targets = {t for t in targets if 2 <= len(t) <= MAX_LEN and all(_cjk(c) for c in t)}
        self._by_hole: dict[str, list[str]] = {}  # "参*" → ["参保"]
        for word in sorted(self.targets):
            for i in range(len(word)):
                self._by_hole.setdefault(word[:i] + _HOLE + word[i + 1:], []).append(word)
        self._lengths = sorted({len(t) for t in self.targets}, reverse=True)
        self._corrected: dict[str, str] = {}
        for char in {c for t in self.targets for c in t}:
            readings(char)  # at start-up: pypinyin loads its tables on first use (a guardian must not wait)

    def correct(self, text: str) -> str:
        """`text` with its mistyped lexicon words put right. Remembered per text: guardians send the same
        short answers and questions over and over ("是", "确认", "少儿基金怎么交"), and the correction
        depends on the text alone."""
        if not self.targets:
            return text
        corrected = self._corrected.get(text)
        if corrected is None:
            if len(self._corrected) >= _REMEMBERED:
                self._corrected.clear()
            corrected = self._corrected[text] = self._correct(text)
        return corrected

    def _correct(self, text: str) -> str:
        out: list[str] = []
        i = 0
        while i < len(text):
            replaced = self._at(text, i) if _cjk(text[i]) else None
            if replaced:
                out.append(replaced)
                i += len(replaced)
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def _at(self, text: str, i: int) -> str | None:
        """The lexicon word that the characters at i were meant to be (or are), else None."""
        for length in self._lengths:
            window = text[i:i + length]
            if len(window) < length or not all(_cjk(c) for c in window):
                continue
            if window in self.targets:
                return window  # already right: keep it whole so no shorter word inside is "corrected"
            if self.is_word(window):
                continue
            left, right = self._straddles(text, i, length)
            for j in range(length):
                if window[j] in FUNCTION_CHARS and length < ANCHORED:
                    continue  # in a long word the other characters anchor it: "少而基金" is 少儿基金
                if (left and (j == 0 or length < ANCHORED)) or (right and (j == length - 1 or length < ANCHORED)):
                    continue  # the changed character belongs to an ordinary word: "基今年"; "少而基金门" is fine
                for word in self._by_hole.get(window[:j] + _HOLE + window[j + 1:], ()):
                    if word not in self.excluded and sounds_alike(window[j], word[j]):
                        return word
        return None

    def _straddles(self, text: str, i: int, length: int) -> tuple[bool, bool]:
        """Whether the run begins, and whether it ends, inside an ordinary word: "可以保证", "基今年"."""
        end = i + length
        return (i > 0 and self.is_word(text[i - 1:i + 1])), (end < len(text) and self.is_word(text[end - 1:end + 1]))
