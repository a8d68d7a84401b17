"""Named checks (after a step is filled) and computations (before a step is shown) that forms use.

Checks may raise ValidationError (the step is asked again, nothing is stored) or set routing
slots that the form's `next` branches read. Everything policy-dependent comes from the rule engine
or the form YAML, never from constants here.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from dialogs.forms import FormSpec, copy_json, get_slot, set_slot
from dialogs.schools import SchoolDirectory
from dialogs.validators import ValidationError, age_on

if TYPE_CHECKING:  # pragma: no cover
    from bot.turn import Turn

log = logging.getLogger(__name__)


@dataclass
class HookContext:
    turn: "Turn"
    spec: FormSpec
    slots: dict[str, Any]
    engine: Any
    schools: SchoolDirectory

    @property
    def today(self) -> dt.date:
        return self.turn.now.date()


def facts_of(spec: FormSpec, slots: dict[str, Any]) -> dict[str, Any]:
    """The rule-engine facts a form knows so far (mapping in the form's `facts:` section)."""
    facts: dict[str, Any] = {}
    for name, source in (spec.settings.get("facts") or {}).items():
        if isinstance(source, dict) and "value" in source:
            value = source["value"]
        elif isinstance(source, dict):  # {slot: path, map: {slot value: fact value}}
            value = (source.get("map") or {}).get(get_slot(slots, source["slot"]))
        else:
            value = get_slot(slots, str(source))
        if value not in (None, ""):
            facts[name] = value
    return facts


async def check_eligibility(ctx: HookContext) -> None:
    try:
        result = ctx.engine.eligibility(ctx.spec.scheme, facts_of(ctx.spec, ctx.slots), ctx.today)
    except Exception:  # a rule-engine bug must not stop a guardian mid-form
        log.exception("eligibility check failed for %s", ctx.spec.scheme)
        return
    if result.status == "not_eligible":
        reason = result.explanation or (result.rule.text if result.rule else "")
        raise ValidationError(f"按您填写的信息：{reason}\n"
                              "如有填错请重新输入；如需帮助可回复“转人工”，或回复“取消”退出。")


async def check_age(ctx: HookContext) -> None:
    """Age limits written in the form (`settings.age`), for schemes whose pack has none."""
    limits = ctx.spec.settings.get("age") or {}
    birth = get_slot(ctx.slots, "child.birth_date")
    if not limits or not birth:
        return
    age = age_on(dt.date.fromisoformat(birth), ctx.today)
    low, high = limits.get("min"), limits.get("max")
    if (low is not None and age < low) or (high is not None and age > high):
        raise ValidationError(f"按出生日期，孩子现在{age}周岁，{limits.get('message', '不在本项目的参保年龄范围内。')}"
                              "如有填错请重新输入；如需帮助可回复“转人工”，或回复“取消”退出。")


async def check_roster(ctx: HookContext) -> None:
    """Is the child on the chosen school's uploaded roster? Sets `roster` (ok | missing)."""
    roster = ctx.turn.services.roster
    id_number = get_slot(ctx.slots, "child.id_number") or ""
    code = ctx.slots.get("school_code") or ""
    entries = await roster.lookup(id_number) if id_number else []
    codes = {e.get("school_code") for e in entries}
    if not code:  # no school chosen yet: decided at the school step
        ctx.slots.pop("roster", None)
        return
    if code in codes:
        ctx.slots["roster"] = "ok"
        return
    if entries:  # on another school's roster: the registration unit is the school of record
        entry = entries[0]
        school = ctx.schools.get(entry["school_code"])
        ctx.slots.update(school_code=entry["school_code"], school_name=entry.get("school_name") or (school.name if school else ""),
                         school_district=school.district if school else ctx.slots.get("school_district"),
                         roster="ok", roster_note="moved")
        return
    uploaded = await roster.school(code)
    ctx.slots["roster"] = "missing"
    ctx.slots["roster_school_uploaded"] = bool(uploaded)


async def check_duplicate(ctx: HookContext) -> None:
    """Right after the child's ID number: an application of this child, scheme and period already exists.
    The guardian's own is named with its number and status; another guardian's never is — only that the
    child has one, and how to reach staff."""
    from dialogs import submission  # submission builds on this module's computations

    if not get_slot(ctx.slots, "child.id_number"):
        return
    probe = HookContext(turn=ctx.turn, spec=ctx.spec, slots=copy_json(ctx.slots), engine=ctx.engine, schools=ctx.schools)
    if ctx.spec.settings.get("enrol_year_from"):
        await compute_enrol_year(probe)
    await compute_school_year(probe)
    await compute_benefit(probe)
    existing = await submission.find_duplicate(ctx.turn, ctx.spec, probe.slots)
    if existing is not None:
        raise ValidationError(submission.duplicate_text(ctx.turn, ctx.spec, ctx.slots, existing)
                              + "\n如果证件号码输错了，请重新输入。")


async def compute_school_year(ctx: HookContext) -> None:
    start = str(ctx.spec.settings.get("school_year_start", "09-01"))
    month, day = (int(p) for p in start.split("-"))
    today = ctx.today
    ctx.slots["school_year"] = today.year if (today.month, today.day) >= (month, day) else today.year - 1


async def compute_enrol_year(ctx: HookContext) -> None:
    """`enrol_year`: the year declared and paid for, from the bot's clock as the seed's pattern has it
    (`settings.enrol_year_from`: from that day on, the next year's)."""
    month, day = (int(p) for p in str(ctx.spec.settings.get("enrol_year_from", "01-01")).split("-"))
    today = ctx.today
    ctx.slots["enrol_year"] = today.year + 1 if (today.month, today.day) >= (month, day) > (1, 1) else today.year


async def compute_benefit(ctx: HookContext) -> None:
    year = ctx.slots.get("enrol_year")
    on = dt.date(int(year), 1, 1) if year and ctx.spec.settings.get("enrol_year_from") else ctx.today
    try:
        period = ctx.engine.benefit_period(ctx.spec.scheme, on)
    except Exception:
        log.exception("benefit period failed for %s", ctx.spec.scheme)
        period = None
    if period:
        ctx.slots["benefit_start"], ctx.slots["benefit_end"] = period[0].isoformat(), period[1].isoformat()


async def compute_fee(ctx: HookContext) -> None:
    try:
        fee = ctx.engine.fee(ctx.spec.scheme, facts_of(ctx.spec, ctx.slots), ctx.today)
    except Exception:
        log.exception("fee failed for %s", ctx.spec.scheme)
        fee = None
    for key in ("amount_fen", "exempt", "fee_note", "fee_category", "full_amount_fen"):
        ctx.slots.pop(key, None)
    if fee is None:
        return
    ctx.slots["exempt"] = bool(fee.exempt)
    if fee.amount is not None:
        ctx.slots["amount_fen"] = int(Decimal(fee.amount) * 100)
    claim = ctx.spec.settings.get("exemption_claim")
    if fee.exempt and claim:  # a claimed exemption may be refused: what would then be due
        unclaimed = copy_json(ctx.slots)
        set_slot(unclaimed, claim, False)
        try:
            full = ctx.engine.fee(ctx.spec.scheme, facts_of(ctx.spec, unclaimed), ctx.today)
        except Exception:
            log.exception("fee without the exemption failed for %s", ctx.spec.scheme)
            full = None
        if full is not None and full.amount is not None and not full.exempt:
            ctx.slots["full_amount_fen"] = int(Decimal(full.amount) * 100)
    if fee.category:
        ctx.slots["fee_category"] = fee.category
        if ctx.spec.settings.get("category_from_fee"):
            ctx.slots["category"] = fee.category
    ctx.slots["fee_note"] = fee.explanation


def _month_day(when: dt.datetime | dt.date) -> str:
    return f"{when.month}月{when.day}日"


async def compute_window(ctx: HookContext) -> None:
    """`window_end`: the last day of the current (or next) enrolment window, e.g. "12月11日"."""
    try:
        info = ctx.engine.windows(ctx.spec.scheme, ctx.turn.now)
    except Exception:
        log.exception("windows failed for %s", ctx.spec.scheme)
        return
    window = info.current or info.next
    if window is not None:
        ctx.slots["window_end"] = _month_day(window.end)


def _events(ctx: HookContext, kinds: tuple[str, ...]) -> list[Any]:
    try:
        window = ctx.engine.windows(ctx.spec.scheme, ctx.turn.now)
        year = (window.current or window.next).start.year if (window.current or window.next) else ctx.today.year
        events = ctx.engine.schedule(ctx.spec.scheme, year)
    except Exception:
        log.exception("schedule failed for %s", ctx.spec.scheme)
        return []
    return [e for e in events if e.kind in kinds and e.at.date() >= ctx.today]


async def compute_deadlines(ctx: HookContext) -> None:
    """`deadlines`: the dated deadlines still ahead this cycle ("学校集中缴费截止：12月25日")."""
    ctx.slots["deadlines"] = "；".join(f"{e.name}：{_month_day(e.at)}" for e in _events(ctx, ("deadline",)))


async def compute_deductions(ctx: HookContext) -> None:
    """`deductions`: the bank deduction calendar ahead (Beijing "一小")."""
    ctx.slots["deductions"] = "、".join(f"{e.at.month}月{e.at.day}日左右" for e in _events(ctx, ("deduction",)))


HOOKS: dict[str, Callable[[HookContext], Awaitable[None]]] = {
    "eligibility": check_eligibility, "age": check_age, "roster": check_roster, "duplicate": check_duplicate,
    "school_year": compute_school_year, "benefit": compute_benefit, "enrol_year": compute_enrol_year, "fee": compute_fee,
    "window": compute_window, "deadlines": compute_deadlines, "deductions": compute_deductions,
}


async def run(names: list[str], ctx: HookContext) -> None:
    for name in names:
        await HOOKS[name](ctx)


def clear(slots: dict[str, Any], paths: list[str]) -> None:
    for path in paths:
        set_slot(slots, path, None)
