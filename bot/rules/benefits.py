"""Reimbursement: (bill − 起付线) × 比例, limited by the yearly 封顶 — each step shown in Chinese."""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from bot.clock import SHANGHAI
from bot.rules.model import ReimbursementResult, SchemePack
from bot.rules.parameters import Resolved, to_decimal, year_phrase

# A sanity bound on one bill, not a policy number: anything above is surely a typing mistake.
MAX_BILL = Decimal("100000000")
CENT = Decimal("0.01")
LEVEL_NAMES = {1: "一级", 2: "二级", 3: "三级"}
KIND_WORDS = {"inpatient": "inpatient", "住院": "inpatient", "outpatient": "outpatient", "门诊": "outpatient",
              "急诊": "outpatient", "门急诊": "outpatient", "门（急）诊": "outpatient"}
LEVEL_WORDS = {"一级": 1, "二级": 2, "三级": 3, "1": 1, "2": 2, "3": 3, "一": 1, "二": 2, "三": 3}
# How the 起付线 applies, as the seed says it. `unstated`: the seed gives the threshold without saying
# whether it is per stay or a yearly total (Beijing's letter); the answer then says so.
SCOPE_WORDS = {"per_stay": "每次住院", "per_year": "当年累计", "unstated": "材料未写明按每次还是按全年累计"}


def scope_words(spec: dict[str, Any]) -> str:
    """How the 起付线 counts, in words: 每次住院 / 当年累计 / that the seed does not say."""
    return SCOPE_WORDS[spec["deductible_scope"]]


def scoped_deductible(spec: dict[str, Any], amounts: str) -> str:
    """"每次住院起付线300元", "当年累计起付线300元", or "起付线650元（材料未写明…）"."""
    if spec["deductible_scope"] == "unstated":
        return f"起付线{amounts}（{scope_words(spec)}）"
    return f"{scope_words(spec)}起付线{amounts}"


def parse_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(SHANGHAI).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip()).date()
        except ValueError:
            return None
    return None


