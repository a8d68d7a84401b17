"""Helpers that read a loaded pack (engine.pack(...)) to describe its benefits and source year.

Kept apart from the composers because they read `pack.raw` / `pack.parameters` directly: the rule
engine has no call yet for "describe the benefit standards without a bill" (see the report).
Every number comes from the pack; nothing here is a policy value.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from bot.answers.format import money
from bot.rules.benefits import scoped_deductible

_LEVELS = {1: "一级", 2: "二级", 3: "三级"}
KIND_NAMES = {"inpatient": "住院", "outpatient": "门（急）诊"}


def _by_level(value: Any, unit: str) -> str:
    if isinstance(value, dict):
        return "、".join(f"{_LEVELS.get(int(k), k)}{money(v)}{unit}" for k, v in sorted(value.items()))
    return f"{money(value)}{unit}"


def _resolve(pack: Any, name: str | None, on: dt.date):
    if not name:
        return None
    try:
        return pack.parameter(name).resolve(on)
    except (KeyError, AttributeError):
        return None


def benefit_summary(pack: Any, kinds: list[str], on: dt.date) -> list[str]:
    """One line per visit kind: 起付线, 比例, 封顶 and the standard year, from the pack."""
    benefits = (pack.raw or {}).get("benefits") or {}
    lines = []
    for kind in kinds:
        spec = benefits.get(kind)
        if not spec:
            continue
        deductible = _resolve(pack, spec.get("deductible"), on)
        rate = _resolve(pack, spec.get("rate"), on)
        cap = _resolve(pack, spec.get("cap"), on)
        if not deductible or not rate:
            continue
        years = [r.year for r in (deductible, rate, cap) if r]
        threshold = scoped_deductible(spec, _by_level(deductible.value, "元"))  # as the seed says it, or that it does not
        line = (f"{spec.get('name') or KIND_NAMES.get(kind, kind)}：{threshold}，"
                f"超过部分基金支付{_by_level(rate.value, '%')}")
        if cap:
            line += f"，一年最高支付{money(cap.value)}元"
        if spec.get("requires_text"):
            line += f"（{spec['requires_text']}）"
        lines.append(f"{line}（{max(years)}年度标准）。")
    return lines


def levelled(pack: Any, on: dt.date) -> bool:
    """The benefit standards differ by hospital level (一级/二级/三级)."""
    benefits = (pack.raw or {}).get("benefits") or {}
    for spec in benefits.values():
        if isinstance(spec, dict):
            for name in (spec.get("deductible"), spec.get("rate")):
                resolved = _resolve(pack, name, on)
                if resolved and isinstance(resolved.value, dict):
                    return True
    return False


def special_conditions_line(pack: Any, condition: str | None = None) -> str:
    """The pack's rule that some outpatient treatments are settled at the inpatient standard."""
    spec = ((pack.raw or {}).get("benefits") or {}).get("inpatient_standard_conditions") or {}
    conditions = spec.get("conditions") or []
    if not conditions:
        return ""
    names = [c.get("name", "") for c in conditions]
    if condition:
        hit = [c.get("name", "") for c in conditions
               if any(a and (a in condition or condition in a) for a in [c.get("name", ""), *(c.get("aliases") or [])])]
        if not hit:
            return ""
        return f"{'、'.join(hit)}的门诊费用按住院标准结算（{'、'.join(names)}均适用）。"
    return f"{'、'.join(names)}的门诊费用按住院标准结算。"


def has_benefits(pack: Any) -> bool:
    return bool((pack.raw or {}).get("benefits"))


def has_fees(pack: Any) -> bool:
    return bool((pack.raw or {}).get("fees"))


def source_year(pack: Any) -> int | None:
    """The latest standard year the pack's parameters cite (the policy document's year)."""
    years = [v.year for p in (getattr(pack, "parameters", None) or {}).values() for v in p.values]
    return max(years) if years else None


def source_note(pack: Any) -> str:
    year = source_year(pack)
    return f"（依据{pack.short_name}{year}年度材料，以当年通知为准）" if year else f"（依据{pack.short_name}材料）"


def decimal_or_none(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except Exception:  # noqa: BLE001 - any unparsable value is simply absent
        return None


def parameter_notes(pack: Any) -> list[tuple[str, str]]:
    """Each dated parameter as (title, sentence) with its latest value, year and the one before."""
    notes = []
    for parameter in (getattr(pack, "parameters", None) or {}).values():
        if not parameter.values:
            continue
        unit = parameter.unit or ""
        latest = parameter.values[-1]
        text = f"{parameter.description}：{_by_level(latest.value, unit)}（{latest.year}年度"
        if len(parameter.values) > 1:
            text += f"，原{_by_level(parameter.values[-2].value, unit)}"
        notes.append((parameter.description, text + "）。"))
    return notes
