"""Routes a turn: events and menus, an active enrolment form, or a question for the rule engine."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from bot.answers.context import ENROLL_HINT
from bot.answers.format import clip
from bot.handoff import acknowledgement, note_follow_up, request_handoff
from bot.turn import Reply, Turn
from integrations.wechat.reply import TEXT_LIMIT_BYTES

WELCOME = (
    "您好，欢迎关注！我是少儿医保参保助手，可以帮您：\n"
    "1. 我要参保（一步步办理）\n"
    "2. 缴费标准\n"
    "3. 住院/门诊能报销多少\n"
    "4. 办理时间和截止日期\n"
    "5. 需要准备的材料\n"
    "6. 查询办理进度\n"
    "回复数字或直接用一句话提问，例如「上海三级医院住院花了1万能报多少」。"
)
MENU_CHOICES = {"1": "ENROLL", "2": "FAQ_FEE", "3": "FAQ_REIMBURSE", "4": "FAQ_DEADLINE",
                "5": "FAQ_MATERIALS", "6": "PROGRESS"}
FAQ_TOPICS = {"FAQ_FEE": "fee", "FAQ_REIMBURSE": "reimbursement", "FAQ_DEADLINE": "deadline",
              "FAQ_MATERIALS": "materials", "FAQ_CONTACTS": "contacts"}
UNSUPPORTED_TEXT = "抱歉，我暂时只能看懂文字消息。" + "\n" + WELCOME.split("\n", 1)[1]
VOICE_UNRECOGNISED = "抱歉，没听清您的语音，请用文字再说一遍，例如「我要参保」或「少儿住院互助基金交多少钱」。"
EMPTY_TEXT = "您好像发了一条空消息。请直接输入您的问题，或回复「帮助」查看我能做什么。"
STARTED_COUNTER = "stats:enrolments_started"  # read by the admin dashboard's funnel
THANKS_WORDS = {"谢谢", "谢谢你", "谢谢您", "多谢", "感谢", "好的谢谢", "好的，谢谢", "知道了", "明白了", "收到", "好的"}
THANKS_TEXT = "不客气！还有问题随时问我，或回复「帮助」查看我能做什么。"
HELP_WORDS = {"帮助", "菜单", "help", "?", "？", "功能"}
QUESTION_INTENTS_HANDLED_HERE = {"enroll", "progress", "human"}


class Router:
    def __init__(self, nlu: Any, qa: Any, dialogs: Any) -> None:
        self.nlu, self.qa, self.dialogs = nlu, qa, dialogs

    async def respond(self, turn: Turn) -> Reply:
        reply = await self._respond(turn)
        await note_follow_up(turn)  # staff see what a guardian with an open 转人工 request writes next
        return reply

    async def _respond(self, turn: Turn) -> Reply:
        incoming = turn.incoming
        await self._touch_subscriber(turn)
        if incoming.kind == "event":
            return await self._event(turn)
        if incoming.kind == "voice" and not incoming.text:
            return Reply(text=VOICE_UNRECOGNISED)
        if incoming.kind == "image" and self.dialogs.is_active(turn.session):
            return Reply(text=(await self.dialogs.handle(turn, self.nlu.understand)).text)
        if incoming.kind not in ("text", "voice"):
            return Reply(text=UNSUPPORTED_TEXT)
        return await self._text(turn)

    async def _text(self, turn: Turn) -> Reply:
        text = turn.incoming.text.strip()
        menu = turn.session.pop("menu", None)  # our numbered welcome menu applies to the next message only
        if not text and not self.dialogs.is_active(turn.session):
            return Reply(text=EMPTY_TEXT)
        if self.dialogs.is_active(turn.session):
            command = self.nlu.command(turn.incoming.text)
            if command != turn.incoming.text:  # "上一部" typed or heard for 上一步: the form reads commands as they are
                turn.incoming.text = text = command
            result = await self.dialogs.handle(turn, self.nlu.understand)
            if result.digression:
                answer_text = await self._digression(turn, text)
                if not result.text:  # no form to come back to (one that just ended): a plain answer
                    return Reply(text=answer_text)
                answer_text = answer_text.replace(ENROLL_HINT, "").rstrip()  # they are enrolling already
                return Reply(text=f"{fit_before(answer_text, result.text)}\n\n{result.text}")
            return Reply(text=result.text)
        if text.lower() in HELP_WORDS:
            return self._welcome(turn)
        if text.strip("!！。.~～ ") in THANKS_WORDS or self.nlu.read(text)[0].strip("!！。.~～ ") in THANKS_WORDS:
            return Reply(text=THANKS_TEXT)  # "谢谢！！", and "thanks" / "Thank you!" read as 谢谢
        if menu == "welcome" and re.fullmatch(r"[1-6]", text):
            return await self._menu_key(turn, MENU_CHOICES[text])
        understanding = self.nlu.understand(text, turn.session.get("qa"))
        if understanding.intent == "enroll":
            return Reply(text=await self._start_form(turn, understanding.slots.get("scheme"),
                                                     self._schemes_in(understanding.slots.get("city"))))
        if understanding.intent == "progress" and (len(text) <= 6 or await self._has_applications(turn)):
            return Reply(text=await self.dialogs.progress(turn))
        if understanding.intent == "human":
            return Reply(text=await self._handoff(turn, text))
        paying = await self.dialogs.payment_answer(turn, text)
        if paying:  # "怎么付款" from a guardian with an open order: their own link, not the app's steps
            return Reply(text=paying)
        answer = self.qa.answer(text, turn.session.setdefault("qa", {}), turn.now, understanding=understanding)
        return Reply(text=answer.text)

    async def _digression(self, turn: Turn, text: str) -> str:
        """A question asked while a form is open or just after one: "我的申请审核通过了吗" / "预审没通过怎么办"
        from a guardian with applications is about theirs (with the reason of a refusal), not the procedure."""
        qa_state = turn.session.setdefault("qa", {})
        paying = await self.dialogs.payment_answer(turn, text)
        if paying:
            return paying
        understanding = self.nlu.understand(text, qa_state)
        if understanding.intent == "progress" and await turn.services.applications.for_user(turn.user_id):
            return await self.dialogs.progress(turn)
        if understanding.intent == "human":  # "我想找工作人员问问" mid-form is a request too, not only 转人工
            return await self._handoff(turn, text)
        return self.qa.answer(text, qa_state, turn.now, understanding=understanding).text

    async def _event(self, turn: Turn) -> Reply:
        incoming = turn.incoming
        if incoming.event == "subscribe":
            await self._remember_scene(turn)
            return self._welcome(turn)
        if incoming.event == "unsubscribe":
            await turn.services.subscribers.touch(incoming.user_id, turn.now, subscribed=False)
            return Reply()
        if incoming.event == "scan":
            school = await self._remember_scene(turn)
            if school:
                return Reply(text=f"已为您记下学校：{school}。回复「我要参保」开始办理，办理时会为您预选该学校。")
            return self._welcome(turn)
        if incoming.event == "click":
            return await self._menu_key(turn, incoming.event_key)
        return Reply()  # VIEW and other events need no answer

    async def _menu_key(self, turn: Turn, key: str) -> Reply:
        if key == "ENROLL":
            return Reply(text=await self._start_form(turn, None))
        if key == "PROGRESS":
            return Reply(text=await self.dialogs.progress(turn))
        if key == "HUMAN":
            return Reply(text=await self._handoff(turn, "菜单：人工客服"))
        if key in FAQ_TOPICS:
            return Reply(text=self.qa.answer_topic(FAQ_TOPICS[key], turn.session.setdefault("qa", {}), turn.now).text)
        return self._welcome(turn)

    @staticmethod
    def _welcome(turn: Turn) -> Reply:
        turn.session["menu"] = "welcome"
        return Reply(text=WELCOME)

    async def _has_applications(self, turn: Turn) -> bool:
        """Progress questions from a guardian with nothing submitted ("预审结果多久能收到？") are about
        the procedure in general: the rule engine answers them instead of an empty status list
        (a bare command such as 「进度」 always shows the guardian's own list)."""
        return bool(await turn.services.applications.for_user(turn.user_id)) or self.dialogs.is_active(turn.session)

    def _schemes_in(self, city: str | None) -> list[str]:
        """The schemes of the city the guardian named ("我要给孩子办宁波的医保")."""
        engine = self.qa.engine
        return [s for s in engine.scheme_ids if city and engine.pack(s).city == city]

    async def _start_form(self, turn: Turn, scheme: str | None, among: list[str] | None = None) -> str:
        """Start an enrolment; forms started are counted for the admin funnel's first stage."""
        was_active = self.dialogs.is_active(turn.session)
        reply = await self.dialogs.start(turn, scheme, among)
        if not was_active and self.dialogs.is_active(turn.session):
            await turn.services.store.incr(STARTED_COUNTER)
        return reply.text

    async def _remember_scene(self, turn: Turn) -> str:
        """A school's poster QR code carries `school:<code>`: remember it for the school step."""
        key = turn.incoming.event_key or ""
        if not key.startswith("school:"):
            return ""
        code = key.split(":", 1)[1][:32]
        turn.session["scene_school"] = code
        await turn.services.subscribers.touch(turn.user_id, turn.now, school_code=code)
        lookup = getattr(self.dialogs, "school_name", None)
        return (lookup(code) if lookup else "") or code

    async def _handoff(self, turn: Turn, text: str) -> str:
        await request_handoff(turn, text)
        return acknowledgement(turn.services.settings) + "您也可以继续向我提问。"

    async def _touch_subscriber(self, turn: Turn) -> None:
        """Last interaction time opens WeChat's 48-hour customer-service window."""
        last = turn.session.get("touched_at")
        now = turn.now
        fields: dict[str, Any] = {}
        if turn.incoming.kind == "event" and turn.incoming.event == "subscribe":
            fields["subscribed"] = True
        elif last and now - dt.datetime.fromisoformat(last) < dt.timedelta(minutes=10):
            return  # one write per ten minutes is precise enough for a 48-hour window
        await turn.services.subscribers.touch(turn.user_id, now, **fields)
        turn.session["touched_at"] = now.isoformat(timespec="seconds")
        turn.interaction_recorded = True


def fit_before(answer: str, resume: str) -> str:
    """Shorten a digression's answer (by whole lines) so the form's resume prompt after it is never cut."""
    room = TEXT_LIMIT_BYTES - len(resume.encode("utf-8")) - 8
    if len(answer.encode("utf-8")) <= room:
        return answer
    return clip(answer, limit=max(room // 3, 60))  # CJK characters take three bytes
