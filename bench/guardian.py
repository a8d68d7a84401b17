"""A simulated guardian for load and fault runs: walks the Shanghai 少儿住院互助基金 enrolment from
"我要参保" through the form to submission, and asks questions on the way.

The walker is reactive: it reads each prompt and answers what is asked (ID number, phone, name,
numbered options, confirmation…), so it follows the real dialog without hard-coding its step order.
Everything it types is fictional: ID numbers come from `dialogs.validators.generate_id_number`.

    guardian = Guardian(n=7)
    result = await guardian.enroll(send)       # send(text) -> reply text
    result.completed, result.application_ref, result.turns
"""
from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from dialogs.validators import generate_id_number, luhn_check_digit

Send = Callable[[str], Awaitable[str]]

START = "我要参保少儿住院互助基金"
QUESTIONS = (
    "上海三级医院住院花了1万能报多少",
    "少儿住院互助基金交多少钱",
    "什么时候截止",
    "需要准备什么材料",
    "孩子7岁在上海读小学，户口在外地，能参保吗",
)
# What a typical enrolment conversation sends, in order; used where the server cannot converse
# (the echo baseline, the counting router) so every target gets the same messages.
FIXED_SCRIPT = (
    QUESTIONS[0], START, "1", "张小明", "310101201805060017", "是", "1", "黄浦区北京东路小学", "一年级",
    QUESTIONS[1], "李芳", "13912345678", "上海市黄浦区北京东路100弄2号", "同意", "确认", "确认提交",
)
DONE_MARKERS = ("申请编号", "提交成功", "已提交", "受理编号", "办理编号")
BUSY_MARKERS = ("系统繁忙", "系统出了点问题")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "明华婷伟芳杰静磊洋艳勇军娜敏强丽涛"


@dataclass
class ConversationResult:
    completed: bool = False
    stuck: bool = False
    turns: int = 0
    busy_replies: int = 0
    application_ref: str = ""
    last_reply: str = ""
    transcript: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Guardian:
    """One fictional family: a child born 2018–2021 in Shanghai and a guardian with a mobile number."""

    n: int
    rng: random.Random = field(default_factory=random.Random)
    max_turns: int = 45
    ask_questions: bool = True

    def __post_init__(self) -> None:
        rng = random.Random(self.n)
        self.child_birth = dt.date(2018, 1, 1) + dt.timedelta(days=rng.randrange(0, 1400))
        self.child_sex = rng.choice("男女")
        self.child_id = generate_id_number(self.child_birth, self.child_sex, "310101", seq=rng.randrange(1000))
        self.guardian_id = generate_id_number(dt.date(1988, 3, 4) + dt.timedelta(days=rng.randrange(3000)),
                                              "女", "310104", seq=rng.randrange(1000))
        self.child_name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        self.guardian_name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        self.phone = f"139{self.n % 100_000_000:08d}"
        card = f"62220210{self.n % 10**10:010d}"
        self.card = card + luhn_check_digit(card)

    @property
    def user_id(self) -> str:
        return f"o-bench-{self.n:07d}"

    def answer(self, prompt: str) -> str:
        """What this guardian types in reply to one prompt of the form."""
        p = prompt.rsplit("我们继续", 1)[-1]  # after a digression the resume prompt comes last
        rules: list[tuple[str, str]] = [
            (r"确认.*提交|提交.*确认|核对|是否正确", "确认提交"),
            (r"同意|授权|知情", "同意"),
            (r"(?:监护人|家长|您的|本人).{0,6}(?:身份证|证件号)", self.guardian_id),
            (r"身份证|证件号", self.child_id),
            (r"证件类型|什么证件", "1"),
            (r"手机|电话|联系方式", self.phone),
            (r"银行卡|卡号|账号", self.card),
            (r"(?:监护人|家长|您的|联系人).{0,4}(?:姓名|名字)", self.guardian_name),
            (r"姓名|名字|叫什么", self.child_name),
            (r"关系", "1"),
            (r"出生日期|生日", f"{self.child_birth:%Y-%m-%d}"),
            (r"学校|幼儿园", "黄浦区北京东路小学"),
            (r"年级|班级", "一年级"),
            (r"地址|住址|居住", "上海市黄浦区北京东路100弄2号"),
            (r"照片|上传", "跳过"),
        ]
        for pattern, reply in rules:
            if re.search(pattern, p):
                return reply
        if re.search(r"(?:^|\n)\s*1[.、．:：)]", p) or "回复数字" in p:
            return "1"
        if re.search(r"是否|对吗|吗？|吗\?", p):
            return "是"
        return "确认"

    async def enroll(self, send: Send) -> ConversationResult:
        """Ask a question, start the enrolment, answer every prompt (one digression midway) to the end."""
        result = ConversationResult()
        rng = random.Random(self.n * 7919)

        async def say(text: str) -> str:
            reply = await send(text)
            result.turns += 1
            result.transcript.append((text, reply))
            result.last_reply = reply
            if any(m in reply for m in BUSY_MARKERS):
                result.busy_replies += 1
            return reply

        if self.ask_questions:
            await say(rng.choice(QUESTIONS))
        reply = await say(START)
        digress_at = rng.randrange(2, 6) if self.ask_questions else -1
        repeats = 0
        while result.turns < self.max_turns:
            if any(m in reply for m in DONE_MARKERS):
                result.completed = True
                result.application_ref = _application_ref(reply)
                return result
            if result.turns == digress_at:
                reply = await say(rng.choice(QUESTIONS[:2]))
                continue
            previous = reply
            reply = await say(self.answer(reply))
            repeats = repeats + 1 if reply == previous else 0
            if repeats >= 3:
                break
        result.stuck = True
        return result

    async def resume(self, send: Send, result: ConversationResult | None = None) -> ConversationResult:
        """After a crash: pick the conversation up from whatever the bot asks next and finish it."""
        result = result or ConversationResult()
        reply = await send("继续")
        result.turns += 1
        repeats = 0
        while result.turns < self.max_turns * 2:
            if any(m in reply for m in DONE_MARKERS):
                result.completed = True
                result.application_ref = _application_ref(reply)
                return result
            previous = reply
            reply = await send(self.answer(reply))
            result.turns += 1
            result.last_reply = reply
            repeats = repeats + 1 if reply == previous else 0
            if repeats >= 3:
                break
        result.stuck = True
        return result


def _application_ref(reply: str) -> str:
    match = re.search(r"A\d{8}[0-9A-F]{8}", reply)
    return match.group() if match else ""


async def fixed_script(send: Send, script: tuple[str, ...] = FIXED_SCRIPT) -> ConversationResult:
    """The same messages for servers that cannot converse (baseline echo, counting router)."""
    result = ConversationResult()
    for text in script:
        result.last_reply = await send(text)
        result.turns += 1
    result.completed = True
    return result
