"""Reply formatting: money, dates, numbered lists, the 600-character limit."""
from __future__ import annotations

import re

import datetime as dt
from decimal import Decimal
from typing import Iterable

MAX_REPLY = 600


def money(value: Decimal | float | int | None) -> str:
    if value is None:
        return ""
    value = Decimal(str(value))
    if value == value.to_integral():
        return str(int(value))
    return f"{value.quantize(Decimal('0.01')):f}"


def day(when: dt.date | dt.datetime) -> str:
    return f"{when.month}月{when.day}日"


def numbered(lines: Iterable[str]) -> str:
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))


def clip(text: str, limit: int = MAX_REPLY) -> str:
    """Keep whole lines while they fit; a reply never exceeds `limit` characters. A line said twice
    (two procedure items quoting the same sentence) is kept once."""
    text = "\n".join(_unique_lines(text.strip().split("\n")))
    if len(text) <= limit:
        return text
    kept: list[str] = []
    size = 0
    for line in text.split("\n"):
        if size + len(line) + 1 > limit - 1:
            break
        kept.append(line)
        size += len(line) + 1
    if not kept:
        return text[: limit - 1] + "…"
    return "\n".join(kept) + "\n…"


def join(*parts: str) -> str:
    return "\n".join(p.strip() for p in parts if p and p.strip())


STEP_LINE = re.compile(r"\d+\. ")  # a worked figure's numbered step: two bills share a step line, each needs it


def _unique_lines(lines: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for line in lines:
        key = line.strip().lstrip("·-• ").strip()
        if key and key in seen and not STEP_LINE.match(line):
            continue
        seen.add(key)
        out.append(line)
    return out
