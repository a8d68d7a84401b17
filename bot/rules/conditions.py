"""Conditions over facts, evaluated with three values: True, False, or unknown (facts missing).

Grammar (YAML):  {all: [c, ...]} | {any: [c, ...]} | {not: c} | {always: true}
                 | {fact: NAME, OP: VALUE}  with OP in eq, ne, in, not_in, lt, lte, gt, gte, between
`between: [a, b]` includes both ends (seed wording "6周岁（含）至18周岁（含）").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda v, x: v == x,
    "ne": lambda v, x: v != x,
    "in": lambda v, x: v in x,
    "not_in": lambda v, x: v not in x,
    "lt": lambda v, x: v < x,
    "lte": lambda v, x: v <= x,
    "gt": lambda v, x: v > x,
    "gte": lambda v, x: v >= x,
    "between": lambda v, x: x[0] <= v <= x[1],
}
COMBINATORS = ("all", "any", "not", "always")


@dataclass
class Truth:
    value: bool | None  # None = unknown
    missing: list[str] = field(default_factory=list)


def evaluate(cond: dict[str, Any], facts: dict[str, Any]) -> Truth:
    if "always" in cond:
        return Truth(bool(cond["always"]))
    if "not" in cond:
        inner = evaluate(cond["not"], facts)
        return Truth(None if inner.value is None else not inner.value, inner.missing)
    if "all" in cond:
        return _combine([evaluate(c, facts) for c in cond["all"]], decisive=False)
    if "any" in cond:
        return _combine([evaluate(c, facts) for c in cond["any"]], decisive=True)
    name = cond["fact"]
    if name not in facts:
        return Truth(None, [name])
    op = next(k for k in cond if k in OPERATORS)
    try:
        return Truth(bool(OPERATORS[op](facts[name], cond[op])))
    except TypeError:  # e.g. a string age compared with a number: treat as not understood
        return Truth(None, [name])


def _combine(parts: list[Truth], decisive: bool) -> Truth:
    """`any` is decided by one True, `all` by one False; otherwise unknown if any part is unknown."""
    if any(p.value is decisive for p in parts):
        return Truth(decisive)
    unknown = [p for p in parts if p.value is None]
    if unknown:
        missing: list[str] = []
        for part in unknown:
            missing += [m for m in part.missing if m not in missing]
        return Truth(None, missing)
    return Truth(not decisive)


def check(cond: Any, where: str, known_facts: set[str]) -> list[tuple[str, str]]:
    """Problems in a condition as (yaml path, message); empty when valid."""
    if not isinstance(cond, dict) or not cond:
        return [(where, "条件必须是非空映射")]
    if "always" in cond:
        return []
    if "not" in cond:
        return check(cond["not"], f"{where}.not", known_facts)
    for key in ("all", "any"):
        if key in cond:
            items = cond[key]
            if not isinstance(items, list) or not items:
                return [(f"{where}.{key}", "必须是非空列表")]
            return [p for i, c in enumerate(items) for p in check(c, f"{where}.{key}[{i}]", known_facts)]
    if "fact" not in cond:
        return [(where, f"未知的条件写法，应为 fact/{'/'.join(COMBINATORS)} 之一")]
    problems = []
    if cond["fact"] not in known_facts:
        problems.append((f"{where}.fact", f"未知的事实名 {cond['fact']!r}"))
    ops = [k for k in cond if k != "fact"]
    if len(ops) != 1 or ops[0] not in OPERATORS:
        problems.append((where, f"需要恰好一个比较运算符（{', '.join(OPERATORS)}），实际为 {ops}"))
    elif ops[0] in ("in", "not_in") and not isinstance(cond[ops[0]], list):
        problems.append((f"{where}.{ops[0]}", "必须是列表"))
    elif ops[0] == "between" and (not isinstance(cond["between"], list) or len(cond["between"]) != 2):
        problems.append((f"{where}.between", "必须是两个数的列表 [下限, 上限]"))
    return problems
