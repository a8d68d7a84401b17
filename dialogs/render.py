"""Chinese text the forms show: prompts with slot values filled in, option menus, the 确认 page."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from bot.privacy import mask_id, mask_phone, redact
from dialogs.fields import menu_link, numbered
from dialogs.forms import FormSpec, Step, get_slot, holds
from dialogs.schools import SHANGHAI_DISTRICTS

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")
_MASKERS = {"id_number": mask_id, "card_number": mask_id, "phone": mask_phone}


def show(path: str, value: Any, how: str = "") -> str:
    """A slot value as the guardian may see it: personal numbers masked, dates and money readable."""
    if value is None or value == "":
        return ""
    key = path.rsplit(".", 1)[-1]
    if how in ("id", "card") or key in ("id_number", "card_number"):
        return mask_id(str(value))
    if how == "phone" or key == "phone":
        return mask_phone(str(value))
    if how == "yes_no" or isinstance(value, bool):
        return "是" if value else "否"
    if how == "date" and isinstance(value, str) and len(value) == 10:
        return value
    if isinstance(value, dict):
        return "已上传" if value.get("media_id") or value.get("pic_url") else ""
    return redact(str(value))  # free text may hold a number typed in the wrong place


def fill(template: str, slots: dict[str, Any]) -> str:
    return _PLACEHOLDER.sub(lambda m: show(m[1], get_slot(slots, m[1])), template)


def money(slots: dict[str, Any]) -> str:
    if slots.get("exempt"):
        full = slots.get("full_amount_fen")
        if full:  # a self-declared exemption: exempt only once it has been verified
            return f"免缴（待审核：经审核后才免予缴费；审核未通过需缴费{full / 100:g}元）"
        return "免缴"
    fen = slots.get("amount_fen")
    if fen is None:
        return "以缴费页面显示为准"
    return f"{fen / 100:g}元"


def options_block(step: Step) -> str:
    if step.type == "choice":
        return "回复数字或点选：\n" + numbered([o.label for o in step.options])
    if step.type in ("yes_no", "derived_confirm"):
        return f"请回复：{menu_link('是', 1)} / {menu_link('否', 2)}"
    if step.type == "consent":
        return f"请回复：{menu_link('同意', 1)}"
    if step.type == "district":
        return "请回复区名或数字：\n" + " ".join(f"{i}.{d}" for i, d in enumerate(SHANGHAI_DISTRICTS, 1))
    if step.type == "ack":
        accept = [str(a) for a in step.params.get("accept", [])][:1] or ["好的"]
        return f"完成后请回复：{menu_link(accept[0], 1)}"
    return ""


def prompt(step: Step, slots: dict[str, Any]) -> str:
    text = fill(step.prompt, slots)
    block = options_block(step)
    return f"{text}\n{block}" if block else text


def question_line(prompt: str) -> str:
    """The line that asks: the last one with a question mark or 请…, skipping notes in brackets."""
    lines = [line.strip() for line in prompt.strip().splitlines() if line.strip()]
    asks = [line for line in lines if not line.startswith(("（", "("))] or lines
    questions = [line for line in asks if "？" in line or "?" in line or line.startswith("请")]
    return (questions or asks or [""])[-1]


def short_prompt(step: Step, slots: dict[str, Any]) -> str:
    """The ask used after a digression ("我们继续：请输入…"): the prompt's question line plus the options."""
    last = question_line(step.prompt) or f"请输入{step.label}"
    block = options_block(step) if step.type in ("choice", "yes_no", "derived_confirm") else ""
    return fill(last, slots) + (f"\n{block}" if block else "")


def summary_lines(spec: FormSpec, slots: dict[str, Any]) -> list[str]:
    lines = []
    for item in spec.summary:
        if not holds(item.get("when"), slots):
            continue
        if item.get("slot") == "amount":
            lines.append(f"{item['label']}：{money(slots)}")
            continue
        value = show(item["slot"], get_slot(slots, item["slot"]), item.get("show", ""))
        if value:
            lines.append(f"{item['label']}：{value}")
    return lines


def confirmation(spec: FormSpec, step: Step, slots: dict[str, Any]) -> str:
    head = fill(step.prompt, slots) if step.prompt else "请核对以下信息："
    lines = summary_lines(spec, slots)
    note = slots.get("fee_note") if spec.settings.get("show_fee_note", True) else ""
    tail = (f"确认无误请回复 {menu_link('确认提交', 1)}；需要修改请回复“修改+项目”，例如“修改手机号”。")
    parts = [head, "\n".join(lines)] + ([note] if note else []) + [tail]
    return "\n".join(p for p in parts if p)


def date_cn(value: str | dt.date) -> str:
    when = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return f"{when.year}年{when.month}月{when.day}日"
