"""OpenFisca-style YAML test cases for the packs (policies/tests/<scheme>.yaml).

Each case names one question (reimbursement, fee, eligibility, windows, deadline, schedule,
procedure, parameter) with its input, and `expect` with the parts of the answer to check.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import yaml

from bot.rules.calendar import parse_datetime
from bot.rules.engine import RuleEngine
from bot.rules.errors import PolicyError
from bot.rules.parameters import to_decimal
from bot.yamlio import load_yaml

QUESTIONS = ("reimbursement", "fee", "eligibility", "windows", "deadline", "schedule", "procedure", "parameter")


@dataclass(frozen=True)
class CaseResult:
    file: str
    scheme: str
    name: str
    ok: bool
    problems: tuple[str, ...] = ()


def load_cases(file: Path) -> tuple[str, list[dict[str, Any]]]:
    try:
        raw = load_yaml(file)
    except yaml.YAMLError as exc:
        raise PolicyError(file.name, "", f"YAML 语法错误：{exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("scheme"), str) or not isinstance(raw.get("cases"), list):
        raise PolicyError(file.name, "", "测试文件应有 scheme（方案编号）和 cases（用例列表）")
    for i, case in enumerate(raw["cases"]):
        asked = [q for q in QUESTIONS if isinstance(case, dict) and q in case]
        if not isinstance(case, dict) or "name" not in case or len(asked) != 1 or "expect" not in case:
            raise PolicyError(file.name, f"cases[{i}]", f"用例须有 name、expect 和恰好一个问题（{', '.join(QUESTIONS)}）")
    return raw["scheme"], raw["cases"]


def _same_number(actual: Any, expected: Any) -> bool:
    if expected is None or actual is None:
        return actual is None and expected is None
    return Decimal(str(actual)) == to_decimal(expected)


def _same_time(actual: dt.datetime | None, expected: Any) -> bool:
    if expected is None or actual is None:
        return actual is None and expected is None
    return actual == parse_datetime(expected)


def _texts(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


class _Check:
    """Collects mismatches between an answer and `expect`."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def equal(self, label: str, actual: Any, expected: Any, same: Callable[[Any, Any], bool] = lambda a, e: a == e) -> None:
        if not same(actual, expected):
            self.problems.append(f"{label}: 期望 {expected!r}，实际 {actual!r}")

    def contains(self, label: str, haystack: list[str], needles: Any) -> None:
        for needle in _texts(needles):
            if not any(str(needle) in line for line in haystack):
                self.problems.append(f"{label}: 没有找到 {needle!r}")


def run_case(engine: RuleEngine, scheme: str, case: dict[str, Any]) -> list[str]:
    expect = case["expect"] or {}
    check = _Check()
    question = next(q for q in QUESTIONS if q in case)
    # YAML 1.1 reads a bare `on:` key as the boolean True; the cases mean the date.
    given = {("on" if key is True else key): value for key, value in (case[question] or {}).items()}
    if question == "reimbursement":
        result = engine.reimbursement(scheme, given)
        _common(check, result, expect)
        if "standard_year" in expect:
            check.equal("standard_year", result.standard_year, expect["standard_year"])
        if "steps_contain" in expect:
            check.contains("steps", result.steps, expect["steps_contain"])
    elif question == "fee":
        result = engine.fee(scheme, given.get("person") or {}, given.get("on"))
        _common(check, result, expect)
        for key in ("exempt", "category", "year"):
            if key in expect:
                check.equal(key, getattr(result, key), expect[key])
        if "tier_amounts" in expect:
            check.equal("tiers", [t.amount for t in result.tiers], expect["tier_amounts"],
                        lambda a, e: len(a) == len(e) and all(_same_number(x, y) for x, y in zip(a, e)))
    elif question == "eligibility":
        result = engine.eligibility(scheme, given.get("facts") or {}, given.get("on"))
        _common(check, result, expect)
        if "rule" in expect:
            check.equal("rule", result.rule and result.rule.id, expect["rule"])
    elif question == "windows":
        result = engine.windows(scheme, given.get("on"), given.get("kind", "enrollment"))
        check.equal("current", result.current and result.current.id, expect.get("current"))
        for key in ("days_left",):
            if key in expect:
                check.equal(key, result.days_left, expect[key])
        for key, window, attr in (("current_end", result.current, "end"), ("next_start", result.next, "start")):
            if key in expect:
                check.equal(key, window and getattr(window, attr), expect[key], _same_time)
        if "explanation_contains" in expect:
            check.contains("explanation", [result.explanation], expect["explanation_contains"])
    elif question == "deadline":
        check.equal("at", engine.deadline_for({"scheme": scheme, **given.get("application", {})}), expect.get("at"),
                    _same_time)
    elif question == "schedule":
        events = engine.schedule(scheme, given["year"])
        for wanted in expect.get("contains", []):
            if not any(e.id == wanted["id"] and ("at" not in wanted or _same_time(e.at, wanted["at"]))
                       and ("kind" not in wanted or e.kind == wanted["kind"]) for e in events):
                check.problems.append(f"schedule: 没有找到事件 {wanted}")
        for absent in _texts(expect.get("absent", [])):
            if any(e.id == absent for e in events):
                check.problems.append(f"schedule: 不应有事件 {absent}")
    elif question == "procedure":
        items = engine.procedure(scheme, given["topic"])
        lines = [item.title for item in items] + [line for item in items for line in item.lines]
        check.contains(f"procedure.{given['topic']}", lines, expect.get("contains_text", []))
    elif question == "parameter":
        resolved = engine.pack(scheme).parameter(given["name"]).resolve(
            parse_datetime(given["on"]).date() if given.get("on") else dt.date.max)
        value = resolved.at(given["level"]) if "level" in given else resolved.value
        check.equal("value", value, expect["value"], _same_number)
        if "year" in expect:
            check.equal("year", resolved.year, expect["year"])
    return check.problems


def _common(check: _Check, result: Any, expect: dict[str, Any]) -> None:
    if "status" in expect:
        check.equal("status", result.status, expect["status"])
    if "amount" in expect:
        check.equal("amount", result.amount, expect["amount"], _same_number)
    if "missing" in expect:
        check.equal("missing", result.missing, expect["missing"])
    if "missing_contains" in expect:
        check.contains("missing", result.missing, expect["missing_contains"])
    if "explanation_contains" in expect:
        check.contains("explanation", [result.explanation], expect["explanation_contains"])


def run_all(engine: RuleEngine, tests_dir: Path) -> list[CaseResult]:
    results = []
    for file in sorted(Path(tests_dir).glob("*.yaml")):
        scheme, cases = load_cases(file)
        for case in cases:
            try:
                problems = run_case(engine, scheme, case)
            except Exception as exc:  # a case must report, not stop the whole run
                problems = [f"异常：{type(exc).__name__}: {exc}"]
            results.append(CaseResult(file.name, scheme, case["name"], not problems, tuple(problems)))
    return results
