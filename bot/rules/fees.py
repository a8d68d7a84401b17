"""Personal fee: a reduction or exemption that applies wins, else the tier whose condition holds."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from bot.rules.conditions import evaluate
from bot.rules.facts import prepare
from bot.rules.model import FeeResult, FeeTier, SchemePack
from bot.rules.parameters import Resolved, year_phrase


def _resolve(pack: SchemePack, item: dict[str, Any], on: dt.date) -> Resolved | None:
    return pack.parameter(item["param"]).resolve(on) if "param" in item else None


def _tier(pack: SchemePack, item: dict[str, Any], on: dt.date) -> tuple[FeeTier, Resolved | None]:
    resolved = _resolve(pack, item, on)
    amount = resolved.value if resolved else Decimal(0)
    return FeeTier(item["id"], item["name"], amount, bool(item.get("exempt")), item.get("note", "")), resolved


def compute(pack: SchemePack, person: dict[str, Any] | None, on: dt.date) -> FeeResult:
    spec = pack.raw.get("fees")
    if not spec:
        return FeeResult(None, False, "", None, f"{pack.short_name}的材料没有写明个人缴费标准，请咨询经办机构。")
    period = spec.get("period_name", "年")
    known, _bad = prepare(person, on)
    missing: list[str] = []
    for item in spec.get("reductions") or []:
        truth = evaluate(item["when"], known)
        if truth.value:
            tier, resolved = _tier(pack, item, on)
            return _answer(pack, tier, resolved or _standard(pack, spec, on), on, period)
    undecided = False
    for item in spec["tiers"]:
        truth = evaluate(item.get("when", {"always": True}), known)
        if truth.value:
            return _answer(pack, *_tier(pack, item, on), on, period, _reduction_hint(spec))
        if truth.value is None:
            undecided = True
            missing += [m for m in truth.missing if m not in missing]
    tiers = [_tier(pack, item, on) for item in (spec.get("reductions") or []) + spec["tiers"]]
    year = max((r.year for _, r in tiers if r), default=None)
    listing = "；".join(f"{t.name}{'免缴' if t.exempt else f'{t.amount}元/{period}'}" for t, _ in tiers)
    resolved = next((r for _, r in tiers if r), None)
    phrase = year_phrase(resolved, on) if resolved else ""
    head = "需要先知道孩子的情况才能确定缴费档次。" if undecided else "按已提供的情况没有对应的缴费档次。"
    return FeeResult(None, False, "", year, f"{head}{phrase}：{listing}。", [t for t, _ in tiers], missing)


def _standard(pack: SchemePack, spec: dict[str, Any], on: dt.date) -> Resolved | None:
    """The standard an exemption belongs to: that of the first ordinary tier."""
    return next((r for r in (_resolve(pack, item, on) for item in spec["tiers"]) if r), None)


def _reduction_hint(spec: dict[str, Any]) -> str:
    names = [item["name"] for item in spec.get("reductions") or []]
    return f"如属于{'、'.join(names)}，缴费另有规定。" if names else ""


def _answer(pack: SchemePack, tier: FeeTier, resolved: Resolved | None, on: dt.date, period: str,
            hint: str = "") -> FeeResult:
    phrase = f"{year_phrase(resolved, on)}，" if resolved else ""
    if tier.exempt:
        text = f"{phrase}{pack.short_name}{tier.name}免予缴费。"
    else:
        text = f"{phrase}{pack.short_name}{tier.name}个人缴费{tier.amount}元/{period}。"
    year = resolved.year if resolved else None
    if tier.note:
        text += tier.note
    return FeeResult(tier.amount, tier.exempt, tier.name, year, text + hint)
