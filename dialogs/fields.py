"""Turning one guardian message into slot values for the current step (or a ValidationError).

Each step `type` of a form has a parser here. Parsers are pure: they get the step, the message
and the slots filled so far, and return {slot path: value} updates.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable

from dialogs import validators as v
from dialogs.forms import ID_DERIVED_TYPES, Option, Step, get_slot
from dialogs.schools import SHANGHAI_DISTRICTS, district_of

Updates = dict[str, Any]
_NUMBER = re.compile(r"^(?:第)?(\d{1,2}|[一二三四五六七八九十])(?:个|项|号|种|所)?[。.]?$")
_CN_NUMBERS = "一二三四五六七八九十"


def pick_number(text: str) -> int | None:
    """"2", "第2个", "二" → 2 (numbered menus)."""
    match = _NUMBER.match(v.normalize(text))
    if not match:
        return None
    token = match[1]
    return int(token) if token.isdigit() else _CN_NUMBERS.index(token) + 1


_NEGATION = ("不", "非", "没", "无")


def match_option(options: list[Option], text: str) -> Option | None:
    """A numbered choice, the option's label/value/alias typed out, or a unique partial match. An
    acknowledgement ("好的", "嗯") matches nothing, nor does a yes/no unless the options are the question's
    是 and 否 (their aliases say so): it does not say which option."""
    value = v.normalize(text)
    number = pick_number(value)
    if number is not None:
        return options[number - 1] if 1 <= number <= len(options) else None
    for option in options:
        if value in (option.value, option.label, *option.aliases):
            return option
    answer = v.parse_yes_no(value)
    if answer is not None:  # "没有，第一次" to a yes/no question offered as two options (是 / 否 among their aliases)
        said = [o for o in options if ("是" if answer else "否") in o.aliases]
        return said[0] if len(said) == 1 else None
    if len(value) < 2 or v.is_acknowledgement(value):
        return None
    partial = [o for o in options if value in o.label or any(_names(a, value) for a in (o.label, *o.aliases))]
    return partial[0] if len(partial) == 1 else None


def _names(word: str, text: str) -> bool:
    """`text` names `word` ("选上海户籍人员"), but does not deny it ("不是上海户籍人员")."""
    at = text.find(word) if word else -1
    return at >= 0 and not any(n in text[:at] for n in _NEGATION)


def _choice(step: Step, text: str, slots: dict[str, Any], today: dt.date) -> Updates:
    option = match_option(step.options, text)
    if option is None:
        raise v.ValidationError(f"请回复选项前的数字（1到{len(step.options)}）或点选一项。")
    return {step.slot: option.value}


def _yes_no(step: Step, text: str, slots: dict[str, Any], today: dt.date) -> Updates:
    answer = v.parse_yes_no(text)
    if answer is None:
        if v.is_acknowledgement(text):
            raise v.ValidationError("这一步需要明确回答“是”还是“否”。")
        raise v.ValidationError("请回复“是”或“否”。")
    return {step.slot: answer}


def _consent(step: Step, text: str, slots: dict[str, Any], today: dt.date) -> Updates:
    if v.parse_consent(text) if step.params.get("explicit") else v.parse_agreement(text):
        return {step.slot: True}
    if v.is_acknowledgement(text):
        raise v.ValidationError("请明确回复“同意”，表示您已阅读并同意办理须知；不同意可回复“取消”退出。")
    raise v.ValidationError("需要您确认已阅读并同意办理须知才能继续。回复“同意”开始申请，或回复“取消”退出。")


def _ack(step: Step, text: str, slots: dict[str, Any], today: dt.date) -> Updates:
    accepted = [str(w) for w in step.params.get("accept", [])]
    said = v.normalize(text)
    value = said.rstrip("了啦啊。.!！~～ ")  # "已经暂停了"
    done = ("下一步", "完成", "好", "已完成", "办好", "弄好", "搞定", "做好")
    if v.parse_agreement(said) or said in accepted or value in accepted or value in done or \
            (any(w in value for w in accepted) and not re.search(r"不|没|未|还没|怎么|吗|？|\?", value)):
        return {step.slot: step.params.get("set_value", True)}
    hint = "”或“".join(accepted[:2] or ["好的"])
    raise v.ValidationError(f"完成这一步后请回复“{hint}”，我们再继续。")


def _name(step: Step, text: str, slots: dict[str, Any], today: dt.date) -> Updates:
    return {step.slot: v.check_name(text, step.label or "姓名")}


def _id_number(step: Step, text: str, slots: dict[str, Any], today: dt.date) -> Updates:
    type_slot = step.params.get("type_slot", "child.id_type")
    id_type = get_slot(slots, type_slot)
    base = step.slot.rsplit(".", 1)[0]
    detected = not id_type and step.params.get("detect_type")
    if detected:  # the document follows from the number's format; asked only for a passport
        id_type = v.id_type_of(text)
    id_type = id_type or "身份证"
    updates: Updates = {type_slot: id_type} if detected else {}
    if id_type in ID_DERIVED_TYPES or id_type == "港澳台居民居住证":
        info = v.check_id_number(text, today=today)
        number = v.normalize_id_number(text) if id_type in ID_DERIVED_TYPES else v.check_residence_permit(text)
        return {**updates, step.slot: number, f"{base}.birth_date": info.birth_date.isoformat(), f"{base}.sex": info.sex}
    checker: Callable[[str], str] = {
        "港澳居民来往内地通行证": v.check_hk_macau_permit,
        "护照": v.check_passport,
    }.get(id_type, v.check_passport)
    return {**updates, step.slot: checker(text)}


def _date(step: Step, text: str, slots: dict[str, Any], today: dt.date) -> Updates:
    return {step.slot: v.check_date(text, step.label or "日期", today=today).isoformat()}


def _district(step: Step, text: str, slots: dict[str, Any], today: dt.date) -> Updates:
    number = pick_number(text)
    if number is not None and 1 <= number <= len(SHANGHAI_DISTRICTS):
        return {step.slot: SHANGHAI_DISTRICTS[number - 1]}
    district = district_of(v.normalize(text))
    if district is None:
        raise v.ValidationError("没有找到这个区。请回复区名（如“黄浦区”“浦东新区”）或前面的数字。")
    return {step.slot: district}


def _address(step: Step, text: str, slots: dict[str, Any], today: dt.date) -> Updates:
    return {step.slot: v.check_address(text, step.label or "详细地址")}


def _phone(step: Step, text: str, slots: dict[str, Any], today: dt.date) -> Updates:
    return {step.slot: v.check_phone(text)}


def _card(step: Step, text: str, slots: dict[str, Any], today: dt.date) -> Updates:
    return {step.slot: v.check_bank_card(text, step.label or "卡号")}


def _text(step: Step, text: str, slots: dict[str, Any], today: dt.date) -> Updates:
    return {step.slot: v.check_free_text(text, step.label or "内容", int(step.params.get("max_len", 60)))}


PARSERS: dict[str, Callable[[Step, str, dict[str, Any], dt.date], Updates]] = {
    "choice": _choice, "yes_no": _yes_no, "derived_confirm": _yes_no, "consent": _consent, "ack": _ack,
    "name": _name, "id_number": _id_number, "date": _date, "district": _district, "address": _address,
    "phone": _phone, "card": _card, "text": _text,
}


def parse(step: Step, text: str, slots: dict[str, Any], today: dt.date) -> Updates:
    parser = PARSERS.get(step.type)
    if parser is None:
        raise v.ValidationError("请按提示回复。")
    return parser(step, text, slots, today)


def menu_link(label: str, menu_id: int) -> str:
    """A WeChat tappable reply: tapping sends `label` back as the guardian's message."""
    return f'<a href="weixin://bizmsgmenu?msgmenucontent={label}&msgmenuid={menu_id}">{label}</a>'


def numbered(labels: list[str]) -> str:
    return "\n".join(f"{i}. {menu_link(label, i)}" for i, label in enumerate(labels, start=1))
