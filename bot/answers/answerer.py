"""QuestionAnswerer: a guardian's question → a reply composed from the rule engine.

The state dict (stored in the guardian's session) holds only: the scheme and city talked about,
a pending question we asked ({"intent", "need", "slots", "options"}), the last computed answer's
intent and facts ({"intent", "slots"}, so "那门诊呢" can change one thing), what the guardian has said
about the child ("child": age, school stage, hukou…) and the numbered menu shown.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any, Callable

from bot.clock import SHANGHAI
from bot.answers import calendar, claims, eligibility, english, fees, procedures, smalltalk
from bot.answers.compare import COMPARE_WORDS, NAMED_ONLY_WORDS, compare, schemes_to_compare, side_by_side
from bot.answers.context import ENROLL_HINT, Ask, Composed, Ctx
from bot.answers.format import MAX_REPLY, STEP_LINE, clip, join
from bot.answers.model import Answer
from bot.answers.eligibility import STAGE_AGES, facts_from
from bot.answers.policy_text import has_benefits, has_fees, levelled, source_note
from bot.answers.retrieval import ProcedureIndex
from bot.answers.schemes import SchemeChooser
from bot.nlu import UNCLEAR, Understanding
from bot.nlu.numbers import NUMBER_RUN, has_digit, parse_number
from bot.nlu.slots import MASK
from bot.rules.facts import FACTS, BadFact, normalise

log = logging.getLogger(__name__)

SMALLTALK = {"greeting", "help", "human", "out_of_scope"}
PLACE_SLOTS = {"city", "scheme", "scheme_candidates", "school_city", "several_schemes"}
NUMERIC_NEEDS = {"amount", "age", "years_insured", "hospital_level"}
CITY_FACTS = {"hukou_city", "school_city"}
RELATIVE_PLACES = {"本市", "外地"}  # values of CITY_FACTS that mean something only with the city talked about
SLOT_UNITS = "级甲岁周年月日号"  # a number followed by one of these fills the slot that unit belongs to
OWN_UNITS = {"hospital_level": "级甲", "age": "岁周", "years_insured": "年"}
TOPIC_ALIASES = {"reimburse": "reimbursement", "window": "deadline", "steps": "procedure", "faq": "help"}
RUNNER_UP_MARGIN = 0.1
REFINABLE = {"reimbursement", "eligibility", "fee"}
MAX_CLAUSES = 6
SECOND_QUESTION_SCORE = 0.4
JOINED_SCORE = 0.5  # a part joined by 和 with no question word: its topic must be plain
JOINED_MIN_LENGTH = 4
QUESTION_WORDS = re.compile(r"吗|么|多少|什么|怎么|咋|几|哪|能不能|可不可以|来得及|是否|呢|不$")
# Asked of two schemes named at once: any question about the schemes, not a greeting or a request.
NOT_SIDE_BY_SIDE = SMALLTALK | {"enroll", "progress", UNCLEAR}
EACH_WORDS = ("分别", "哪个", "哪边", "各自", "各是", "差多少", "相差", "比较", "交得多", "更贵", "更便宜")
CLAIM_FACTS = {"kind", "hospital_level", "amount", "years_insured", "condition", "costs_this_year"}
FIGURE_INTENTS = {"reimbursement", "fee", "deadline"}  # answers with a figure: never from a guessed scheme
# Asked about a child the facts said rule out, these are still answered as asked (a phone number, a refund of
# what was paid, a payment gone wrong); every other question gets the eligibility verdict instead.
STILL_ANSWERED_WHEN_RULED_OUT = {"eligibility", "contacts", "refund", "payment_failure", "progress", "compare"}
REFINEMENT_LENGTH = 12
CLAIM_WORDS = re.compile(r"报销|理赔|报账")  # materials asked for a claim, not for enrolment
FLAG_SLOTS = ("can_ask", "enroll_request", "done_already", "date_mention")  # how it was asked, not facts of the case
# Facts about the child that stay true from one question to the next ("孩子上初一" … "要交多少钱"). Saying
# one of the category facts again replaces them all: "孩子三岁" after "初一" is not a three-year-old pupil.
CATEGORY_FACTS = {"age", "birth_date", "school_stage", "in_school", "person_group", "full_time", "employed"}
SORRY = "抱歉，我这边出了点问题，请换个说法再问一次，或回复「人工」联系工作人员。"


NEGATION_BEFORE = re.compile(r"(?:不|没|非|无)[^，,。；;！!？?]{0,5}$")  # "不是机关单位的": 机关 and 单位 both denied


def _names(text: str, words: list[str]) -> bool:
    """The guardian names the audience ("我是机关单位的"), not denies it ("我们不是机关单位的")."""
    for word in words:
        at = text.find(word)
        while at >= 0:
            if not NEGATION_BEFORE.search(text[max(0, at - 6):at]):
                return True
            at = text.find(word, at + 1)
    return False


def _audience_of(pack: Any) -> dict:
    """The pack's `audience` (who its seed is written for), or {} for a pack written for every child."""
    return (pack.raw or {}).get("audience") or {}


