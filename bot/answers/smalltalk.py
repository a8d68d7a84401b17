"""Replies that need no scheme: greeting, help, human hand-off, out of scope, not understood."""
from __future__ import annotations

from bot.answers.format import join, numbered

INTRO = "您好！我是少儿医保参保小助手，可以回答参保条件、缴费标准、办理时间、所需材料和看病报销等问题。"
EXAMPLES = "可以直接问我，例如：「北京一小多少钱」「娃在三级医院住院花了1万能报多少」。"


def menu_text(titles: list[str]) -> str:
    return join(numbered(titles), "回复序号即可。")


def greeting(titles: list[str]) -> str:
    return join(INTRO, EXAMPLES, "您想了解：", menu_text(titles))


def help_text(titles: list[str]) -> str:
    return join(INTRO, EXAMPLES, "常用：", menu_text(titles), "回复「人工」可转人工客服。")


def human() -> str:
    return "已为您转接人工客服，工作人员会尽快回复您（工作时间内）。也可以继续向我提问。"


def out_of_scope(titles: list[str]) -> str:
    return join("抱歉，这个问题我回答不了。我只能回答少儿和学生医保的参保、缴费和报销问题。", "您可以问：", menu_text(titles))


def unclear(titles: list[str]) -> str:
    return join("没太明白您的问题，您是想问：", menu_text(titles), "也可以换个说法，比如带上城市和具体情况。")
