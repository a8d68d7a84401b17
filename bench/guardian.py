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

import asyncio
import datetime as dt
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable

from bench.common import BENCH_DATA_KEY, BENCH_NOW
from dialogs.validators import generate_id_number, luhn_check_digit

Send = Callable[[str], Awaitable[str]]

START = "我要参保少儿住院互助基金"
QUESTIONS = (
    "上海三级医院住院花了1万能报多少？",
    "少儿住院互助基金交多少钱？",
    "什么时候截止",
    "需要准备什么材料",
    "孩子7岁在上海读小学，户口在外地，能参保吗",
)
# What a typical enrolment conversation sends, in order; used where the server cannot converse
# (the echo baseline, the counting router) so every target gets the same messages.
FIXED_SCRIPT = (
    QUESTIONS[0], START, "同意", "韩小明", QUESTIONS[1], "310101201603022993", "静安区联航路4号", "是",
    "否", "北京东路", "韩大明", "17612342353", "确认提交",
)
SCHOOL_CODE, SCHOOL_NAME, SCHOOL_DISTRICT, SCHOOL_KEYWORD = "3101010001", "黄浦区北京东路小学", "黄浦", "北京东路"
# Submitted — or, when a crash fell between the application's creation and the turn's commit, the retried
# 确认提交 is told the guardian's own application went in ("…申请已经提交过（编号 …）").
DONE_MARKERS = ("申请已提交", "申请已经提交过")
# The form ended without an application (child not in the school's roster, window closed…).
ENDED_MARKERS = ("在籍名册中没有查到", "还没有上传")
BUSY_MARKERS = ("系统繁忙", "系统出了点问题")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "明华婷伟芳杰静磊洋艳勇军娜敏强丽涛"


@dataclass
class ConversationResult:
    completed: bool = False  # the application was submitted
    ended: bool = False  # the form ended without an application (e.g. child not in the roster)
    stuck: bool = False  # the walker could not get the form to move on
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
    busy_retry: float = 0.2  # after 系统繁忙, wait this long and type the same text again (as a person would)
    busy_patience: int = 60  # re-sends of one text before giving up

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
        """What this guardian types in reply to one prompt of the form (the shipped Shanghai form)."""
        p = prompt.rsplit("我们继续", 1)[-1]  # after a digression the resume prompt comes last
        rules: list[tuple[str, str]] = [
            (r"参保信息确认|确认提交", "确认提交"),
            (r"办理须知|同意", "同意"),
            (r"对吗", "是"),
            (r"监护人姓名|监护人的姓名", self.guardian_name),
            (r"手机号码|联系电话", self.phone),
            (r"证件类型", "1"),
            (r"证件号码|身份证号", self.child_id),
            (r"参保单位名称|学校名称", SCHOOL_KEYWORD),
            (r"参保单位.*哪个区", SCHOOL_DISTRICT),
            (r"户籍.*哪个区", "静安"),
            (r"详细地址|地址", "静安区联航路4号"),
            (r"人员类别", "1"),
            (r"低保|孤儿|困境|不属于请回复“否”", "否"),
            (r"姓名", self.child_name),
            (r"出生日期", f"{self.child_birth:%Y-%m-%d}"),
            (r"性别", self.child_sex),
            (r"银行卡|卡号", self.card),
        ]
        for pattern, reply in rules:
            if re.search(pattern, p):
                return reply
        if re.search(r"(?:^|\n)\s*1[.、．:：)]|回复数字", p):
            return "1"
        return "进度"  # not a prompt we know: a command that is never taken as form data, and re-asks

    async def enroll(self, send: Send) -> ConversationResult:
        """Ask a question, start the enrolment, answer every prompt (one digression midway) to the end."""
        result = ConversationResult()
        rng = random.Random(self.n * 7919)
        say = self._recorder(send, result)
        if self.ask_questions:
            await say(rng.choice(QUESTIONS))
        reply = await say(START)
        digress_at = rng.randrange(3, 8) if self.ask_questions else -1
        return await self._walk(say, reply, result, digress_at, rng)

    async def resume(self, send: Send, result: ConversationResult | None = None) -> ConversationResult:
        """After a crash or an outage: ask where we were ("进度") and finish from the bot's next prompt."""
        result = result or ConversationResult()
        say = self._recorder(send, result)
        reply = await say("进度")
        if "正在填写" not in reply:
            return result  # no form in progress (never started, or already submitted)
        return await self._walk(say, reply, result, -1, random.Random(self.n))

    async def _walk(self, say: Send, reply: str, result: ConversationResult, digress_at: int,
                    rng: random.Random) -> ConversationResult:
        repeats = 0
        limit = result.turns + self.max_turns
        while result.turns < limit:
            if not reply:
                # "success": the answer comes later by customer-service message, which we cannot see here;
                # ask where we are, as a guardian looking at the chat would know.
                reply = await say("进度")
                if "正在填写" not in reply and "申请进度" in reply:
                    result.completed = True  # the submission was the deferred turn
                    return result
                continue
            if any(m in reply for m in DONE_MARKERS):
                result.completed = True
                result.application_ref = _application_ref(reply)
                return result
            if "申请进度" in reply and "正在填写" not in reply and self.child_name in reply:
                # The progress page lists the child's application and no form is open: the submission went
                # in, its own answer lost to a crash (as a guardian would read the page).
                result.completed = True
                return result
            if any(m in reply for m in ENDED_MARKERS):
                result.ended = True
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

    def _recorder(self, send: Send, result: ConversationResult) -> Send:
        async def say(text: str) -> str:
            for _attempt in range(self.busy_patience):
                reply = await send(text)
                result.turns += 1
                result.transcript.append((text, reply))
                result.last_reply = reply
                if not any(m in reply for m in BUSY_MARKERS):
                    return reply
                result.busy_replies += 1
                await asyncio.sleep(self.busy_retry)
            return reply
        return say


async def seed_roster(services, guardians: range) -> None:
    """Put every simulated child in the school's uploaded roster, so their applications go through."""
    entries = [{"name": g.child_name, "id_number": g.child_id, "class_name": "一(1)班"}
               for g in map(Guardian, guardians)]
    await services.roster.replace_school(SCHOOL_CODE, SCHOOL_NAME, entries, services.clock.now())


async def seed_store(store_url: str, data_dir: Path, guardians: range, records_url: str = "") -> None:
    """Seed the roster straight into a server's store (before or while it runs) with the bench data key."""
    services = bench_services(store_url, data_dir, records_url)
    try:
        await seed_roster(services, guardians)
    finally:
        await services.store.close()


def bench_services(store_url: str, data_dir: Path, records_url: str = "", serving: str = ""):
    """Services over the same store and data key as the bench servers (to seed or inspect it; with
    `serving="sole"` as `serve` itself opens a SQLite file)."""
    from bot.config import Settings
    from bot.services import build_services

    return build_services(Settings(store_url=store_url, records_url=records_url, data_dir=Path(data_dir),
                                   data_key=BENCH_DATA_KEY, now=BENCH_NOW), serving=serving)


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
