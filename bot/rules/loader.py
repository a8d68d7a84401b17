"""Load and validate policy packs. Any problem → PolicyError naming file, YAML path and problem."""
from __future__ import annotations

import datetime as dt
import re
from decimal import InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from bot.rules import conditions
from bot.rules.errors import PolicyError
from bot.rules.facts import FACTS
from bot.rules.model import ProcedureItem, SchemePack
from bot.rules.parameters import DatedValue, Parameter, to_decimal
from bot.yamlio import load_yaml

TOPICS = ("materials", "steps", "channels", "payment", "payment_failure", "refund", "contacts",
          "aftercare", "progress", "hospitals", "special_cases")
TOP_KEYS = {"id", "name", "short_name", "aliases", "city", "seed", "parameters", "eligibility", "fees",
            "benefits", "calendar", "procedures", "notes", "payment", "audience"}
PAYMENT_CHANNELS = ("online", "external")
RESULTS = ("eligible", "not_eligible")
MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
EVENT_KINDS = ("deadline", "deduction", "check", "info", "reminder")


class _Checker:
    """Walks one pack; `fail` raises the first problem with its YAML path."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, path: str, problem: str) -> None:
        raise PolicyError(self.file, path, problem)

    def mapping(self, node: Any, path: str, required: tuple[str, ...] = (), allowed: set[str] | None = None) -> dict:
        if not isinstance(node, dict):
            self.fail(path, "应为映射（键: 值）")
        for key in required:
            if key not in node:
                self.fail(f"{path}.{key}" if path else key, "缺少必填项")
        if allowed is not None:
            for key in node:
                if key not in allowed:
                    self.fail(f"{path}.{key}" if path else str(key), f"未知的键（允许：{', '.join(sorted(allowed))}）")
        return node

    def text(self, node: Any, path: str) -> str:
        if not isinstance(node, str) or not node.strip():
            self.fail(path, "应为非空字符串")
        return node

    def items(self, node: Any, path: str) -> list:
        if not isinstance(node, list) or not node:
            self.fail(path, "应为非空列表")
        return node

    def month_day(self, node: Any, path: str) -> str:
        if not isinstance(node, str) or not MONTH_DAY.match(node):
            self.fail(path, f"应为 \"MM-DD\" 形式的月日，实际为 {node!r}")
        return node

    def clock(self, node: Any, path: str) -> str:
        if not isinstance(node, str) or not CLOCK.match(node):
            self.fail(path, f"应为 \"HH:MM\" 形式的时刻，实际为 {node!r}")
        return node

    def condition(self, node: Any, path: str) -> None:
        problems = conditions.check(node, path, set(FACTS))
        if problems:
            self.fail(*problems[0])


# A top-level YAML file with none of these keys is someone else's data (e.g. policies/menu.yaml), not a pack.
PACK_MARKERS = {"id", "seed", "eligibility", "procedures", "parameters"}


def read_yaml(file: Path) -> Any:
    try:
        return load_yaml(file)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第{mark.line + 1}行第{mark.column + 1}列" if mark else ""
        raise PolicyError(file.name, where, f"YAML 语法错误：{getattr(exc, 'problem', exc)}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(file.name, "", f"无法读取文件：{exc}") from exc


def is_pack(raw: Any) -> bool:
    return isinstance(raw, dict) and bool(PACK_MARKERS & set(raw))


def load_pack(file: Path, raw: Any = None) -> SchemePack:
    raw = read_yaml(file) if raw is None else raw
    c = _Checker(file.name)
    c.mapping(raw, "", ("id", "name", "short_name", "aliases", "city", "seed", "procedures"), TOP_KEYS)
    for key in ("id", "name", "short_name", "city", "seed"):
        c.text(raw[key], key)
    if raw["id"] != file.stem:
        c.fail("id", f"方案编号 {raw['id']!r} 与文件名 {file.stem!r} 不一致")
    for i, alias in enumerate(c.items(raw["aliases"], "aliases")):
        c.text(alias, f"aliases[{i}]")
    notes = c.mapping(raw.get("notes") or {}, "notes", (), {"benefits"})
    for key, value in notes.items():
        c.text(value, f"notes.{key}")
    _audience(c, raw.get("audience"))
    parameters = _parameters(c, raw.get("parameters") or {})
    _eligibility(c, raw.get("eligibility"))
    _fees(c, raw.get("fees"), parameters)
    _benefits(c, raw.get("benefits"), parameters)
    _calendar(c, raw.get("calendar"))
    _payment(c, raw.get("payment"))
    procedures = _procedures(c, raw["procedures"])
    return SchemePack(id=raw["id"], name=raw["name"], short_name=raw["short_name"], aliases=list(raw["aliases"]),
                      city=raw["city"], seed=raw["seed"], procedures=procedures, parameters=parameters,
                      raw=raw, file=file.name)


def _audience(c: _Checker, node: Any) -> None:
    """A pack written for some children only: the note said before answering, the words that show a
    question is already about them."""
    if node is None:
        return
    c.mapping(node, "audience", ("note", "words"), {"note", "note_en", "words", "fact", "denied"})
    if ("fact" in node) != ("denied" in node):
        c.fail("audience", "fact 与 denied 须同时给出")
    for key in ("note", "note_en", "fact", "denied"):
        if key in node:
            c.text(node[key], f"audience.{key}")
    for i, word in enumerate(c.items(node["words"], "audience.words")):
        c.text(word, f"audience.words[{i}]")


def _parameters(c: _Checker, node: Any) -> dict[str, Parameter]:
    c.mapping(node, "parameters")
    result = {}
    for name, spec in node.items():
        path = f"parameters.{name}"
        c.mapping(spec, path, ("description", "values"), {"description", "unit", "period", "values"})
        period = spec.get("period", "calendar_year")
        if period not in ("calendar_year", "school_year"):
            c.fail(f"{path}.period", "应为 calendar_year 或 school_year")
        values = []
        for i, entry in enumerate(c.items(spec["values"], f"{path}.values")):
            vpath = f"{path}.values[{i}]"
            c.mapping(entry, vpath, ("since", "year", "value", "source"), {"since", "year", "value", "source", "note", "through"})
            if not isinstance(entry["since"], dt.date) or isinstance(entry["since"], dt.datetime):
                c.fail(f"{vpath}.since", "应为日期 YYYY-MM-DD")
            if not isinstance(entry["year"], int):
                c.fail(f"{vpath}.year", "应为年份整数")
            c.text(entry["source"], f"{vpath}.source")
            through = entry.get("through")
            if through is not None and (not isinstance(through, dt.date) or through < entry["since"]):
                c.fail(f"{vpath}.through", "应为不早于 since 的日期")
            values.append(DatedValue(entry["since"], entry["year"], _amount(c, entry["value"], f"{vpath}.value"),
                                     entry["source"], through))
        if any(a.since >= b.since for a, b in zip(values, values[1:])):
            c.fail(f"{path}.values", "各值的 since 日期必须严格递增")
        result[name] = Parameter(name, spec["description"], spec.get("unit", ""), period, tuple(values))
    return result


def _amount(c: _Checker, value: Any, path: str) -> Any:
    """A number, or a mapping hospital level → number."""
    try:
        if isinstance(value, dict):
            if not value or not all(isinstance(k, int) for k in value):
                c.fail(path, "按医院等级的取值须以整数等级为键，如 {1: 50, 2: 100, 3: 300}")
            out = {k: to_decimal(v) for k, v in value.items()}
        else:
            out = to_decimal(value)
    except InvalidOperation:
        c.fail(path, f"应为数字，实际为 {value!r}")
    values = out.values() if isinstance(out, dict) else [out]
    if any(not v.is_finite() or v < 0 for v in values):
        c.fail(path, "数值必须是非负有限数")
    return out


def _eligibility(c: _Checker, node: Any) -> None:
    if node is None:
        return
    c.mapping(node, "eligibility", ("rules", "otherwise"), {"rules", "otherwise", "assumptions"})
    # Facts an answer may take as given when the guardian did not say, stating the note with it
    # (e.g. a child is not in employee insurance; the school has uploaded its roster).
    for fact, spec in (c.mapping(node.get("assumptions") or {}, "eligibility.assumptions", (), None) or {}).items():
        path = f"eligibility.assumptions.{fact}"
        if fact not in FACTS:
            c.fail(path, f"未知的事实 {fact!r}")
        c.mapping(spec, path, ("value", "note"), {"value", "note", "only_with"})
        c.text(spec["note"], f"{path}.note")
        for other in spec.get("only_with") or []:  # taken as given only when the guardian said these
            if other not in FACTS:
                c.fail(f"{path}.only_with", f"未知的事实 {other!r}")
    seen = set()
    for i, rule in enumerate(c.items(node["rules"], "eligibility.rules")):
        path = f"eligibility.rules[{i}]"
        c.mapping(rule, path, ("id", "name", "result", "text", "when"), {"id", "name", "result", "text", "when", "explanation", "ask"})
        if rule["id"] in seen:
            c.fail(f"{path}.id", f"规则编号重复：{rule['id']}")
        seen.add(rule["id"])
        if rule["result"] not in RESULTS:
            c.fail(f"{path}.result", f"应为 {' 或 '.join(RESULTS)}")
        c.text(rule["name"], f"{path}.name")
        c.text(rule["text"], f"{path}.text")
        c.condition(rule["when"], f"{path}.when")
    other = c.mapping(node["otherwise"], "eligibility.otherwise", ("id", "name", "text", "explanation"))
    c.text(other["explanation"], "eligibility.otherwise.explanation")


def _param_ref(c: _Checker, name: Any, path: str, parameters: dict[str, Parameter]) -> None:
    if name not in parameters:
        c.fail(path, f"引用了不存在的参数 {name!r}")


def _fees(c: _Checker, node: Any, parameters: dict[str, Parameter]) -> None:
    if node is None:
        return
    c.mapping(node, "fees", ("tiers",), {"tiers", "reductions", "period_name"})
    for section in ("reductions", "tiers"):
        for i, item in enumerate(node.get(section) or []):
            path = f"fees.{section}[{i}]"
            c.mapping(item, path, ("id", "name"), {"id", "name", "when", "param", "exempt", "note", "source"})
            if "when" in item:
                c.condition(item["when"], f"{path}.when")
            elif section == "reductions":
                c.fail(f"{path}.when", "减免项必须写明条件")
            if item.get("exempt") is True:
                continue
            if "param" not in item:
                c.fail(path, "须有 param（金额参数）或 exempt: true")
            _param_ref(c, item["param"], f"{path}.param", parameters)


BENEFIT_KEYS = {"name", "deductible", "deductible_scope", "rate", "cap", "min_years_insured", "requires_text", "source"}


def _benefits(c: _Checker, node: Any, parameters: dict[str, Parameter]) -> None:
    if node is None:
        return
    c.mapping(node, "benefits", (), {"inpatient", "outpatient", "inpatient_standard_conditions", "note"})
    for kind in ("inpatient", "outpatient"):
        if kind not in node:
            continue
        path = f"benefits.{kind}"
        spec = c.mapping(node[kind], path, ("name", "deductible", "rate", "deductible_scope", "source"), BENEFIT_KEYS)
        for key in ("deductible", "rate", "cap", "min_years_insured"):
            if key in spec:
                _param_ref(c, spec[key], f"{path}.{key}", parameters)
        for value in parameters[spec["rate"]].values:
            rates = value.value.values() if isinstance(value.value, dict) else [value.value]
            if any(r > 100 for r in rates):
                c.fail(f"parameters.{spec['rate']}", "报销比例是百分数，不能超过100")
        if spec["deductible_scope"] not in ("per_stay", "per_year", "unstated"):
            c.fail(f"{path}.deductible_scope", "应为 per_stay（每次）、per_year（每年累计）或 unstated（材料未写明）")
    special = node.get("inpatient_standard_conditions")
    if special is not None:
        c.mapping(special, "benefits.inpatient_standard_conditions", ("conditions", "source"))
        for i, cond in enumerate(c.items(special["conditions"], "benefits.inpatient_standard_conditions.conditions")):
            path = f"benefits.inpatient_standard_conditions.conditions[{i}]"
            c.mapping(cond, path, ("name", "aliases"))
            c.items(cond["aliases"], f"{path}.aliases")


def _payment(c: _Checker, node: Any) -> None:
    """How a pre-approved application is paid: `online` (our payment link) or `external` (a channel of the
    scheme's own — bank deduction, the tax app, the school — described by `how`)."""
    if node is None:
        return
    c.mapping(node, "payment", ("channel",), {"channel", "how", "source"})
    if node["channel"] not in PAYMENT_CHANNELS:
        c.fail("payment.channel", f"应为 {' 或 '.join(PAYMENT_CHANNELS)}")
    if node["channel"] == "external":
        if "how" not in node:
            c.fail("payment.how", "external 缴费须写明缴费方式")
        c.text(node["how"], "payment.how")


def _calendar(c: _Checker, node: Any) -> None:
    if node is None:
        return
    c.mapping(node, "calendar", (), {"windows", "events", "relative_deadlines", "benefit_period", "note"})
    for i, win in enumerate(node.get("windows") or []):
        path = f"calendar.windows[{i}]"
        c.mapping(win, path, ("id", "name", "kind", "description"),
                  {"id", "name", "kind", "description", "yearly", "monthly", "daily_hours", "source", "years",
                   "seed_year"})
        if ("yearly" in win) == ("monthly" in win):
            c.fail(path, "须有且只有 yearly 或 monthly 其中之一")
        if "yearly" in win:
            c.mapping(win["yearly"], f"{path}.yearly", ("start", "end"), {"start", "end"})
            for key in ("start", "end"):
                c.month_day(win["yearly"][key], f"{path}.yearly.{key}")
        else:
            days = c.mapping(win["monthly"], f"{path}.monthly", ("start_day", "end_day"), {"start_day", "end_day"})
            if not (isinstance(days["start_day"], int) and isinstance(days["end_day"], int)
                    and 1 <= days["start_day"] <= days["end_day"] <= 28):
                c.fail(f"{path}.monthly", "start_day/end_day 应为 1–28 的整数且起不晚于止")
        if "daily_hours" in win:
            hours = c.items(win["daily_hours"], f"{path}.daily_hours")
            if len(hours) != 2:
                c.fail(f"{path}.daily_hours", "应为 [开始时刻, 结束时刻]")
            for j, h in enumerate(hours):
                c.clock(h, f"{path}.daily_hours[{j}]")
    for i, event in enumerate(node.get("events") or []):
        path = f"calendar.events[{i}]"
        c.mapping(event, path, ("id", "name", "date", "kind"),
                  {"id", "name", "date", "time", "kind", "description", "source", "years"})
        c.month_day(event["date"], f"{path}.date")
        if "time" in event:
            c.clock(event["time"], f"{path}.time")
        if event["kind"] not in EVENT_KINDS:
            c.fail(f"{path}.kind", f"应为 {', '.join(EVENT_KINDS)} 之一")
    window_ids = {w["id"] for w in node.get("windows") or []}
    for i, rel in enumerate(node.get("relative_deadlines") or []):
        path = f"calendar.relative_deadlines[{i}]"
        c.mapping(rel, path, ("id", "name", "after", "kind"),
                  {"id", "name", "after", "hours", "minutes", "window", "unless", "kind", "description", "source"})
        if not any(k in rel for k in ("hours", "minutes", "window")):
            c.fail(path, "须有 hours/minutes（时长）或 window（所在办理期的截止）")
        if "window" in rel and rel["window"] not in window_ids:
            c.fail(f"{path}.window", f"引用了不存在的办理期 {rel['window']!r}")
    if "benefit_period" in node:
        period = c.mapping(node["benefit_period"], "calendar.benefit_period", ("start", "end", "description"),
                           {"start", "end", "description", "starts_next_year", "source"})
        c.month_day(period["start"], "calendar.benefit_period.start")
        c.month_day(period["end"], "calendar.benefit_period.end")


def _procedures(c: _Checker, node: Any) -> dict[str, list[ProcedureItem]]:
    c.mapping(node, "procedures", (), set(TOPICS))
    result = {}
    for topic, items in node.items():
        result[topic] = []
        for i, item in enumerate(c.items(items, f"procedures.{topic}")):
            path = f"procedures.{topic}[{i}]"
            c.mapping(item, path, ("title", "lines", "source"), {"title", "lines", "source"})
            c.text(item["title"], f"{path}.title")
            lines = c.items(item["lines"], f"{path}.lines")
            for j, line in enumerate(lines):
                c.text(line, f"{path}.lines[{j}]")
            c.text(item["source"], f"{path}.source")
            result[topic].append(ProcedureItem(item["title"], list(lines), item["source"]))
    return result


def load_dir(policies_dir: Path) -> dict[str, SchemePack]:
    """Every top-level policies/*.yaml (sub-directories belong to other components)."""
    policies_dir = Path(policies_dir)
    if not policies_dir.is_dir():
        raise PolicyError(str(policies_dir), "", "政策目录不存在")
    packs: dict[str, SchemePack] = {}
    for file in sorted(policies_dir.glob("*.yaml")):
        if not file.is_file():
            continue
        raw = read_yaml(file)
        if not is_pack(raw):
            continue
        pack = load_pack(file, raw)
        packs[pack.id] = pack
    if not packs:
        raise PolicyError(str(policies_dir), "", "没有找到任何政策包（*.yaml）")
    return packs
