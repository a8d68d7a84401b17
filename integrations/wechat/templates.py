"""A template message as the fallback for a customer-service message WeChat refuses because the guardian
has not written in 48 hours (45015) — the usual case for a deadline reminder.

A template carries a few short fields, not our whole text, so it is a notice ("参保缴费提醒…"), and the
full text waits until the guardian next writes (see bot.delivery). The operator picks a template from
the 公众平台 library and says which of its fields get what:

    WECHAT_TEMPLATE_ID=<template id>
    WECHAT_TEMPLATE_FIELDS=first=title,keyword1=text,keyword2=date,remark=hint        (classic templates)
    WECHAT_TEMPLATE_FIELDS=thing1=title,time2=date,thing3=hint                      (newer templates)

Sources: `title` (the message's first line), `text` (the rest), `date` (when it was sent), `hint` (how to
read the whole message). Values are clipped to what WeChat accepts for the field's type: 20 characters
for `thing…`, 32 for `character_string…`, 200 otherwise.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping

SOURCES = ("title", "text", "date", "hint")
HINT = "回复任意消息即可查看完整内容。"
DEFAULT_FIELDS = "first=title,keyword1=text,keyword2=date,remark=hint"


@dataclass(frozen=True)
class TemplateNotice:
    template_id: str
    fields: tuple[tuple[str, str], ...]  # (template key, source)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "TemplateNotice | None":
        """None without WECHAT_TEMPLATE_ID; ValueError (in Chinese, naming the setting) when malformed."""
        template_id = (env.get("WECHAT_TEMPLATE_ID") or "").strip()
        if not template_id:
            return None
        fields = []
        for pair in (env.get("WECHAT_TEMPLATE_FIELDS") or DEFAULT_FIELDS).split(","):
            key, _, source = (part.strip() for part in pair.partition("="))
            if not key or source not in SOURCES:
                raise ValueError(f"WECHAT_TEMPLATE_FIELDS 的“{pair.strip()}”应写成 字段名=来源，来源为 "
                                 f"{'、'.join(SOURCES)} 之一")
            fields.append((key, source))
        return cls(template_id, tuple(fields))

    def data_for(self, text: str, now: dt.datetime) -> dict[str, str]:
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        values = {"title": lines[0] if lines else "", "text": " ".join(lines[1:]) or (lines[0] if lines else ""),
                  "date": f"{now:%Y年%m月%d日 %H:%M}", "hint": HINT}
        return {key: _clip(values[source], _limit(key)) for key, source in self.fields}


def _limit(key: str) -> int:
    if key.startswith("thing"):
        return 20
    if key.startswith("character_string"):
        return 32
    return 200


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit - 1] + "…"
