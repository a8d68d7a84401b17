"""EnrollmentDialogs: guides a guardian, one short question at a time, from "我要参保" to a
submitted application, for every scheme that has a form in `policies/forms/`.

Per guardian only a small dict lives in `turn.session["enroll"]`:
  form     the form in progress: scheme, state (step id), slots, history, fails, editing, …
  choosing waiting for the guardian to pick a scheme
  reminder waiting for "提醒我" after an out-of-window start
  after    one message after a submission ("再办一个")
  last     guardian details of the last submission (prefill for the next child)
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from bot.privacy import redact
from bot.store.base import LockTimeout, StoreError, VersionConflict
from bot.handoff import acknowledgement, request_handoff
from bot.store.repos import (AWAITING_PAYMENT, AWAITING_VERIFICATION, PRE_APPROVED, STATUS_LABELS, SUBMITTED,
                             DuplicateApplication)
from dialogs import fields, hooks, render, submission
from dialogs.forms import (FormMachine, FormModel, FormSpec, Step, copy_json, get_slot, holds, load_forms,
                           set_slot)
from dialogs.ports import LocalSubmitter, Submitter
from dialogs.schools import DEFAULT_FILE, SchoolDirectory, district_in, district_of, district_of_region
from dialogs.validators import (MAX_INPUT, ValidationError, age_on, check_free_text, looks_like_sentence, normalize,
                                parse_agreement, parse_yes_no, yes_no_and_rest)

log = logging.getLogger(__name__)

RESUME_AFTER = dt.timedelta(minutes=30)  # idle this long → "上次办到…，继续吗？"
DROP_AFTER = dt.timedelta(days=7)  # idle this long → the draft is dropped
MAX_FAILS = 3
MAX_HOPS = 60  # guard against a form whose branches loop

CANCEL = {"取消", "取消办理", "退出", "不办了", "退出办理"}
RESTART = {"重新开始", "重来", "重新填写", "从头开始"}
BACK = {"上一步", "返回", "返回上一步", "上一个"}
HUMAN = {"转人工", "人工", "人工客服", "找人工", "人工服务"}
PROGRESS = {"进度", "办件进度", "查进度", "查询进度", "申请进度"}
ENDED_HINT = "如果刚才选错或填错了，回复“上一步”返回修改，已填写的信息都还在。"
AGAIN = {"再办一个", "再办一份", "再给一个孩子办", "再办一个孩子", "继续办下一个"}
CONTINUE = {"继续", "继续办理", "接着办", "是", "好", "好的", "继续吧"}
# Coming back to an open form ("我回来了，继续", "你好"): the current question again, never an answer to it.
RESUME = {"我回来了", "我回来了继续", "回来了", "继续", "继续办理", "接着办", "继续吧", "我要继续", "你好", "您好", "在吗",
          "在不在", "hi", "hello", "哈喽", "我回来了继续办理", "继续填", "接着填"}
REMIND = {"提醒我", "提醒", "订阅提醒", "要提醒", "好的提醒我"}
QUESTION_MARKERS = ("吗", "多少", "怎么", "?", "？", "什么", "哪", "能不能", "可不可以", "为什么", "如何", "几时", "呢")
NOT_QUESTIONS = {"enroll", "greeting", "unclear", "out_of_scope", "help", "human", "progress"}
ENROLL_KEY = "enroll"
# "怎么付款" / "去缴费": asked by a guardian with an application, it is about their own payment.
PAY_QUESTIONS = ("怎么付款", "怎么缴费", "怎么交费", "怎么交钱", "怎么支付", "怎么付钱", "如何缴费", "如何支付", "去缴费",
                 "去支付", "去付款", "在哪缴费", "在哪里缴费", "在哪交", "哪里交钱", "哪里缴费", "缴费链接", "支付链接",
                 "付款链接", "我要缴费", "我要付款", "要去哪里交")
PAYABLE = (SUBMITTED, PRE_APPROVED, AWAITING_PAYMENT, AWAITING_VERIFICATION)
FREE_TEXT_STEPS = {"name", "address", "text", "school"}  # steps where a question could pass validation


def _bare(text: str) -> str:
    return re.sub(r"[\s,，.。!！~～、…]", "", text).lower()


def _plainly_a_question(text: str) -> bool:
    return text.endswith(("吗", "呢", "？", "?")) or any(w in text for w in ("多少", "怎么", "为什么", "能不能"))


# "不知道哪个学校，幼儿园叫阳光幼儿园" / "孩子在北京东路小学读书": the school's name inside a sentence.
_SCHOOL_IN_SENTENCE = re.compile(r"(?:叫|是|在|读|上)((?:[\u4e00-\u9fff]{2,16}?)(?:幼儿园|托儿所|小学|中学|学校|学院))")


def _school_named_in(text: str) -> str:
    """The school a sentence names after 叫/是/在/读/上, else the text as typed."""
    found = _SCHOOL_IN_SENTENCE.findall(text)
    return found[-1] if found and len(text) > len(found[-1]) + 1 else text


def _scene_question(school: str) -> str:
    return (f"您是扫描“{school}”的二维码进入的。孩子的参保单位是这所学校吗？\n"
            f"请回复：{fields.menu_link('是', 1)} / {fields.menu_link('否', 2)}")


def _proposal_question(step: Step, slots: dict[str, Any], proposal: str) -> str:
    return (render.fill(step.params.get("propose_prompt", "是{proposal}吗？"), {**slots, "proposal": proposal})
            + f"\n请回复：{fields.menu_link('是', 1)} / {fields.menu_link('否', 2)}（在其他区请直接回复区名）")


@dataclass
class DialogReply:
    text: str
    digression: bool = False


class EnrollmentDialogs:
    def __init__(self, engine: Any, policies_dir: Path, submitter: Submitter | None = None) -> None:
        self.engine = engine
        self.forms: dict[str, FormSpec] = load_forms(Path(policies_dir) / "forms")
        # One machine per form, built here once and shared by every guardian.
        self.machines: dict[str, FormMachine] = {s: FormMachine(spec) for s, spec in self.forms.items()}
        self.schools = SchoolDirectory.load(Path(policies_dir) / "schools" / DEFAULT_FILE)
        self.submitter: Submitter = submitter or LocalSubmitter()

    # ---- public API ---------------------------------------------------------------------------

    def is_active(self, session: dict) -> bool:
        state = session.get(ENROLL_KEY) or {}
        return any(state.get(k) for k in ("form", "choosing", "reminder", "after", "ended"))

    def school_name(self, code: str) -> str:
        """Name of a school in the directory ("" when unknown): the router greets QR-code scans with it."""
        school = self.schools.get(code)
        return school.name if school else ""

    @property
    def scheme_ids(self) -> list[str]:
        known = set(getattr(self.engine, "scheme_ids", []) or self.forms)
        ordered = sorted(self.forms, key=lambda s: (self.forms[s].settings.get("menu_order", 99), s))
        return [s for s in ordered if s in known] or ordered

    async def start(self, turn: Any, scheme: str | None, among: list[str] | None = None) -> DialogReply:
        """`among`: the schemes the guardian's words leave ("办宁波的医保": the city's), when none is named."""
        state = turn.session.setdefault(ENROLL_KEY, {})
        state.pop("after", None)
        state.pop("ended", None)
        form = state.get("form")
        if form and form["scheme"] in self.forms:
            spec = self.forms[form["scheme"]]
            step = spec.step(form["state"])
            return DialogReply(f"您正在办理{spec.title}，我们接着上次的进度继续（如要改办其他项目，请先回复“取消”）。\n"
                               + await self._enter(turn, form, step))
        last = state.get("last") or {}
        if scheme is None and normalize(turn.text) in AGAIN and last.get("scheme") in self.forms:
            return await self._open(turn, last["scheme"], prefill=True)
        known = self.scheme_ids
        among = [s for s in among or [] if s in known]
        if scheme not in self.forms and len(among) == 1:
            scheme = among[0]  # the city's only scheme: its 办理须知 and first questions say whom it is for
        if scheme not in self.forms:
            state["choosing"] = 1
            if among:
                state["among"] = among
            return DialogReply(self._scheme_menu(unknown=scheme, among=among))
        return await self._open(turn, scheme)

    async def handle(self, turn: Any, understand: Callable[[str], Any]) -> DialogReply:
        state = turn.session.setdefault(ENROLL_KEY, {})
        snapshot = copy_json(state)
        text = normalize(turn.text) if turn.incoming.kind in ("text", "voice", "event") else ""
        try:
            reply = await self._dispatch(turn, state, text, understand)
        except (StoreError, VersionConflict, LockTimeout):
            raise  # infrastructure: the pipeline answers 系统繁忙 and the turn is retried
        except Exception:  # a bug must not lose the guardian's form: keep it as it was before this message
            log.exception("enrollment dialog failed; state restored")
            turn.session[ENROLL_KEY] = snapshot
            return DialogReply("抱歉，刚才这条消息没有处理好，已填写的信息都还在。请再发一次，或回复“转人工”。")
        if not any(state.get(k) for k in ("form", "choosing", "reminder", "after", "ended", "last")):
            turn.session.pop(ENROLL_KEY, None)
        return reply

    async def _dispatch(self, turn: Any, state: dict, text: str, understand: Callable) -> DialogReply:
        if text in PROGRESS:
            return DialogReply(await self.progress(turn) + self._resume_hint(state))
        if text in HUMAN:
            return await self._handoff(turn)
        if state.get("reminder"):
            return await self._handle_reminder(turn, state, text)
        if state.get("choosing"):
            return await self._handle_choice(turn, state, text, understand)
        if state.get("form"):
            return await self._handle_form(turn, state, text, understand)
        if state.get("after"):
            return await self._handle_after(turn, state, text, understand)
        if state.get("ended"):
            return await self._handle_ended(turn, state, text, understand)
        return DialogReply("", digression=True)

    async def progress(self, turn: Any) -> str:
        apps = await turn.services.applications.for_user(turn.user_id)
        lines = []
        for index, app in enumerate(sorted(apps, key=lambda a: a.get("created_at", "")), start=1):
            child = (app.get("child") or {}).get("name", "")
            label = STATUS_LABELS.get(app.get("status", ""), app.get("status", ""))
            when = (app.get("updated_at") or app.get("created_at") or "")[:10]
            lines.append(f"{index}. {child}（{self._title(app.get('scheme', ''))}）：{label}，更新于{when}")
            note = await self.submitter.progress_note(app)
            if note:
                lines.append(f"   {note}")
        form = (turn.session.get(ENROLL_KEY) or {}).get("form")
        if form and form["scheme"] in self.forms:
            spec = self.forms[form["scheme"]]
            lines.append(f"正在填写：{spec.title}，办到“{self._step_label(spec.step(form['state']))}”。")
        if not lines:
            return "您还没有提交过参保申请。回复“我要参保”开始办理。"
        return "您的参保申请进度：\n" + "\n".join(lines)

    async def payment_answer(self, turn: Any, text: str) -> str | None:
        """A payment question ("怎么付款", "去缴费") answered with the channel this guardian really has: their
        own open order's link and deadline, their scheme's own channel, or where a claimed exemption stands.
        None when it is not a payment question, or nothing of the guardian's says how they pay."""
        if not any(word in normalize(text) for word in PAY_QUESTIONS):
            return None
        lines = []
        apps = [a for a in await turn.services.applications.for_user(turn.user_id) if a.get("status") in PAYABLE]
        for app in sorted(apps, key=lambda a: a.get("created_at", "")):
            note = await self.submitter.progress_note(app)
            if note:
                child = (app.get("child") or {}).get("name", "孩子")
                lines.append(f"{child}（{self._title(app.get('scheme', ''))}，编号 {app['id']}）：{note}")
        if lines:
            return "您的缴费：\n" + "\n".join(lines)
        form = (turn.session.get(ENROLL_KEY) or {}).get("form") or {}
        scheme = form.get("scheme")
        if scheme not in self.forms:
            return None
        try:
            channel, how = self.engine.payment_channel(scheme)
        except Exception:
            return None
        if channel == "external":
            return f"{self._title(scheme)}的缴费方式：{how}"
        return (f"{self._title(scheme)}现在还不用缴费：提交申请、预审通过后，我们会把缴费链接和缴费期限发给您，"
                "在链接里缴费即可。")

    # ---- starting ------------------------------------------------------------------------------

    def _title(self, scheme: str) -> str:
        if scheme in self.forms:
            return self.forms[scheme].title
        try:
            return self.engine.pack(scheme).name
        except Exception:
            return scheme

    def _scheme_menu(self, unknown: str | None = None, among: list[str] | None = None) -> str:
        head = "暂不支持在线办理这个项目。" if unknown else ""
        return (f"{head}请问要为孩子办理哪一项？\n" + fields.numbered([self._title(s) for s in among or self.scheme_ids])
                + "\n回复数字或点选。")

    async def _handle_choice(self, turn: Any, state: dict, text: str, understand: Callable) -> DialogReply:
        if text in CANCEL:
            state.pop("choosing", None)
            state.pop("among", None)
            return DialogReply("好的，已退出办理。需要时回复“我要参保”。")
        known = self.scheme_ids
        among = [s for s in state.get("among") or [] if s in known]
        schemes = among or known
        number = fields.pick_number(text)
        scheme = schemes[number - 1] if number and 1 <= number <= len(schemes) else None
        if scheme is None:
            scheme = next((s for s in schemes if text and (text in self._title(s) or self._title(s) in text)), None)
        if scheme is None:
            finder = getattr(self.engine, "find_scheme", None)
            found = finder(text) if finder and text else None
            scheme = found if found in schemes else None
        if scheme is None:
            if self._looks_like_question(text, understand):
                return DialogReply("我们继续：请回复要办理项目前的数字。", digression=True)
            state["choosing"] = int(state["choosing"]) + 1
            if state["choosing"] > MAX_FAILS:  # not choosing after all: let the router answer it
                state.pop("choosing", None)
                state.pop("among", None)
                return DialogReply("需要办理时，回复“我要参保”。", digression=True)
            return DialogReply("请回复项目前的数字（1到%d）。\n" % len(schemes) + self._scheme_menu(among=among))
        return await self._open(turn, scheme)

    async def _open(self, turn: Any, scheme: str, prefill: bool = False) -> DialogReply:
        state = turn.session.setdefault(ENROLL_KEY, {})
        state.pop("choosing", None)
        state.pop("among", None)
        spec = self.forms[scheme]
        closed = self._window_closed(scheme, turn.now)
        if closed:
            return self._offer_reminder(state, scheme, closed)
        slots: dict[str, Any] = {}
        last = state.get("last") or {}
        if prefill and last.get("scheme") == scheme:
            slots = copy_json(last.get("slots") or {})
        for path, value in (spec.settings.get("defaults") or {}).items():
            set_slot(slots, path, value)
        form = {"scheme": scheme, "state": spec.first, "slots": slots, "history": [], "fails": 0,
                "editing": prefill, "updated_at": turn.now.isoformat()}
        state["form"] = form
        head = f"好的，开始办理{spec.title}。"
        if prefill:
            head += "已沿用上一个孩子的监护人信息，最后可在确认页修改。"
        head += "每次只问一个问题，可随时回复“上一步”“取消”“转人工”，中途有疑问也可以直接问。\n\n"
        return DialogReply(head + await self._enter(turn, form, spec.step(spec.first)))

    @staticmethod
    def _offer_reminder(state: dict, scheme: str, head: str) -> DialogReply:
        state["reminder"] = scheme
        return DialogReply(f"{head}\n需要在开始办理时提醒您吗？请回复 {fields.menu_link('提醒我', 1)} 或 "
                           f"{fields.menu_link('不用', 2)}。")

    def _window_closed(self, scheme: str, now: dt.datetime) -> str | None:
        try:
            info = self.engine.windows(scheme, now)
        except Exception:
            log.exception("windows failed for %s", scheme)
            return None
        if info.current is None and info.next is not None:
            return info.explanation
        return None

    async def _handle_reminder(self, turn: Any, state: dict, text: str) -> DialogReply:
        scheme = state.pop("reminder")
        if text in REMIND or parse_agreement(text):
            await turn.services.subscribers.touch(turn.user_id, turn.now, add={"reminders": scheme})
            return DialogReply(f"好的，{self._title(scheme)}开始办理时会发消息提醒您。")
        if parse_agreement(text) is False or text in CANCEL:
            return DialogReply("好的，不提醒了。需要时回复“我要参保”。")
        return DialogReply("到了办理时间，回复“我要参保”即可开始。", digression=True)

    async def _handle_after(self, turn: Any, state: dict, text: str, understand: Callable) -> DialogReply:
        state.pop("after", None)
        if text in AGAIN and (state.get("last") or {}).get("scheme") in self.forms:
            return await self._open(turn, state["last"]["scheme"], prefill=True)
        return await self._start_if_asked(turn, text, understand) or DialogReply(
            "如需为其他孩子办理，回复“再办一个”。", digression=True)

    async def _start_if_asked(self, turn: Any, text: str, understand: Callable) -> DialogReply | None:
        """"我要参保…" said where no form is open: the start of a new one (None for anything else)."""
        understood = self._understand(understand, text)
        if getattr(understood, "intent", "") == "enroll":
            return await self.start(turn, (getattr(understood, "slots", None) or {}).get("scheme"))
        return None

    async def _handle_ended(self, turn: Any, state: dict, text: str, understand: Callable) -> DialogReply:
        """The message right after a form ended at a dead end (a school without the child on its roster,
        an answer that rules the child out): 上一步 or 修改… reopens it with everything filled in, since
        the answer that ended it may simply have been a slip (the wrong school picked from a list)."""
        form = state.pop("ended")
        if form.get("scheme") in self.forms and (text in BACK or text.startswith(("修改", "更改"))):
            state["form"] = form
            return await self._command(turn, state, form, self.forms[form["scheme"]], text)
        return await self._start_if_asked(turn, text, understand) or DialogReply("", digression=True)

    def _resume_hint(self, state: dict) -> str:
        form = state.get("form")
        if not form or form["scheme"] not in self.forms:
            return ""
        spec = self.forms[form["scheme"]]
        return "\n\n我们继续：" + self._resume_prompt(spec, spec.step(form["state"]), form)

    async def _handoff(self, turn: Any) -> DialogReply:
        form = (turn.session.get(ENROLL_KEY) or {}).get("form")
        await request_handoff(turn, turn.text, source="enrollment", scheme=form["scheme"] if form else "",
                              step=form["state"] if form else "")
        text = acknowledgement(turn.services.settings)
        if form:
            text += "已填写的信息都保留着。" + self._resume_hint(turn.session.get(ENROLL_KEY) or {})
        return DialogReply(text)

    # ---- the form ------------------------------------------------------------------------------

    async def _handle_form(self, turn: Any, state: dict, text: str, understand: Callable) -> DialogReply:
        form = state["form"]
        spec = self.forms.get(form["scheme"])
        if spec is None or not spec.has(form["state"]):  # the form changed under a draft
            state.pop("form", None)
            return DialogReply("办理流程已更新，请回复“我要参保”重新开始，给您带来不便请谅解。")
        idle = turn.now - dt.datetime.fromisoformat(form.get("updated_at") or turn.now.isoformat())
        if idle > DROP_AFTER:
            state.pop("form", None)
            return DialogReply("您上次未完成的参保申请已超过7天，已清除。需要时回复“我要参保”重新办理。",
                               digression=True)
        form["updated_at"] = turn.now.isoformat()
        command = await self._command(turn, state, form, spec, text)
        if command is not None:
            return command
        if idle > RESUME_AFTER and not form.get("resuming"):
            form["resuming"] = True
            return DialogReply(self._resume_text(spec, form))
        step = spec.step(form["state"])
        if form.pop("resuming", False):
            if text in CONTINUE or _bare(text) in RESUME:
                return DialogReply(await self._enter(turn, form, step))
            if parse_agreement(text) is False:
                state.pop("form", None)
                return DialogReply("好的，上次未完成的申请已放弃。需要时回复“我要参保”重新开始。")
        if _bare(text) in RESUME and not (step.type == "consent" and parse_agreement(text)):
            # "继续办理" to 办理须知's "继续办理吗？" agrees; anywhere else it only brings the question back.
            return DialogReply("好的，我们继续。\n" + await self._enter(turn, form, step))
        return await self._answer(turn, form, spec, text, understand)

    def _resume_text(self, spec: FormSpec, form: dict) -> str:
        step = spec.step(form["state"])
        filled = render.summary_lines(spec, form["slots"])[:4]
        done = ("，已填写：" + "；".join(filled)) if filled else ""
        return (f"您上次办理{spec.title}，办到“{self._step_label(step)}”{done}。继续吗？\n"
                f"回复 {fields.menu_link('继续', 1)} 接着办，回复 {fields.menu_link('取消', 2)} 放弃。")

    @staticmethod
    def _step_label(step: Step) -> str:
        return step.label or step.id

    async def _command(self, turn: Any, state: dict, form: dict, spec: FormSpec, text: str) -> DialogReply | None:
        machine = self.machines[spec.scheme]
        if text in CANCEL:
            state.pop("form", None)
            return DialogReply("已取消本次办理，填写的信息已清除。需要时回复“我要参保”重新开始。")
        if text in RESTART:
            state.pop("form", None)
            return await self._open(turn, spec.scheme)
        if text in BACK:
            while form["history"] and not spec.has(form["history"][-1]):
                form["history"].pop()  # steps removed by a form change since the draft was saved
            if not form["history"]:
                return DialogReply("已经是第一步了。\n" + await self._enter(turn, form, spec.step(form["state"])))
            model = FormModel(form)
            machine.goto(model, form["history"].pop())
            form["state"], form["fails"] = model.state, 0
            form.pop("pending", None)
            return DialogReply(await self._enter(turn, form, spec.step(model.state), show_current=True))
        if text.startswith("修改") or text.startswith("更改"):
            return await self._modify(turn, form, spec, text[2:].strip())
        return None

    async def _modify(self, turn: Any, form: dict, spec: FormSpec, what: str) -> DialogReply:
        editable = [s for s in spec.steps if s.editable and holds(s.when, form["slots"])
                    and get_slot(form["slots"], s.slot) is not None]
        target = None
        if what:
            target = next((s for s in editable if what in (s.label, *s.aliases)), None) or next(
                (s for s in editable if what in s.label or any(a in what for a in (s.label, *s.aliases) if a)), None)
        if target is None:
            labels = "、".join(dict.fromkeys(s.label for s in editable if s.label))
            if not labels:
                return DialogReply("还没有可以修改的内容。\n" + await self._enter(turn, form, spec.step(form["state"])))
            return DialogReply(f"请回复“修改+项目”，可以修改：{labels}。")
        model = FormModel(form)
        form["history"].append(model.state)
        self.machines[spec.scheme].goto(model, target.id)
        form.update(state=model.state, fails=0, editing=True)
        form.pop("pending", None)
        return DialogReply(await self._enter(turn, form, target, show_current=True))

    async def _answer(self, turn: Any, form: dict, spec: FormSpec, text: str, understand: Callable) -> DialogReply:
        step = spec.step(form["state"])
        kind = turn.incoming.kind
        if step.type == "image":
            if kind == "image":
                reply = await self._accept(turn, form, spec, step, {step.slot: {
                    "media_id": turn.incoming.media_id, "pic_url": turn.incoming.pic_url}})
                return DialogReply(f"已收到{step.label or '图片'}。\n{reply.text}", reply.digression)
            return await self._reject(turn, form, spec, step, text, understand, ValidationError(
                f"这一步需要您直接发送{step.label}（点输入框旁的“+”，选择“照片”或“拍摄”）。"))
        if kind == "image":
            return await self._reject(turn, form, spec, step, "", understand,
                                      ValidationError("这一步不需要图片，请用文字回复。"))
        if kind not in ("text", "voice"):
            return await self._reject(turn, form, spec, step, "", understand,
                                      ValidationError("我只能读懂文字消息，请用文字回复。"))
        if step.type in FREE_TEXT_STEPS and _plainly_a_question(text) and len(text) <= MAX_INPUT:
            # "北京东路小学在哪个区？" would pass as a school name or an address: answer it instead.
            return await self._digress(turn, form, spec, step)
        if step.type == "name" and looks_like_sentence(text) and len(text) <= MAX_INPUT:
            # "什么意思", "I don't understand" are not names: answered, then the name is asked again.
            return await self._digress(turn, form, spec, step)
        if step.type == "confirm":
            return await self._confirm(turn, form, spec, step, text, understand)
        if form.get("scene_pending") and step.type in ("district", "school"):
            answer = parse_yes_no(text)
            code = form.pop("scene_pending")
            school = self.schools.get(code)
            if answer and school:
                form["slots"][step.slot if step.type == "district" else "school_district"] = school.district
                return await self._choose_school(turn, form, spec, school, via_scene=step.type == "district")
            if answer is False:
                return DialogReply(await self._enter(turn, form, step))
        if step.type == "school":
            return await self._school(turn, form, spec, step, text, understand)
        if step.type == "district" and form.get("proposal"):
            return await self._answer_proposal(turn, form, spec, step, text, understand)
        try:
            updates = fields.parse(step, text, form["slots"], turn.now.date())
        except ValidationError as err:
            return await self._reject(turn, form, spec, step, text, understand, err)
        if step.type == "derived_confirm" and not updates[step.slot]:
            hooks.clear(form["slots"], step.clears)
            model = FormModel(form)
            self.machines[spec.scheme].goto(model, step.params["back_to"])
            form["state"] = model.state
            return DialogReply("好的，请重新输入。\n" + await self._enter(turn, form, spec.step(model.state)))
        return await self._accept(turn, form, spec, step, updates, text=text, understand=understand)

    async def _answer_proposal(self, turn: Any, form: dict, spec: FormSpec, step: Step, text: str,
                               understand: Callable) -> DialogReply:
        """The district proposed from the address or the ID's area code: 是 takes it (with what a confirmed
        Shanghai district says, e.g. 上海户籍人员: `on_confirm`), another district's name takes that one, 否
        asks the plain question."""
        answer, rest = yes_no_and_rest(text)
        if answer is False:
            rest = re.sub(r"^(?:户籍|户口)?(?:在|是|属于)", "", rest.strip())
            try:  # "不是，在静安区": the district said after the no
                named = fields.parse(step, rest, form["slots"], turn.now.date())[step.slot] if rest else None
            except ValidationError:
                named = None
            if named and named != form.get("proposal"):
                return await self._accept(turn, form, spec, step, {step.slot: named, **(step.params.get("on_confirm") or {})},
                                          text=text, understand=understand)
            form.pop("proposal", None)
            form["proposal_declined"] = True
            return DialogReply("好的。" + render.prompt(step, form["slots"]))
        try:
            district = form["proposal"] if answer else fields.parse(step, text, form["slots"], turn.now.date())[step.slot]
        except ValidationError:
            return await self._reject(turn, form, spec, step, text, understand, ValidationError(
                "请回复“是”或“否”，户籍在其他区请直接回复区名。"))
        return await self._accept(turn, form, spec, step, {step.slot: district, **(step.params.get("on_confirm") or {})},
                                  text=text, understand=understand)

    async def _accept(self, turn: Any, form: dict, spec: FormSpec, step: Step, updates: dict[str, Any],
                      text: str = "", understand: Callable | None = None) -> DialogReply:
        """Validate the new values with the step's checks, store them, and move on."""
        slots = copy_json(form["slots"])
        if any(get_slot(slots, path) not in (None, value) for path, value in updates.items()):
            hooks.clear(slots, step.clears)
        for path, value in updates.items():
            set_slot(slots, path, value)
        try:
            await hooks.run(step.checks, self._ctx(turn, spec, slots))
        except ValidationError as err:
            return await self._reject(turn, form, spec, step, text, understand, err)
        form["slots"] = slots
        return await self._advance(turn, form, spec)

    async def _reject(self, turn: Any, form: dict, spec: FormSpec, step: Step, text: str,
                      understand: Callable | None, err: ValidationError) -> DialogReply:
        if understand is not None and self._looks_like_question(text, understand):
            return await self._digress(turn, form, spec, step)
        form["fails"] = form.get("fails", 0) + 1
        message = err.message
        block = render.options_block(step)
        if block and step.type in ("choice", "district", "yes_no", "derived_confirm"):
            message += "\n" + block
        if form["fails"] >= MAX_FAILS:
            message += ("\n\n这一步好像不太顺利。需要帮助可回复“转人工”，工作人员会联系您；"
                        "也可以回复“上一步”检查前面的内容。已填写的信息都会保留。")
        return DialogReply(message)

    async def _digress(self, turn: Any, form: dict, spec: FormSpec, step: Step) -> DialogReply:
        """The router answers the question (for this form's scheme), then appends our resume prompt."""
        self._remember_scheme_for_answers(turn, spec.scheme)
        return DialogReply("我们继续：" + self._resume_prompt(spec, step, form), digression=True)

    def _resume_prompt(self, spec: FormSpec, step: Step, form: dict) -> str:
        """The question to come back to after a digression, complete and the one the next answer goes to:
        the 确认 page whole (its question line alone would be an empty "请核对："), a pending proposal or
        QR-code school as the yes/no it is."""
        slots = form["slots"]
        if step.type == "confirm":
            return render.confirmation(spec, step, slots)
        school = self.schools.get(form.get("scene_pending") or "")
        if school:
            return _scene_question(school.name)
        if step.type == "district" and form.get("proposal"):
            return _proposal_question(step, slots, form["proposal"])
        return render.short_prompt(step, slots)

    def _remember_scheme_for_answers(self, turn: Any, scheme: str) -> None:
        """A question asked mid-form is about that form's scheme: tell the answerer (its context is
        `session["qa"]`, where it remembers the scheme and city of the conversation)."""
        qa = turn.session.setdefault("qa", {})
        qa["scheme"] = scheme
        birth = get_slot(((turn.session.get(ENROLL_KEY) or {}).get("form") or {}).get("slots") or {}, "child.birth_date")
        if birth:  # "交多少钱" mid-form: the child's age is known, the answer need not ask for it
            qa["child"] = {**(qa.get("child") or {}), "age": age_on(dt.date.fromisoformat(birth), turn.now.date())}
        try:
            qa["city"] = self.engine.pack(scheme).city
        except Exception:
            qa.pop("city", None)

    def _looks_like_question(self, text: str, understand: Callable) -> bool:
        if not text or len(text) > MAX_INPUT or len(text) < 2:
            return False
        if any(marker in text for marker in QUESTION_MARKERS):
            return True
        understood = self._understand(understand, text)
        intent = getattr(understood, "intent", "") or ""
        confidence = float(getattr(understood, "confidence", 0.0) or 0.0)
        return bool(intent) and intent not in NOT_QUESTIONS and confidence >= 0.6

    @staticmethod
    def _understand(understand: Callable, text: str) -> Any:
        if not text:
            return None
        try:
            return understand(text)
        except Exception:
            log.exception("understand failed inside a dialog")
            return None

    async def _advance(self, turn: Any, form: dict, spec: FormSpec) -> DialogReply:
        machine = self.machines[spec.scheme]
        model = FormModel(form)
        form["fails"] = 0
        for key in ("pending", "proposal", "proposal_declined"):
            form.pop(key, None)
        for _hop in range(MAX_HOPS):
            form["history"].append(model.state)
            if not machine.advance(model):
                break
            step = spec.step(model.state)
            if step.terminal or step.type == "confirm":
                break
            if not (form.get("editing") and self._filled(step, model.slots)):
                break
        form["history"] = form["history"][-30:]
        form["state"], form["slots"] = model.state, model.slots
        step = spec.step(model.state)
        if step.terminal:
            return await self._end(turn, form, spec, step)
        if step.type == "confirm":
            form["editing"] = False
        return DialogReply(await self._enter(turn, form, step))

    @staticmethod
    def _filled(step: Step, slots: dict[str, Any]) -> bool:
        return bool(step.slot) and get_slot(slots, step.slot) is not None

    def _ctx(self, turn: Any, spec: FormSpec, slots: dict[str, Any]) -> hooks.HookContext:
        return hooks.HookContext(turn=turn, spec=spec, slots=slots, engine=self.engine, schools=self.schools)

    async def _enter(self, turn: Any, form: dict, step: Step, show_current: bool = False) -> str:
        """Prepare and word the question of the step the guardian is now on."""
        await hooks.run(step.compute, self._ctx(turn, self.forms[form["scheme"]], form["slots"]))
        slots = form["slots"]
        spec = self.forms[form["scheme"]]
        if step.type == "confirm":
            return render.confirmation(spec, step, slots)
        current = ""
        shown = "school_name" if step.type == "school" else step.slot  # the school's name, not its code
        if show_current and shown and get_slot(slots, shown) is not None:
            current = f"（当前：{render.show(shown, get_slot(slots, shown)) or '已填写'}）\n"
        if step.params.get("scene") and not form.get("scene_offered"):
            school = self.schools.get(turn.session.get("scene_school") or "")
            form["scene_offered"] = True
            if school:
                form["scene_pending"] = school.code
                return _scene_question(school.name)
        if step.type == "district" and step.params.get("propose_from") and get_slot(slots, step.slot) is None \
                and not form.get("proposal_declined"):
            proposal = self._propose_district(step, slots)
            if proposal:
                form["proposal"] = proposal
                return current + _proposal_question(step, slots, proposal)
        if step.type == "school":
            return current + self._school_prompt(form, step)
        return current + render.prompt(step, slots)

    @staticmethod
    def _propose_district(step: Step, slots: dict[str, Any]) -> str | None:
        """A district named in the address, else the one of the ID number's area code (a proposal only: the
        guardian confirms it, since the ID records where it was issued, not where the 户口 is now)."""
        for source in step.params.get("propose_from") or []:
            value = str(get_slot(slots, source) or "")
            district = district_in(value) if not source.endswith("id_number") else district_of_region(value[:6])
            if district:
                return district
        return None

    # ---- school selection -----------------------------------------------------------------------

    def _school_prompt(self, form: dict, step: Step) -> str:
        district = form["slots"].get(step.params.get("district_slot", "school_district"))
        text = render.fill(step.prompt, form["slots"])
        listed = self.schools.in_district(district) if district else []
        if listed and len(listed) <= int(step.params.get("list_up_to", 10)):
            form["pending"] = [s.code for s in listed]
            text += "\n也可以直接点选：\n" + fields.numbered([s.name for s in listed])
        return text

    async def _school(self, turn: Any, form: dict, spec: FormSpec, step: Step, text: str,
                      understand: Callable) -> DialogReply:
        district = form["slots"].get(step.params.get("district_slot", "school_district"))
        number = fields.pick_number(text)
        pending = form.get("pending") or []
        if number is not None and pending:
            if 1 <= number <= len(pending) and self.schools.get(pending[number - 1]):
                return await self._choose_school(turn, form, spec, self.schools.get(pending[number - 1]))
            return await self._reject(turn, form, spec, step, text, understand,
                                      ValidationError(f"请回复1到{len(pending)}之间的数字，或输入学校名称。"))
        try:
            typed = check_free_text(text, "学校名称", 40)
        except ValidationError as err:
            return await self._reject(turn, form, spec, step, text, understand, err)
        query = _school_named_in(typed)
        named = district_of(query)
        if named:  # "黄浦": the guardian narrows the search to a district
            form["slots"][step.params.get("district_slot", "school_district")] = named
            return DialogReply(self._school_prompt(form, step))
        hits = self.schools.search(query, district=district)
        if not hits:
            where = f"{district}" if district else "学校名录"
            said = query if query != typed else text  # a school named in a sentence: not a question
            return await self._reject(turn, form, spec, step, said, understand, ValidationError(
                f"在{where}没有找到与“{redact(query)}”相近的学校。请换个关键字（如学校名称中的路名），"
                "也可以先回复学校所在的区名（如“黄浦”）。"))
        if len(hits) == 1 and (hits[0].name == query or query in hits[0].name):
            return await self._choose_school(turn, form, spec, hits[0])
        form["pending"] = [s.code for s in hits]
        # Searched across districts: each school says its district, so a name found in several is told apart.
        labels = [s.name if district or s.district in s.name else f"{s.name}（{s.district}）" for s in hits]
        return DialogReply("找到以下学校，请回复数字或点选：\n" + fields.numbered(labels)
                           + "\n都不是？请换个关键字再输入。")

    async def _choose_school(self, turn: Any, form: dict, spec: FormSpec, school: Any,
                             via_scene: bool = False) -> DialogReply:
        step = next(s for s in spec.steps if s.type == "school")
        if via_scene:
            model = FormModel(form)
            form["history"].append(model.state)
            self.machines[spec.scheme].goto(model, step.id)
            form["state"] = model.state
        updates = {step.slot: school.code, "school_name": school.name,
                   step.params.get("district_slot", "school_district"): school.district}
        reply = await self._accept(turn, form, spec, step, updates)
        note = ""
        if form["slots"].get("roster_note") == "moved" and form["slots"].get("school_code") != school.code:
            note = f"学校名册显示孩子在籍于“{form['slots'].get('school_name')}”，参保单位已按在籍学校填写。\n"
            form["slots"].pop("roster_note", None)
        return DialogReply(f"已选择：{school.name}\n{note}{reply.text}", reply.digression)

    # ---- confirmation, submission and endings ------------------------------------------------

    async def _confirm(self, turn: Any, form: dict, spec: FormSpec, step: Step, text: str,
                       understand: Callable) -> DialogReply:
        answer = parse_yes_no(text)
        if answer is None and text in ("确认提交", "提交", "确认提交去支付", "确认无误", "确认无误提交"):
            answer = True
        if answer:
            return await self._submit(turn, form, spec)
        if answer is False:
            return await self._modify(turn, form, spec, "")
        return await self._reject(turn, form, spec, step, text, understand, ValidationError(
            "请回复“确认提交”；如需修改，请回复“修改+项目”，例如“修改手机号”。"))

    async def _end(self, turn: Any, form: dict, spec: FormSpec, step: Step) -> DialogReply:
        await hooks.run(step.compute, self._ctx(turn, spec, form["slots"]))
        state = turn.session.setdefault(ENROLL_KEY, {})
        state["ended"] = state.pop("form", None) or form
        return DialogReply(render.fill(step.prompt, form["slots"]).rstrip() + "\n" + ENDED_HINT)

    async def _submit(self, turn: Any, form: dict, spec: FormSpec) -> DialogReply:
        slots = form["slots"]
        state = turn.session.setdefault(ENROLL_KEY, {})
        services = turn.services
        child = slots.get("child") or {}
        closed = self._window_closed(spec.scheme, turn.now)
        if closed:  # the window shut while the form was being filled
            state.pop("form", None)
            return self._offer_reminder(state, spec.scheme, closed + "\n这次的申请没有提交。")
        try:
            application = await services.applications.create_unique(
                turn.user_id, spec.scheme, submission.record(slots, turn.now), turn.now, submission.period_of(slots))
        except DuplicateApplication as dup:
            state.pop("form", None)
            text = submission.duplicate_text(turn, spec, slots, dup.existing)
            if dup.existing is not None and dup.existing.get("user_id") == turn.user_id:
                # Often a 确认提交 repeated after 系统繁忙: the first one did go through, so say where it stands.
                note = await self.submitter.progress_note(dup.existing)
                text += f"\n{note}" if note else ""
            return DialogReply(text)
        await submission.remember_subscriber(turn, spec, slots)
        try:
            told = await self.submitter.submit(turn, application)
        except Exception:
            log.exception("submitter failed for application %s", application["id"])
            told = await LocalSubmitter().submit(turn, application)
        state.pop("form", None)
        state["last"] = {"scheme": spec.scheme, "slots": {k: copy_json(slots[k])
                                                          for k in spec.settings.get("reuse", []) if k in slots}}
        state["after"] = True
        after = render.fill(spec.message("after_submit", slots), slots)
        topics = submission.procedure_text(self.engine, spec)
        parts = [f"已为{child.get('name', '孩子')}提交{spec.title}申请。", told, after, topics,
                 "如需为其他孩子办理，请回复“再办一个”。"]
        return DialogReply("\n\n".join(p for p in parts if p))
