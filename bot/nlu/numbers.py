"""Chinese and mixed numerals: "一万五" → 15000, "2.5万" → 25000, "三十万" → 300000, "十五" → 15."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "俩": 2, "三": 3, "叁": 3,
             "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8,
             "九": 9, "玖": 9}
SMALL_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000, "k": 1000}
BIG_UNITS = {"万": 10_000, "w": 10_000, "亿": 100_000_000}
NUMERAL_CHARS = "0-9.点" + "".join(CN_DIGITS) + "".join(SMALL_UNITS) + "".join(BIG_UNITS)
_CN = "".join(CN_DIGITS)
_NOT_ARABIC = ".点" + _CN + "".join(SMALL_UNITS) + "".join(BIG_UNITS)
# A run of numeral characters, except that an Arabic digit directly followed by a Chinese digit ends
# it: "花了2000一级医院" (spaces are dropped before this) is 2000 and 一级, not 2001; "1万5" stays whole.
NUMBER_RUN = re.compile(rf"(?:[0-9](?![{_CN}])|[{_NOT_ARABIC}])+(?:[0-9](?=[{_CN}]))?|[0-9](?=[{_CN}])")
_ARABIC = re.compile(r"\d+(?:\.\d+)?")


def parse_number(text: str) -> Decimal | None:
    """Value of one numeral run, or None when it is not a number."""
    text = text.replace("点", ".")
    if not text or not any(c.isdigit() or c in CN_DIGITS or c in SMALL_UNITS for c in text):
        return None
    total = Decimal(0)
    section = Decimal(0)
    current: Decimal | None = None
    last_unit = 0
    after_zero = False
    i = 0
    while i < len(text):
        ch = text[i]
        match = _ARABIC.match(text, i)
        if match:
            try:
                current = Decimal(match.group())
            except InvalidOperation:
                return None
            i = match.end()
            continue
        if ch in CN_DIGITS:
            current = Decimal(CN_DIGITS[ch])
            after_zero = after_zero or ch in "零〇"
        elif ch in SMALL_UNITS:
            section += (current if current is not None else 1) * SMALL_UNITS[ch]
            current, last_unit, after_zero = None, SMALL_UNITS[ch], False
        elif ch in BIG_UNITS:
            section += current or 0
            total = (total + section) * BIG_UNITS[ch] if total else section * BIG_UNITS[ch]
            section, current, last_unit, after_zero = Decimal(0), None, BIG_UNITS[ch], False
        else:
            return None
        i += 1
    if current is not None:
        # Colloquial elision: "一万五" = 15000, "一千二" = 1200 (but "一万零五" = 10005).
        if last_unit >= 10 and not after_zero and current < 10 and current == current.to_integral():
            current *= last_unit // 10
        section += current
    return total + section


_A_DIGIT = re.compile(rf"[0-9{_CN}十拾]")


def has_digit(run: str) -> bool:
    """A numeral run with a digit in it: "5k" is a number, "k" (as in "ok") is not."""
    return bool(_A_DIGIT.search(run))
