"""The evaluation set's YAML: the guardian-questions format (cases with must/must_not/answer/expect)
and the shared development questions (q/all/any), read into one `Case` shape."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.config import ROOT

DEFAULT_SET = ROOT / "tests" / "eval" / "guardian-questions.yaml"
DEFAULT_NOW = "2026-09-10T10:00:00+08:00"

# Used when a set does not define its own `phrases` (the development questions).
YES = ("可以", "符合", "能参加", "能参保", "可参保", "属于参保范围", "来得及", "Yes", "yes", "eligible")
NO = ("不能", "不可以", "不符合", "不属于", "无法", "不在", "不享受", "不可", "不予", "不退", "来不及", "not eligible",
      "cannot")

Alternatives = tuple[str, ...]  # one `must` item: any of these strings


@dataclass(frozen=True)
class Case:
    id: str
    category: str
    messages: tuple[str, ...]
    now: str
    schemes: tuple[str, ...] = ()
    must: tuple[Alternatives, ...] = ()
    must_not: tuple[str, ...] = ()
    lead: tuple[str, ...] = ()  # the reply's first amount in yuan must be one of these
    answer: str = ""  # "yes" | "no" | ""
    clarify: bool = False


@dataclass
class EvalSet:
    path: Path
    cases: list[Case]
    yes_words: tuple[str, ...] = YES
    no_words: tuple[str, ...] = NO
    categories: list[str] = field(default_factory=list)


def load_set(path: Path | str | None = None) -> EvalSet:
    path = Path(path or DEFAULT_SET)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(data, list):  # the development questions: [{q, all, any}]
        cases = [_dev_case(i, item) for i, item in enumerate(data)]
        return EvalSet(path, cases, categories=["dev"])
    phrases = data.get("phrases") or {}
    now = (data.get("defaults") or {}).get("now", DEFAULT_NOW)
    cases = [_case(item, now) for item in data["cases"]]
    categories = list(dict.fromkeys(c.category for c in cases))
    return EvalSet(path, cases, tuple(phrases.get("yes_words") or YES), tuple(phrases.get("no_words") or NO), categories)


def _case(item: dict[str, Any], default_now: str) -> Case:
    answer = item.get("answer")
    if answer is True or answer is False:  # YAML 1.1 reads a bare yes/no as a boolean
        answer = "yes" if answer else "no"
    return Case(
        id=str(item["id"]), category=str(item["category"]),
        messages=tuple(_message(m) for m in item["messages"]),
        now=str(item.get("now") or default_now),
        schemes=tuple(item.get("schemes") or ()),
        must=tuple(_alternatives(m) for m in item.get("must") or ()),
        must_not=tuple(str(s) for s in item.get("must_not") or ()),
        lead=_alternatives(item["lead"]) if item.get("lead") is not None else (),
        answer=str(answer or ""),
        clarify=item.get("expect") == "clarify",
    )


def _dev_case(index: int, item: dict[str, Any]) -> Case:
    must = [(str(s),) for s in item.get("all") or ()]
    if item.get("any"):
        must.append(tuple(str(s) for s in item["any"]))
    return Case(id=f"dev-{index + 1:02d}", category="dev", messages=(str(item["q"]),), now=DEFAULT_NOW,
                must=tuple(must))


def _message(item: Any) -> str:
    """A message, or {prefix, repeat, times} for long input that would be unreadable written out."""
    if isinstance(item, dict):
        return str(item.get("prefix", "")) + str(item["repeat"]) * int(item["times"])
    return "" if item is None else str(item)


def _alternatives(item: Any) -> Alternatives:
    if isinstance(item, (list, tuple)):
        return tuple(str(s) for s in item)
    return (str(item),)
