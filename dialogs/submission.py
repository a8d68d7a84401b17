"""Turning a confirmed form into a durable application record, and what goes with submitting it."""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from bot.store.repos import CLOSED
from dialogs.forms import FormSpec, copy_json, get_slot

log = logging.getLogger(__name__)

# Slots that go to the record's top level (field names as in bot/store/repos.py) …
STANDARD = ("child", "guardian", "school_code", "school_name", "address", "category", "school_year",
            "benefit_start", "benefit_end", "amount_fen", "exempt", "full_amount_fen")
# … and working slots of the dialog that are not part of the application.
INTERNAL = {"flags", "roster", "roster_school_uploaded", "roster_note", "fee_note", "fee_category",
            "school_district", "district", "window_end"}


def period_of(slots: dict[str, Any]) -> str:
    """The cover period an application is for: one live application per child, scheme and period."""
    return f"{slots.get('benefit_start') or ''}|{slots.get('school_year') or ''}"


def record(slots: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The application record; scheme-specific answers (bank, card, photo, renewal …) go to `details`."""
    data = {key: copy_json(slots[key]) for key in STANDARD if key in slots}
    data["district"] = slots.get("school_district") or slots.get("district") or ""
    data["exempt"] = bool(slots.get("exempt"))
    data["amount_fen"] = 0 if data["exempt"] else slots.get("amount_fen")
    data["submitted_at"] = now.isoformat(timespec="seconds")
    data["details"] = {k: copy_json(v) for k, v in slots.items() if k not in STANDARD and k not in INTERNAL}
    return data


async def find_duplicate(turn: Any, spec: FormSpec, slots: dict[str, Any]) -> dict[str, Any] | None:
    """A live application of the same child, scheme and period (a second one is refused)."""
    id_number = get_slot(slots, "child.id_number")
    if not id_number:
        return None
    for app in await turn.services.applications.find_by_id_number(id_number, spec.scheme):
        same_period = (app.get("benefit_start") == slots.get("benefit_start")
                       and app.get("school_year") == slots.get("school_year"))
        if app.get("status") not in CLOSED and same_period:
            return app
    return None


def duplicate_text(turn: Any, spec: FormSpec, slots: dict[str, Any], existing: dict[str, Any] | None) -> str:
    """What a guardian is told of a second application for the same child: their own one with its number
    and status; of another guardian's, only that it exists (nothing of theirs is shown)."""
    from bot.store.repos import STATUS_LABELS

    name = get_slot(slots, "child.name") or "孩子"
    if existing is not None and existing.get("user_id") == turn.user_id:
        label = STATUS_LABELS.get(existing["status"], existing["status"])
        return (f"{name}的{spec.title}申请已经提交过（编号 {existing['id']}，{label}），不需要重复办理。"
                "回复“进度”可随时查看。")
    return (f"这个孩子已经有一份{spec.title}申请，不需要重复办理。"
            "如有疑问，请回复“转人工”联系工作人员。")


async def remember_subscriber(turn: Any, spec: FormSpec, slots: dict[str, Any]) -> None:
    """Segments for reminders and broadcasts: the schemes, district and school of the guardian."""
    changes: dict[str, Any] = {}
    if slots.get("school_district"):
        changes["district"] = slots["school_district"]
    if slots.get("school_code"):
        changes["school_code"] = slots["school_code"]
    await turn.services.subscribers.touch(turn.user_id, turn.now, add={"schemes": spec.scheme}, **changes)


def procedure_text(engine: Any, spec: FormSpec) -> str:
    """The rule engine's procedure items named in `settings.after_submit_topics` (e.g. payment steps)."""
    blocks = []
    for topic in spec.settings.get("after_submit_topics", []):
        try:
            items = engine.procedure(spec.scheme, topic)
        except Exception:
            log.exception("procedure %s failed for %s", topic, spec.scheme)
            continue
        for item in items:
            lines = "\n".join(line if line[:1].isdigit() else f"· {line}" for line in item.lines)
            blocks.append(f"【{item.title}】\n{lines}")
    return "\n\n".join(blocks)