def _first_time_told(state: dict, scheme: str) -> bool:
    """Record that the guardian has heard whom `scheme`'s seed is for; False when they had already."""
    told = state.setdefault("audience_told", [])
    if scheme in told:
        return False
    told.append(scheme)
    return True


def _after_first_line(text: str, note: str) -> str:
    """The answer's lead stays first (the figure asked for); the note that qualifies it comes next."""
    lead, _, rest = text.partition("\n")
    return join(lead, note, rest)


def _capability(intent: str, topics: list[str]) -> Callable[[Any], bool] | None:
    if intent == "reimbursement":
        return has_benefits
    if intent == "fee":
        return has_fees
    if intent == "deadline":
        return lambda pack: bool(((pack.raw or {}).get("calendar") or {}).get("windows"))
    if intent == "eligibility":
        return lambda pack: bool((pack.raw or {}).get("eligibility"))
    if topics:
        return lambda pack: bool((pack.procedures or {}).get(topics[0]))
    return None


class QuestionAnswerer:
    def __init__(self, engine: Any, nlu: Any) -> None:
        self.engine = engine
        self.nlu = nlu
        self.index = ProcedureIndex(engine, nlu.tokenizer.cut, nlu.lexicon.synonyms)
        self.chooser = SchemeChooser(engine, nlu.lexicon.scheme_preference, self._distinctive_scheme,
                                     self._own_words_scheme)
        self.domain_words = set(nlu.lexicon.vocabulary)  # 预审, 京卡, 生僻字…: not 幼儿园 or a disease
        self.chooser.weak = set(nlu.lexicon.weak_preference)
        self.fact_names = set(FACTS)
        self.english_names = nlu.english.scheme_names

    # -- public -------------------------------------------------------------------------------
    def answer(self, text: str, state: dict, now: dt.datetime,
               understanding: Understanding | None = None) -> Answer:
        if now.tzinfo is None:  # every date the engine compares is in Shanghai time
            now = now.replace(tzinfo=SHANGHAI)
        try:
            u = understanding or self.nlu.understand(text or "", state)
            found = self._second_question(u)
            if found is None:
                return self._with_follow_up(u, text, state, now)
            main, other, asked_first = found
            first = self._answer(main, state, now)
            if not first.confident:
                return first
            # "宁波医保交多少钱，什么时候交": the second question answered too, about the same scheme
            waiting = state.get("pending")
            second = self._answer(other, state, now)
            if waiting and "pending" not in state:
                state["pending"] = waiting
            if second.text in first.text:
                return first
            texts = [second.text, first.text] if asked_first else [first.text, second.text]
            text = join(texts[0].replace(ENROLL_HINT, "").rstrip(), texts[1])
            return Answer(clip(self._notes_first(text, first.scheme)), first.intent, first.slots, first.confident,
                          first.scheme)
        except Exception:  # noqa: BLE001 - a guardian must always get a reply
            log.exception("answer failed", extra={"intent": getattr(understanding, "intent", None)})
            state.pop("pending", None)
            return Answer(SORRY, UNCLEAR, {}, confident=False)

    def _with_follow_up(self, u: Understanding, raw: str, state: dict, now: dt.datetime) -> Answer:
        """"住院1万三级医院报多少？门诊呢？" / "宁波婴儿多少钱 中学生多少": the same question asked again in the
        same message about another case is answered as if it were the next message (`_refines`), after the
        first; one question is answered as it is."""
        split = self._follow_up_clause(u, raw)
        if split is None:
            return self._answer(u, state, now)
        question, follow_up = split
        first = self._answer(self.nlu.understand(question, state), state, now)
        if not first.confident or "pending" in state or "last" not in state:
            return first  # a question back, or nothing the follow-up could refine: the follow-up waits
        second = self._answer(self.nlu.understand(follow_up, state), state, now)
        first_text = first.text.replace(ENROLL_HINT, "").rstrip()
        said = set(first_text.splitlines())
        new = [line for line in second.text.splitlines() if line not in said or STEP_LINE.match(line)]
        if not second.confident or not new:
            state.pop("pending", None)
            return first
        if new[0].endswith(procedures.SILENCE_RELATED) and all(line == ENROLL_HINT for line in new[1:]):
            new = [new[0].removesuffix(procedures.SILENCE_RELATED) + "。", *new[1:]]  # "大学生呢" of a pack naming none
        text = join(first_text, *new)
        return Answer(clip(self._notes_first(text, first.scheme)), first.intent, first.slots, True, first.scheme)

    def _follow_up_clause(self, u: Understanding, raw: str) -> tuple[str, str] | None:
        """(the question, the follow-up) when the message ends in a short clause that asks the same again about
        another case ("门诊呢", "中学生多少"): elliptical (…呢), or of the same intent with a fact of its own.
        `raw`: the message as typed (a space between two clauses separates them)."""
        text = (raw or u.text or "").strip()
        clauses = [c for c in re.split(r"[,，。;；?？!！]+|(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])", text) if c.strip()]
        if len(clauses) < 2 or u.intent in (UNCLEAR, *SMALLTALK):
            return None
        last = clauses[-1].strip()
        if len(last) > REFINEMENT_LENGTH or not QUESTION_WORDS.search(last):
            return None
        head = text[:text.rfind(last)].rstrip(",，。;；?？!！ ")
        if not QUESTION_WORDS.search(head):  # "住院花了3000，门诊花了2000能报多少": one question about two bills
            return None
        whole, tail = self.nlu.understand(head), self.nlu.understand(last)
        if whole.intent != u.intent:
            return None
        own = {k: v for k, v in tail.slots.items() if k not in PLACE_SLOTS and k not in FLAG_SLOTS}
        differs = any(whole.slots.get(k) != v for k, v in own.items())
        elliptical = last.rstrip("?？ ").endswith("呢")
        if (elliptical and (own or tail.intent in (UNCLEAR, u.intent))) or \
                (tail.intent in (UNCLEAR, u.intent) and own and differs):
            return head, last
        return None

    def answer_topic(self, topic: str, state: dict, now: dt.datetime) -> Answer:
        """Menu keys: FAQ_FEE → fee, FAQ_DEADLINE → deadline, FAQ_MATERIALS → materials…"""
        if now.tzinfo is None:
            now = now.replace(tzinfo=SHANGHAI)
        name = str(topic or "").lower().removeprefix("faq_")
        name = TOPIC_ALIASES.get(name, name)
        if name not in self.nlu.catalogue.intents:
            name = "help"
        u = Understanding(name, 1.0, {}, [], [(name, 1.0)], "")
        try:
            return self._answer(u, state, now)
        except Exception:  # noqa: BLE001
            log.exception("answer_topic failed")
            return Answer(SORRY, name, {}, confident=False)

    # -- flow ---------------------------------------------------------------------------------
    def _answer(self, u: Understanding, state: dict, now: dt.datetime) -> Answer:
        pending = state.pop("pending", None) or {}
        state.pop("menu", None)
        last = state.pop("last", None) or {}
        intent, slots = u.intent, dict(u.slots)
        carried: dict = {}  # facts from the question this message continues
        if pending and intent == pending.get("intent"):
            carried = pending.get("slots") or {}
            slots = {**carried, **slots}
            self._fill_bare_reply(u.text, pending, slots)
        elif last and self._refines(u, last):
            # "那门诊呢" / "那外地户口呢" after an answer: the same question with one thing changed.
            carried = last.get("slots") or {}
            intent, slots = last["intent"], {**carried, **slots}
        said = {k: v for k, v in slots.items() if k in u.slots or k not in carried}  # this message's own facts
        slots = self._with_child_facts(intent, slots, said, state)
        city = slots.get("city") or state.get("city") or ""
        several = self._several_schemes(u, intent)
        if several:
            return self._side_by_side(several, u, slots, now)
        # "两个都买了…" with no city said: the city with two schemes is meant
        pairs = [ids for ids in self.chooser.by_city.values() if len(ids) >= 2]
        city_schemes = self.chooser.by_city.get(city) or (pairs[0] if len(pairs) == 1 else [])
        compared = schemes_to_compare(u.text, u.slots, city_schemes)
        if compared:
            return Answer(clip(compare(self.engine, compared, now, u.text)), "compare", slots)
        if intent in SMALLTALK:
            return self._smalltalk(intent, slots, state)
        if intent == UNCLEAR:
            return self._unclear(u, slots, state, now)
        if intent not in ("reimbursement", "compare") and claims.ELSEWHERE_CARE.search(u.text) and "报" in u.text:
            intent = "reimbursement"  # "在外地看病能报吗": the bill question, with what the pack says of care elsewhere
        topics = self._topics(intent, u)
        choice = self.chooser.choose(slots, state, u.text, _capability(intent, topics), intent in FIGURE_INTENTS,
                                     lambda scheme: self._fits(scheme, intent, slots, now),
                                     self._without_intent_words(u.text, intent))
        if choice.scheme is None:
            if slots.get("city") in self.chooser.by_city and slots["city"] != state.get("city"):
                # "那上海的呢" after Ningbo: the conversation has moved to Shanghai even before its scheme is picked
                state["city"] = slots["city"]
                state.pop("scheme", None)
            kept = {k: v for k, v in slots.items() if k not in PLACE_SLOTS}
            state["pending"] = {"intent": intent, "need": ["scheme"], "slots": kept, "options": choice.options}
            question = choice.question
            if self._language(u, state) == "en":
                question = english.scheme_question(self.english_names, [self.engine.pack(s) for s in choice.options])
            return Answer(question, intent, slots, confident=False)
        pack = self.engine.pack(choice.scheme)
        state["scheme"], state["city"] = choice.scheme, pack.city
        audience = _audience_of(pack)
        if audience and audience.get("fact") and slots.get(audience["fact"]) is False:
            # "宁波医保交多少钱，我们不是机关单位的": the only Ningbo pack is for civil servants' children
            _first_time_told(state, choice.scheme)
            return Answer(clip(join(audience["denied"], source_note(pack))), intent, slots, True, choice.scheme)
        ctx = self._ctx(intent, choice.scheme, slots, u, now, topics)
        if intent not in STILL_ANSWERED_WHEN_RULED_OUT and eligibility.ruled_out(ctx, self.fact_names):
            # "孩子读大学了，上海少儿住院基金还能交吗" / "宣城读初中，医保咋交": the facts said rule the child out,
            # so the answer is that, not the scheme's window or fee as if it were theirs
            intent, topics = "eligibility", []
            ctx = self._ctx(intent, choice.scheme, slots, u, now, topics)
        composed = self._compose(intent, ctx)
        if composed.ask:
            state["pending"] = {"intent": intent, "need": composed.ask.need, "slots": composed.ask.slots}
            if composed.ask.options:
                state["pending"]["options"] = composed.ask.options
        else:  # "北京呢" next asks the same about another scheme; facts carry over where they matter
            kept = {k: v for k, v in slots.items() if k not in PLACE_SLOTS} if intent in REFINABLE else {}
            state["last"] = {"intent": intent, "scheme": choice.scheme, "slots": kept}
        dated = [e.name for e in self.engine.schedule(choice.scheme, now.year) if e.kind == "deadline"]
        text = calendar.resolve_next_month(composed.text, u.text, dated)
        if composed.ask and self._same_question_again(pending, intent, composed.ask, slots):
            text = "好的。" + composed.ask.question  # the standards came with the question a moment ago
        # "孩子转学了医保怎么办": only Beijing's pack speaks of 转学, but say whose rules these are
        if self._language(u, state) == "en":  # the bot's own parts in English, the seed's lines quoted as they are
            facts = facts_from(slots, pack, self.fact_names, u.text) | {k: v for k, v in slots.items() if k in CLAIM_FACTS}
            opening = english.lead(intent, pack, self.english_names, facts, self.engine, now.date(), text,
                                   composed.ask.need if composed.ask else None, composed.figure)
            text = join(opening, english.QUOTED, text) if opening else text
        text = self._with_audience(text, pack, intent, u, state)
        text = self._say_whose(text, pack) if choice.guessed else clip(text)
        return Answer(text, intent, slots, composed.confident, choice.scheme)

    @staticmethod
    def _language(u: Understanding, state: dict) -> str:
        """The guardian's language: this message's, or for a bare "2" / "3000" the conversation's."""
        if u.lang == "en" or re.search(r"[\u4e00-\u9fff]", u.text or ""):
            state["lang"] = u.lang
        return state.get("lang", "zh")

    def _with_audience(self, text: str, pack: Any, intent: str, u: Understanding, state: dict) -> str:
        """A pack written for some children only (Ningbo's for civil servants' children): said once per
        conversation before its figures are taken as everyone's, unless the guardian already spoke of
        them. Eligibility questions need no note: the pack's own rules ask about it."""
        audience = _audience_of(pack)
        if not audience or not _first_time_told(state, pack.id):
            return text
        if _names(u.text, audience["words"]) or intent == "eligibility":
            return text
        english = self._language(u, state) == "en" and audience.get("note_en")
        return _after_first_line(text, audience["note_en"] if english else audience["note"])

    @staticmethod
    def _say_whose(text: str, pack: Any) -> str:
        """An answer whose scheme was guessed from the question's words alone, saying so."""
        note = f"（以上按{pack.short_name}回答；如果不是，请告诉我城市或医保名称。）"
        return join(clip(text, MAX_REPLY - len(note) - 1), note)

    def _ctx(self, intent: str, scheme: str, slots: dict, u: Understanding, now: dt.datetime,
             topics: list[str]) -> Ctx:
        masked = self.nlu.slots.extract(u.text)[1].replace(MASK, " ")
        spec = self.nlu.catalogue.intents.get(intent)
        words = list(spec.keywords) if spec else []
        return Ctx(self.engine, self.index, scheme, self.engine.pack(scheme), slots, u.text, masked, now, topics, words,
                   self.nlu.lexicon.line_conditions, self.nlu.lexicon.silence_terms)

    def _compose(self, intent: str, ctx: Ctx) -> Composed:
        composed = self._composed_from_rules(intent, ctx)
        if composed is not None:
            said_silent = "材料没有写明" in composed.text.split("\n", 1)[0]  # "在外地看病": the bill says so itself
            opening = "" if said_silent else procedures.silence_opening(ctx)
            if opening:  # "新生儿出生多久内要办" of a pack that never speaks of newborns: said before the window
                composed.text = join(opening, composed.text)
            return composed
        composed = procedures.topic_answer(ctx, ctx.topics or ["steps"])
        if intent == "materials" and CLAIM_WORDS.search(ctx.text) and not self._lists_claim_materials(ctx.scheme):
            # "少儿住院基金报销需要什么材料": the pack lists what enrolment needs, not what a claim needs
            first, _newline, rest = composed.text.partition("\n")
            lead = f"{ctx.pack.short_name}的材料里没有列出报销时要带的材料；下面是参保时要准备的材料和相关内容："
            # in place of the plain "<name>：" heading only — a silence opening ("…没有提到“支付宝”…") stays
            composed.text = join(lead, rest) if first == f"{ctx.pack.short_name}：" else join(lead, composed.text)
        if intent in ("enroll", "materials", "procedure"):
            composed.text = join(composed.text, ENROLL_HINT)
        return composed

    def _lists_claim_materials(self, scheme: str) -> bool:
        return any(CLAIM_WORDS.search(f"{item.title}{line}") for item in self.engine.procedure(scheme, "materials")
                   for line in item.lines)

    def _composed_from_rules(self, intent: str, ctx: Ctx) -> Composed | None:
        """The answer of an intent the rule engine computes (figures, dates, cover); None for the others."""
        if intent in ("deadline", "payment_failure", "payment") and (in_time := calendar.month_deadlines(ctx)):
            return in_time
        if intent == "reimbursement":
            return claims.reimbursement(ctx)
        if intent == "eligibility":
            return eligibility.eligibility(ctx, self.fact_names)
        if intent == "fee":
            return fees.fee(ctx, self.fact_names)
        if intent == "deadline":
            return calendar.deadline(ctx)
        return None

    # -- pieces -------------------------------------------------------------------------------
    def _second_question(self, u: Understanding) -> tuple[Understanding, Understanding, bool] | None:
        """A second question in the same message, about another thing ("少儿基金多少钱？啥时候截止？"): the
        main question and the second, each read from its own clause with the message's facts (so the
        materials half is not answered with deadline lines), and whether the second was asked first;
        None when the message asks one thing."""
        asked = self._questions_in(re.split(r"[,，。;；?？!！]+", u.text or ""), QUESTION_WORDS.search)
        if len(asked) < 2 and QUESTION_WORDS.search(u.text or "") is None:
            # "截止日期和要带的材料": two things asked for by name, joined by 和 — each part must name its
            # topic clearly on its own, since neither has a question word
            parts = re.split(r"[,，。;；?？!！]+|和|还有|以及|另外|并且", u.text or "")
            asked = self._questions_in(parts, lambda c: len(c.strip()) >= JOINED_MIN_LENGTH, JOINED_SCORE)
        others = [a for a in asked if a.intent != u.intent]
        if len(asked) < 2 or not others:
            return None
        other = others[0]
        own = next((i for i, a in enumerate(asked) if a.intent == u.intent), None)
        first = asked.index(other) < (len(asked) if own is None else own)
        main = u if own is None else self._clause_read(asked[own], u, u.slots)
        return main, self._clause_read(other, u, {**u.slots, **other.slots}), first

    def _questions_in(self, clauses: list[str], asks: Callable[[str], Any],
                      score: float = SECOND_QUESTION_SCORE) -> list[Understanding]:
        """The clauses that ask something of their own, one per intent, in the order asked."""
        clauses = [c for c in clauses if c.strip()]
        if len(clauses) < 2 or len(clauses) > MAX_CLAUSES:
            return []
        asked: list[Understanding] = []
        for clause in clauses:
            part = self.nlu.understand(clause)
            if part.intent not in NOT_SIDE_BY_SIDE and part.confidence >= score and asks(clause) \
                    and part.intent not in [a.intent for a in asked]:
                asked.append(part)
        return asked

    @staticmethod
    def _clause_read(part: Understanding, whole: Understanding, slots: dict) -> Understanding:
        """One clause's question with the whole message's facts and places ("宁波…截止？要带什么材料？")."""
        places = {k: v for k, v in whole.slots.items() if k in PLACE_SLOTS}
        return Understanding(part.intent, part.confidence, {**slots, **places}, part.tokens, part.candidates,
                             part.text, whole.lang)

    def _notes_first(self, text: str, scheme: str | None) -> str:
        """Two answers joined: a pack's audience note, said in whichever came second, follows the reply's
        first line."""
        note = _audience_of(self.engine.pack(scheme)).get("note") if scheme else None
        if note and note in text:
            text = _after_first_line(text.replace(note, "", 1).replace("\n\n", "\n").strip(), note)
        return text

    def _several_schemes(self, u: Understanding, intent: str) -> tuple[str, list[str]] | None:
        """(intent, schemes) when one question names two schemes and asks the same of both: named outright,
        or a scheme and another city whose only scheme it is ("宁波婴幼儿医保和上海少儿基金哪个交得多")."""
        if any(w in u.text for w in COMPARE_WORDS + NAMED_ONLY_WORDS):
            return None
        named = [s for s in u.slots.get("scheme_candidates") or [] if s in self.engine.scheme_ids]
        several = bool(u.slots.get("several_schemes"))
        if not several and len(named) == 1 and any(w in u.text for w in EACH_WORDS):
            for city in u.slots.get("cities") or []:
                in_city = self.chooser.by_city.get(city, [])
                if len(in_city) == 1 and in_city[0] not in named:
                    named.append(in_city[0])
            several = len(named) >= 2
        if not several or len(named) < 2:
            return None
        asked = intent if intent not in NOT_SIDE_BY_SIDE else next(
            (name for name, score in u.candidates if name not in NOT_SIDE_BY_SIDE and score >= 0.12), None)
        return (asked, named[:2]) if asked else None

    def _side_by_side(self, several: tuple[str, list[str]], u: Understanding, slots: dict, now: dt.datetime) -> Answer:
        intent, schemes = several
        topics = self._topics(intent, u)
        answers = {}
        for scheme in schemes:
            ctx = self._ctx(intent, scheme, slots, u, now, topics)
            answers[scheme] = (ctx.pack, self._compose(intent, ctx))
        return Answer(clip(side_by_side(answers, intent, u.text)), intent, slots)

    def _without_intent_words(self, text: str, intent: str) -> str:
        """The question less the words of what it asks ("一年交多少"): left are the words that may name a
        scheme by its own vocabulary ("预审", "京卡"), not words every scheme's lines share."""
        spec = self.nlu.catalogue.intents.get(intent)
        for word in sorted(spec.keywords if spec else (), key=len, reverse=True):
            if len(word) >= 2:
                text = text.replace(word, " ")
        return text

    def _fits(self, scheme: str, intent: str, slots: dict, now: dt.datetime) -> bool:
        """The question's cues leave this scheme: the facts said do not rule the child out, and a hospital
        level is asked about only where the standards differ by level."""
        pack = self.engine.pack(scheme)
        if intent == "reimbursement" and "hospital_level" in slots and not levelled(pack, now.date()):
            return False
        absolute = {k: v for k, v in slots.items() if not (k in CITY_FACTS and v in RELATIVE_PLACES)}
        facts = facts_from(absolute, pack, self.fact_names)
        return not facts or self.engine.eligibility(scheme, facts, now.date()).status != "not_eligible"

    def _distinctive_scheme(self, text: str, vocabulary: set[str] | None = None) -> str | None:
        masked = self.nlu.slots.extract(text)[1].replace(MASK, " ")
        for word in self.chooser.weak:  # "孩子没户口能参保吗": 户口 is every scheme's word, whichever pack spells it so
            masked = masked.replace(word, " ")
        return self.index.distinctive_scheme(masked, vocabulary)

    def _own_words_scheme(self, text: str) -> str | None:
        """For a figure: a scheme named by a domain word only its pack uses ("预审", "京卡"), never by an
        ordinary word that happens to occur in one pack only ("一年")."""
        return self._distinctive_scheme(text, self.domain_words)

    def _with_child_facts(self, intent: str, slots: dict, said: dict, state: dict) -> dict:
        """Remember what the guardian says about the child (`said`: this message's facts) in any question;
        a fee, eligibility or bill question is answered with it unless it says otherwise itself."""
        told = {k: v for k, v in said.items() if (k in self.fact_names or k in CATEGORY_FACTS)
                and not (k in CITY_FACTS and v in RELATIVE_PLACES)}  # "本市" means another city after a switch
        known = state.get("child") or {}
        if told.keys() & CATEGORY_FACTS:
            # "二宝三岁了" after "初一" is another child: facts that cannot go with the new ones are dropped;
            # "在读高一" after "16了" is the same child: both kept
            known = {k: v for k, v in known.items() if k not in CATEGORY_FACTS or _goes_with(k, v, told)}
            slots = {k: v for k, v in slots.items() if k not in CATEGORY_FACTS or k in told or _goes_with(k, v, told)}
        known = {**known, **told}
        if known:
            state["child"] = known
        return {**known, **slots} if intent in REFINABLE else slots

    @staticmethod
    def _same_question_again(pending: dict, intent: str, ask: Ask, slots: dict) -> bool:
        """The reply added a fact ("三级医院") but not the one asked for: ask just that again, briefly."""
        if not pending or pending.get("intent") != intent or pending.get("need") != ask.need:
            return False
        return bool(set(slots) - set(pending.get("slots") or {}) - PLACE_SLOTS)

    @staticmethod
    def _refines(u: Understanding, last: dict) -> bool:
        if u.intent not in (UNCLEAR, last.get("intent")):
            return False
        text = u.text.strip("?？。!！ ")
        follow_up = text.startswith("那") or text.endswith("呢")
        facts = set(u.slots) - PLACE_SLOTS
        if not facts:
            # Only a place: "北京呢" / "那上海的少儿基金呢" asks the last question about another scheme.
            return follow_up and bool(set(u.slots) & PLACE_SLOTS)
        named = u.slots.get("scheme")
        if named and last.get("scheme") and named != last["scheme"] and not follow_up:
            return False  # a full question about another scheme starts afresh: the earlier bill was not for it
        return u.intent == UNCLEAR or len(text) <= REFINEMENT_LENGTH or follow_up

    def _topics(self, intent: str, u: Understanding) -> list[str]:
        """The intent's procedure topics, then a close runner-up's ("退费什么时候能办")."""
        intents = self.nlu.catalogue.intents
        topics = list(intents[intent].topics) if intent in intents else []
        if len(u.candidates) > 1 and u.candidates[0][0] == intent:
            runner, score = u.candidates[1]
            if runner in intents and u.candidates[0][1] - score <= RUNNER_UP_MARGIN:
                topics += [t for t in intents[runner].topics if t not in topics]
        return topics

    def _fill_bare_reply(self, text: str, pending: dict, slots: dict) -> None:  # noqa: C901
        """Complete the fact we asked for from a bare reply: "2", "三", "15000", "是的"."""
        need = (pending.get("need") or [None])[0]
        if need == "scheme":
            picked = self.chooser.pick_option(text, pending.get("options") or [])
            if picked:
                slots["scheme_candidates"], slots["scheme"] = [picked], picked
                slots["city"] = self.chooser.city_of(picked)
            elif not slots.keys() & PLACE_SLOTS and pending.get("options"):
                slots["scheme_candidates"] = list(pending["options"])  # "孩子三岁": still one of those we offered
            return
        if not need or need in slots:
            return
        if need == "years_insured" and isinstance(slots.get("insured_last_year"), bool):
            slots[need] = int(slots["insured_last_year"])  # "去年交过了": a year at least; "第一次交": none yet
            return
        if need in NUMERIC_NEEDS:
            run = NUMBER_RUN.search(text)
            options = pending.get("options") or []
            if options and run and text.strip("。. 号个第") == run.group() and run.group().isdigit() \
                    and 0 < int(run.group()) <= len(options):
                slots[need] = options[int(run.group()) - 1]  # "2": the second of the numbered choices
                slots.pop("amount_choices", None)
                return
            unit = text[run.end():run.end() + 1] if run else ""
            if unit and unit in SLOT_UNITS and unit not in OWN_UNITS.get(need, ""):
                return  # "三级" or "15岁" answers something else, not the number we asked for
            value = parse_number(run.group()) if run and has_digit(run.group()) else None  # "ok" is no 1000
            if value is not None and value >= 0:
                if need == "hospital_level" and value not in (1, 2, 3):
                    return
                slots[need] = int(value) if value == value.to_integral() else float(value)
            return
        if need in CITY_FACTS:
            # the reply's own words: the city carried from the question ("上海居民医保…") is not the answer
            named = self.nlu.slots.extract(text)[0].get("city")
            if any(w in text for w in ("外地", "外省", "老家", "外市", "不是本地", "不是本市")):
                slots[need] = "外地"
            elif named:
                slots[need] = named
            elif any(w in text for w in ("本市", "本地", "这里", "当地")):
                slots[need] = "本市"
            return
        if need in FACTS and FACTS[need].kind in ("bool", "str"):
            word = text.strip().strip("。.!！啊呀的了")
            try:
                value = normalise(need, word)
            except BadFact:
                return
            if FACTS[need].kind == "bool" or value in FACTS[need].choices:
                slots[need] = value

    def _menu_titles(self, intents: list[str]) -> list[str]:
        return [self.nlu.catalogue.title(i) for i in intents]

    def _smalltalk(self, intent: str, slots: dict, state: dict) -> Answer:
        menu = list(self.nlu.catalogue.fallback_menu)
        titles = self._menu_titles(menu)
        if intent == "human":
            return Answer(smalltalk.human(), intent, slots)
        state["menu"] = menu
        text = {"greeting": smalltalk.greeting, "help": smalltalk.help_text,
                "out_of_scope": smalltalk.out_of_scope}[intent](titles)
        return Answer(clip(text), intent, slots, confident=intent != "out_of_scope")

    def _unclear(self, u: Understanding, slots: dict, state: dict, now: dt.datetime) -> Answer:
        place = self.chooser.choose(slots, {}, u.text) if slots.keys() & {"city", "scheme_candidates"} else None
        scheme = place.scheme if place else state.get("scheme")
        guessed = not scheme
        if guessed:
            scheme = self._distinctive_scheme(u.text)
        if scheme in self.engine.scheme_ids:
            found = procedures.lookup(self._ctx(UNCLEAR, scheme, slots, u, now, []))
            if found:  # the words match a line of the pack even if the intent is unclear
                pack = self.engine.pack(scheme)
                state["scheme"], state["city"] = scheme, pack.city
                text = self._with_audience(found.text, pack, UNCLEAR, u, state)
                text = self._say_whose(text, pack) if guessed else clip(text)
                return Answer(text, UNCLEAR, slots, confident=False, scheme=scheme)
        guesses = [name for name, score in u.candidates if score >= 0.12 and name not in SMALLTALK]
        menu = (guesses + [m for m in self.nlu.catalogue.fallback_menu if m not in guesses])[:6]
        state["menu"] = menu
        titles = self._menu_titles(menu)
        if place and place.scheme:
            # "上海的" / "北京一小": remember the place and ask what they want to know about it.
            pack = self.engine.pack(place.scheme)
            state["scheme"], state["city"] = place.scheme, pack.city
            text = join(f"好的，{pack.short_name}。请问您想了解：", smalltalk.menu_text(titles))
            return Answer(clip(self._with_audience(text, pack, UNCLEAR, u, state)), UNCLEAR, slots,
                          confident=False, scheme=place.scheme)
        if slots.get("city") in self.chooser.by_city:
            state["city"] = slots["city"]
            state.pop("scheme", None)
            return Answer(join(f"好的，{slots['city']}。请问您想了解：", smalltalk.menu_text(titles)),
                          UNCLEAR, slots, confident=False)
        return Answer(smalltalk.unclear(titles), UNCLEAR, slots, confident=False)


def _goes_with(name: str, value: Any, told: dict) -> bool:
    """A category fact remembered about the child still holds beside the facts just told."""
    if name in told:
        return False
    stage, age = told.get("school_stage"), told.get("age")
    if name == "age" and stage is not None:
        return stage == "none" or (stage in STAGE_AGES and value in STAGE_AGES[stage])
    if name == "school_stage" and age is not None:
        return value in STAGE_AGES and age in STAGE_AGES[value]
    if name == "in_school" and stage is not None:
        return False  # said with the stage
    if name in ("person_group", "birth_date") and (age is not None or stage is not None):
        return False
    return name in ("full_time", "employed")