def _money(value: Decimal) -> str:
    value = value.quantize(CENT, ROUND_HALF_UP)
    return f"{value.normalize():f}" if value == value.to_integral() else f"{value:f}"


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = to_decimal(str(value).strip().removesuffix("元").replace(",", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _need(missing: list[str], text: str, year: int | None = None) -> ReimbursementResult:
    return ReimbursementResult("need_facts", Decimal(0), standard_year=year, missing=missing, explanation=text)


def _level(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    word = str(value).strip().removesuffix("医院").removesuffix("医疗机构") if value is not None else ""
    return LEVEL_WORDS.get(word)


def _special_condition(benefits: dict[str, Any], condition: Any) -> str | None:
    if not condition:
        return None
    for cond in (benefits.get("inpatient_standard_conditions") or {}).get("conditions", []):
        if any(alias in str(condition) for alias in [cond["name"], *cond["aliases"]]):
            return cond["name"]
    return None


def compute(pack: SchemePack, claim: dict[str, Any] | None) -> ReimbursementResult:
    benefits = pack.raw.get("benefits")
    if not benefits:
        note = (pack.raw.get("notes") or {}).get("benefits", "材料没有写明报销比例，请咨询经办机构。")
        return ReimbursementResult("not_covered", Decimal(0), explanation=f"{pack.short_name}：{note}")
    claim = claim if isinstance(claim, dict) else {}
    kind = KIND_WORDS.get(str(claim.get("kind", "")).strip())
    if kind is None:
        return _need(["kind"], "请问是住院费用还是门（急）诊费用？")
    amount = _number(claim.get("amount"))
    if amount is None:
        # "第一年门诊能报吗": a continuity rule that already refuses needs no bill to say so.
        return _refused_without_bill(pack, benefits, kind, claim) or _need(["amount"], "请告诉我医疗费用总额（元）。")
    if amount < 0 or amount > MAX_BILL:
        # Never echo the raw input: a mistyped ID or phone number must not come back unmasked.
        return _need(["amount"], "医疗费用金额看起来不对（应为0到1亿元之间的数字），请核对后重新输入。")
    on = parse_date(claim.get("on")) or dt.datetime.now(SHANGHAI).date()
    steps: list[str] = []
    special = _special_condition(benefits, claim.get("condition")) if kind == "outpatient" else None
    if special:
        kind = "inpatient"
        steps.append(f"{special}的门诊费用按住院标准结算。")
    spec = benefits.get(kind)
    kind_name = "住院" if kind == "inpatient" else "门（急）诊"
    if spec is None:
        return ReimbursementResult("not_covered", Decimal(0), explanation=f"{pack.short_name}的材料没有写明{kind_name}报销标准。")
    resolved = {key: pack.parameter(spec[key]).resolve(on) for key in ("deductible", "rate", "cap", "min_years_insured")
                if key in spec}
    year = max(r.year for r in resolved.values())
    blocked = (_insured_long_enough(claim, resolved["min_years_insured"], spec, year)
               if "min_years_insured" in resolved else None)
    if blocked is not None and blocked.status == "not_covered":  # a known refusal holds for any bill
        return blocked
    below = _below_every_deductible(spec, claim, amount, resolved["deductible"], kind_name)
    if below is not None:  # "门诊花了500能报吗": under the 起付线 whatever the level or years insured
        used = Resolved(None, year, "", any(r.fallback for r in resolved.values()))
        steps.extend(below)
        text = (f"{year_phrase(used, on)}，{kind_name}费用{_money(amount)}元未超过起付线，基金不支付，"
                f"个人负担{_money(amount)}元。")
        return ReimbursementResult("ok", Decimal("0.00"), steps, year, explanation=text)
    if blocked is not None:  # years insured not known yet: ask
        return blocked
    level = _level(claim.get("hospital_level"))
    if level is None and any(isinstance(resolved[k].value, dict) for k in ("deductible", "rate")):
        return _need(["hospital_level"], "请问是在几级医疗机构（一级、二级、三级）就医的？", year)
    deductible, rate = resolved["deductible"].at(level), resolved["rate"].at(level)
    if deductible is None or rate is None:
        return _need(["hospital_level"], "医疗机构等级应为一级、二级或三级，请重新告诉我。", year)
    pay = _calculate(spec, claim, amount, deductible, rate, level, steps)
    if "cap" in resolved:
        pay = _apply_cap(claim, resolved["cap"].value, pay, steps)
    used = Resolved(None, year, "", any(r.fallback for r in resolved.values()))
    if spec["deductible_scope"] == "unstated" and (_number(claim.get("costs_this_year")) or 0) > 0:
        return _both_readings(spec, claim, amount, deductible, rate, level, resolved, pay, steps, used, on, kind_name)
    text = (f"{year_phrase(used, on)}，{kind_name}费用{_money(amount)}元，预计医保基金支付{_money(pay)}元，"
            f"个人负担{_money(amount - pay)}元。实际金额以医保结算为准。")
    return ReimbursementResult("ok", pay, steps, year, explanation=text)


def _calculate(spec: dict[str, Any], claim: dict[str, Any], amount: Decimal, deductible: Decimal, rate: Decimal,
               level: int | None, steps: list[str]) -> Decimal:
    """(bill − what is left of the 起付线) × 比例, each step appended in words."""
    where = f"{LEVEL_NAMES[level]}医疗机构" if level else ""
    steps.append(f"费用{_money(amount)}元；{where}{spec['name']}起付线{_money(deductible)}元（{scope_words(spec)}）。")
    remaining = deductible
    if spec["deductible_scope"] == "per_year":
        before = _number(claim.get("costs_this_year")) or Decimal(0)
        if before > 0:
            remaining = max(Decimal(0), deductible - before)
            steps.append(f"本年此前已发生费用{_money(before)}元，起付线还剩{_money(remaining)}元。")
    above = max(Decimal(0), amount - remaining)
    if above == 0:
        steps.append("费用未超过起付线，基金不支付。")
        return Decimal("0.00")
    steps.append(f"超过起付线部分：{_money(amount)} − {_money(remaining)} = {_money(above)}元。")
    pay = (above * rate / 100).quantize(CENT, ROUND_HALF_UP)
    steps.append(f"{where}报销比例{_money(rate)}%：{_money(above)} × {_money(rate)}% = {_money(pay)}元。")
    return pay


def _both_readings(spec: dict[str, Any], claim: dict[str, Any], amount: Decimal, deductible: Decimal, rate: Decimal,
                   level: int | None, resolved: dict[str, Resolved], per_stay: Decimal, steps: list[str],
                   used: Resolved, on: dt.date, kind_name: str) -> ReimbursementResult:
    """Earlier costs this year and a seed that does not say how the 起付线 counts: the two readings
    differ, so both are given and neither is chosen (the `amount` is the smaller, never a guess up)."""
    yearly_steps: list[str] = []
    yearly = _calculate({**spec, "deductible_scope": "per_year"}, claim, amount, deductible, rate, level, yearly_steps)
    if "cap" in resolved:
        yearly = _apply_cap(claim, resolved["cap"].value, yearly, yearly_steps)
    steps.append(f"若起付线按全年累计：{yearly_steps[1] if len(yearly_steps) > 1 else ''}"
                 f"预计支付{_money(yearly)}元。")
    text = (f"{year_phrase(used, on)}，{kind_name}费用{_money(amount)}元，材料没有写明起付线{_money(deductible)}元"
            f"是每次计算还是全年累计：按每次计算，预计医保基金支付{_money(per_stay)}元；按全年累计（本年此前已发生"
            f"{_money(_number(claim.get('costs_this_year')) or Decimal(0))}元），预计医保基金支付{_money(yearly)}元。"
            f"请向学校或社保经办机构确认。实际金额以医保结算为准。")
    return ReimbursementResult("ok", min(per_stay, yearly), steps, used.year, explanation=text)


def _below_every_deductible(spec: dict[str, Any], claim: dict[str, Any], amount: Decimal, deductible: Resolved,
                            kind_name: str) -> list[str] | None:
    """Steps saying the bill is under the lowest 起付线 of any level, or None (earlier costs this year
    lower a yearly threshold, so then the full calculation runs)."""
    if _number(claim.get("costs_this_year")):
        return None
    values = list(deductible.value.values()) if isinstance(deductible.value, dict) else [deductible.value]
    lowest = min(values)
    if amount > lowest:
        return None
    levels = "各级医疗机构" if isinstance(deductible.value, dict) else ""
    return [f"费用{_money(amount)}元；{levels}{kind_name}起付线最低{_money(lowest)}元（{scope_words(spec)}）。",
            "费用未超过起付线，基金不支付。"]


def _refused_without_bill(pack: SchemePack, benefits: dict[str, Any], kind: str,
                          claim: dict[str, Any]) -> ReimbursementResult | None:
    spec = benefits.get(kind) or {}
    if "min_years_insured" not in spec or _number(claim.get("years_insured")) is None or claim.get("condition"):
        return None
    on = parse_date(claim.get("on")) or dt.datetime.now(SHANGHAI).date()
    minimum = pack.parameter(spec["min_years_insured"]).resolve(on)
    blocked = _insured_long_enough(claim, minimum, spec, minimum.year)
    return blocked if blocked is not None and blocked.status == "not_covered" else None


def _insured_long_enough(claim: dict[str, Any], minimum: Resolved, spec: dict[str, Any],
                         year: int) -> ReimbursementResult | None:
    years = _number(claim.get("years_insured"))
    if years is None or years < 0:
        return _need(["years_insured"], "请问孩子已经连续参保缴费几年了？", year)
    rule = spec.get("requires_text", "")
    if years < minimum.value or claim.get("continuing") is False:
        return ReimbursementResult("not_covered", Decimal(0), [rule] if rule else [], year, explanation=(
            f"按{year}年度标准，{spec['name']}费用不予报销：{rule}"))
    return None


def _apply_cap(claim: dict[str, Any], cap: Decimal, pay: Decimal, steps: list[str]) -> Decimal:
    used = _number(claim.get("reimbursed_this_year")) or Decimal(0)
    used = max(Decimal(0), used)
    room = max(Decimal(0), cap - used)
    note = f"一年最高支付{_money(cap)}元"
    if used:
        note += f"，本年已报销{_money(used)}元，还可报销{_money(room)}元"
    if pay > room:
        steps.append(f"封顶：{note}，按{_money(room)}元支付。")
        return room.quantize(CENT, ROUND_HALF_UP)
    steps.append(f"封顶：{note}，未超过封顶线。")
    return pay


def standards(pack: SchemePack, on: dt.date) -> list[str]:
    """The benefit standards in words, without a bill: 起付线, 比例, 封顶 and the year, one line per kind."""
    benefits = pack.raw.get("benefits") or {}
    lines = []
    for kind in ("inpatient", "outpatient"):
        spec = benefits.get(kind)
        if not spec:
            continue
        resolved = {key: pack.parameter(spec[key]).resolve(on) for key in ("deductible", "rate", "cap") if key in spec}
        line = f"{spec['name']}：{scoped_deductible(spec, _by_level(resolved['deductible'].value, '元'))}，" + (
                f"超过部分基金支付{_by_level(resolved['rate'].value, '%')}")
        if "cap" in resolved:
            line += f"，一年最高支付{_money(resolved['cap'].value)}元"
        if spec.get("requires_text"):
            line += f"（{spec['requires_text'].rstrip('。')}）"
        lines.append(f"{line}（按{max(r.year for r in resolved.values())}年度标准）。")
    special = benefits.get("inpatient_standard_conditions")
    if special:
        lines.append("、".join(c["name"] for c in special["conditions"]) + "的门诊费用按住院标准结算。")
    return lines


def _by_level(value: Any, unit: str) -> str:
    if isinstance(value, dict):
        return "、".join(f"{LEVEL_NAMES.get(level, level)}{_money(v)}{unit}" for level, v in sorted(value.items()))
    return f"{_money(value)}{unit}"
