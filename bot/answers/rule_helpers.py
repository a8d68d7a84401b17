"""A small supplement to engine.eligibility, kept apart because it reads the pack's rules itself.

The engine asks for every fact of an earlier rule before letting a later rule decide. When all
those undecided earlier rules would give the same result as the later rule that already holds
("上海新疆班的学生" — the 户籍 rules come first, but they can only say "eligible" too), the outcome
cannot change, so asking is needless. This uses only the engine's public condition evaluator and
fact preparation; the rule order and results stay the engine's (see the report's request).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from bot.rules.conditions import evaluate
from bot.rules.facts import prepare
from bot.rules.model import RuleRef


def settled_rule(pack: Any, facts: dict[str, Any], on: dt.date) -> tuple[str, RuleRef] | None:
    """(result, rule) when the outcome is already certain despite missing facts; else None."""
    spec = (pack.raw or {}).get("eligibility") or {}
    known, _ = prepare(facts, on)
    undecided_results: set[str] = set()
    for rule in spec.get("rules") or []:
        truth = evaluate(rule["when"], known)
        if truth.value is None:
            undecided_results.add(rule["result"])
            continue
        if truth.value:
            if undecided_results <= {rule["result"]}:
                return rule["result"], RuleRef(rule["id"], rule["name"], rule["text"], rule.get("explanation", ""))
            return None
    return None


def named_values(pack: Any, fact: str) -> list[str]:
    """Values a pack's eligibility rules compare a fact with by name (e.g. the school names)."""
    found: list[str] = []

    def walk(cond: Any) -> None:
        if isinstance(cond, dict):
            if cond.get("fact") == fact:
                for key in ("eq", "in"):
                    values = cond.get(key)
                    for value in values if isinstance(values, list) else [values]:
                        if isinstance(value, str) and value not in found:
                            found.append(value)
            for value in cond.values():
                walk(value)
        elif isinstance(cond, list):
            for item in cond:
                walk(item)

    for rule in ((pack.raw or {}).get("eligibility") or {}).get("rules") or []:
        walk(rule.get("when"))
    return found


ROUTES_SHOWN = 4


def routes_left(pack: Any, facts: dict[str, Any], on: dt.date) -> tuple[str, list[str]] | None:
    """When the facts said rule out the pack's main way in ("外地户口" for Beijing's 本市户籍 rule): its name
    and the names of the other ways in still open, else None. Not when an open way is a variant of the
    closed one (the Shanghai fund's "学校未上传信息，线下办理" beside "学校已上传信息")."""
    spec = (pack.raw or {}).get("eligibility") or {}
    known, _ = prepare(facts, on)
    rules = [r for r in spec.get("rules") or [] if r.get("result") == "eligible"]
    if not rules or evaluate(rules[0]["when"], known).value is not False:
        return None
    main = rules[0]["name"]
    open_ = [r["name"] for r in rules[1:] if evaluate(r["when"], known).value is None]
    if not open_ or any(_common_prefix(main, name) >= VARIANT_PREFIX for name in open_):
        return None
    return main, open_[:ROUTES_SHOWN]


VARIANT_PREFIX = 6


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n
