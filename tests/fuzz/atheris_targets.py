"""Coverage-guided fuzzing with atheris (libFuzzer), where it fits better than hypothesis: it watches
which lines of bot/, dialogs/ and integrations/ an input reaches and keeps mutating the inputs that
reach new ones, so it finds its own way deep into the XML path, the validators and the enrolment form.

    python -m tests.fuzz.atheris_targets xml -max_total_time=300 [corpus_dir]
    python -m tests.fuzz.atheris_targets validators -runs=200000
    python -m tests.fuzz.atheris_targets conversation -max_total_time=600

Targets (each raises — and libFuzzer reports the input — when an invariant breaks):
- xml: any request body → parse_flat_xml → to_incoming → a rendered reply that parses back. Only
  XmlRejected (hostile or malformed XML) or ValueError (a number field that is not one) may escape,
  both answered 400 by the webhook.
- validators: any text through every form check and the NLU's slot extraction (amounts, cities,
  schemes): only ValidationError, always with a Chinese sentence.
- conversation: a guardian's whole conversation through the real pipeline and router (SQLite store):
  each message is the answer the form asks for, a word from the bot's vocabulary or arbitrary text,
  as the input decides. No turn fails inside (the pipeline would answer 抱歉…系统出了点问题), every reply
  renders within WeChat's limit and shows no unmasked ID or phone number, and the session still loads.

The pytest suite runs every target for a bounded number of inputs (tests/fuzz/test_atheris.py).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import re
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["bot", "dialogs", "integrations"]):
    from bench.common import BENCH_NOW
    from bench.guardian import SCHOOL_DISTRICT, SCHOOL_KEYWORD, Guardian, bench_services, seed_roster
    from bot.components import build_router
    from bot.config import Settings
    from bot.nlu import Nlu
    from bot.pipeline import Pipeline
    from bot.turn import Incoming
    from bot.webhook import to_incoming
    from dialogs import validators as v
    from dialogs.validators import ValidationError
    from integrations.wechat.reply import TEXT_LIMIT_BYTES, render_text
    from integrations.wechat.safexml import XmlRejected, parse_flat_xml

CJK = re.compile(r"[\u4e00-\u9fff]")
# A number a reply must never show in full: an 18-digit ID or an 11-digit mobile number (links' URLs,
# with their order numbers and signatures, are left out of the check).
UNMASKED = re.compile(r"(?<![0-9A-Za-z*])(\d{17}[\dXx]|1[3-9]\d{9})(?![0-9A-Za-z])")
HREF = re.compile(r'href="[^"]*"')
FAILED_TURN = "系统出了点问题"


def xml_target(data: bytes) -> None:
    try:
        fields = parse_flat_xml(data)
    except XmlRejected:
        return
    try:
        incoming = to_incoming(fields)
    except ValueError:  # CreateTime or MsgId that is not a number
        return
    reply = parse_flat_xml(render_text(incoming.user_id or "u", incoming.account or "gh", incoming.text))
    assert len(reply["Content"].encode("utf-8")) <= TEXT_LIMIT_BYTES


TODAY = dt.date(2026, 9, 10)
CHECKS = (
    lambda t: v.check_id_number(t, today=TODAY), v.normalize_id_number, v.check_residence_permit,
    v.check_hk_macau_permit, v.check_passport, v.check_phone, v.check_bank_card, v.check_name,
    lambda t: v.check_date(t, "出生日期", today=TODAY), v.check_address, lambda t: v.check_free_text(t, "学校名称"),
)


class ValidatorsTarget:
    def __init__(self) -> None:
        settings = Settings()
        self.nlu = Nlu.load(settings.policies_dir, Path(tempfile.mkdtemp(prefix="fuzz-jieba-")))

    def __call__(self, data: bytes) -> None:
        provider = atheris.FuzzedDataProvider(data)
        text = provider.ConsumeUnicodeNoSurrogates(provider.remaining_bytes())
        for check in CHECKS:
            try:
                check(text)
            except ValidationError as exc:
                assert CJK.search(str(exc)), repr(exc)
        self.nlu.understand(text, {})


VOCABULARY = (
    "我要参保", "我要参保少儿住院互助基金", "同意", "是", "否", "1", "2", "3", "9", "上一步", "返回", "取消",
    "修改手机号", "修改姓名", "确认提交", "进度", "转人工", "再办一个", "好的", SCHOOL_DISTRICT, SCHOOL_KEYWORD,
    "联航路4号", "静安", "住院花了1万能报多少", "截止时间", "需要带什么", "北京", "宁波", "宣城", "2018-10-03", "男",
)


SCHEME_MENU = "请问要为孩子办理哪一项"
OTHER_MESSAGES = (
    *(("event", "click", key) for key in ("ENROLL", "PROGRESS", "HUMAN", "FAQ_FEE", "FAQ_REIMBURSE", "FAQ_DEADLINE",
                                         "FAQ_MATERIALS", "FAQ_CONTACTS", "UNKNOWN")),
    ("event", "subscribe", ""), ("event", "subscribe", "school:3101010001"), ("event", "scan", "school:9999"),
    ("event", "unsubscribe", ""), ("event", "view", "https://example.invalid/"), ("image", "", ""),
    ("voice", "", ""), ("location", "", ""),
)


class ConversationTarget:
    """One new guardian per input, on one store and router built once."""

    MAX_MESSAGES = 30  # an enrolment takes 17

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        directory = Path(tempfile.mkdtemp(prefix="fuzz-conversation-"))
        self.services = bench_services(f"sqlite:///{directory / 'bot.db'}", directory)
        self.pipeline = Pipeline(self.services, build_router(self.services), reply_budget=60)
        self.guardians = itertools.count()
        self.msg_ids = itertools.count(10**12)
        self.loop.run_until_complete(seed_roster(self.services, range(200)))
        assert BENCH_NOW.startswith("2026-09-10")  # the Shanghai window is open: the form can be walked

    def __call__(self, data: bytes) -> None:
        self.loop.run_until_complete(self._converse(atheris.FuzzedDataProvider(data)))

    async def _converse(self, provider: atheris.FuzzedDataProvider) -> None:
        guardian = Guardian(next(self.guardians) % 200)  # children on the roster, so the form goes deep
        user = f"o-fuzz-{next(self.msg_ids)}"
        prompt = ""
        for _ in range(self.MAX_MESSAGES):  # a message per byte or so, while the input lasts
            choice = provider.ConsumeIntInRange(0, 9)
            msg_id = str(next(self.msg_ids))
            if choice < 5 and SCHEME_MENU in prompt:  # any of the five schemes' forms
                text = str(provider.ConsumeIntInRange(1, 5))
            elif choice < 5:
                text = guardian.answer(prompt) if prompt else "我要参保"
            elif choice < 7:
                text = VOCABULARY[provider.ConsumeIntInRange(0, len(VOCABULARY) - 1)]
            else:
                text = provider.ConsumeUnicodeNoSurrogates(provider.ConsumeIntInRange(0, 300))
            incoming = Incoming(user_id=user, kind="text", text=text, msg_id=msg_id)
            if choice == 9:  # a menu click, a follow or scan with a school's QR code, a picture or a voice message
                kind, event, key = OTHER_MESSAGES[provider.ConsumeIntInRange(0, len(OTHER_MESSAGES) - 1)]
                incoming = Incoming(user_id=user, kind=kind, event=event, event_key=key, create_time=int(msg_id),
                                    msg_id="" if kind == "event" else msg_id, text="我要参保" if kind == "voice" else "")
            reply = await self.pipeline.handle(incoming)
            prompt = reply.text if reply else ""
            assert FAILED_TURN not in prompt, (text, prompt)
            sent = parse_flat_xml(render_text(user, "gh", prompt))["Content"]  # what WeChat would show
            assert len(sent.encode("utf-8")) <= TEXT_LIMIT_BYTES, prompt
            assert not UNMASKED.search(HREF.sub("", prompt)), (text, prompt)
            if not provider.remaining_bytes():
                break
        await self.pipeline.drain(5)
        assert not self.pipeline.metrics.errors, dict(self.pipeline.metrics.errors)
        await self.services.sessions.load(user)  # still decodes


TARGETS = {"xml": lambda: xml_target, "validators": ValidatorsTarget, "conversation": ConversationTarget}


def seeds(name: str) -> list[bytes]:
    """Where each target starts when no corpus is given: well-formed inputs for libFuzzer to mutate."""
    if name == "xml":
        from bot.web.simulator import build_message_xml
        messages = [build_message_xml("o-1", text="我要参保", msg_id=1),
                    build_message_xml("o-1", event="subscribe", key="qrscene_school:3101010001"),
                    build_message_xml("o-1", event="CLICK", key="ENROLL"),
                    build_message_xml("o-1", kind="image", key="http://example.invalid/p.jpg", msg_id=2),
                    "<xml><ToUserName>a</ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime>"
                    "<MsgType>voice</MsgType><MediaId>m</MediaId><Recognition>我要参保</Recognition><MsgId>3</MsgId></xml>"]
        return [m.encode() for m in messages]
    if name == "validators":
        child_id = v.generate_id_number(dt.date(2018, 10, 3), "男", seq=1)  # fictional, checksum right
        return [t.encode() for t in (child_id, "13900000001", "6222021000000000018", "张三", "2018-10-03")]
    return [bytes(64), bytes(range(256)) * 2]  # all zeros: the guardian answers every prompt


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(f"usage: python -m tests.fuzz.atheris_targets {{{','.join(TARGETS)}}} [libFuzzer options] [corpus]")
    name, args = argv[1], argv[2:]
    corpora = [Path(a) for a in args if not a.startswith("-")]
    if not corpora:  # no corpus directory: start from the seeds in a new one
        corpora = [Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))]
        args.append(str(corpora[0]))
    if corpora[0].is_dir() and not any(corpora[0].iterdir()):
        for n, seed in enumerate(seeds(name)):
            (corpora[0] / f"seed-{n}").write_bytes(seed)
    if not any(a.startswith("-max_len") for a in args):
        args.append("-max_len=4096")  # libFuzzer's default grows from a few bytes: too short for a conversation
    target = TARGETS[name]()
    atheris.Setup([argv[0], *args], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
