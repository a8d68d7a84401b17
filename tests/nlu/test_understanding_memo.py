"""Understandings are remembered by (text, pending question, menu shown): the same reading every time, a
copy each caller may change, and the context still deciding what a bare reply means."""
from __future__ import annotations

from bot.nlu import understanding
from bot.nlu.understanding import Nlu


def test_a_remembered_understanding_is_the_one_read_afresh(nlu):
    first = nlu.understand("上海少儿基金交多少钱")
    again = nlu.understand("上海少儿基金交多少钱")
    fresh = nlu._understand("上海少儿基金交多少钱", {})
    assert (again.intent, again.confidence, again.slots, again.candidates) == \
        (fresh.intent, fresh.confidence, fresh.slots, fresh.candidates) == \
        (first.intent, first.confidence, first.slots, first.candidates)


def test_a_caller_changing_what_it_was_given_changes_nothing_remembered(nlu):
    given = nlu.understand("宁波和上海哪个交得多")
    given.slots.setdefault("scheme_candidates", []).append("nobody")
    given.slots["city"] = "火星"
    given.candidates.clear()
    again = nlu.understand("宁波和上海哪个交得多")
    assert "nobody" not in again.slots.get("scheme_candidates", []) and again.slots.get("city") != "火星"
    assert again.candidates


def test_the_pending_question_and_the_menu_still_decide_a_bare_reply(nlu):
    menu = {"menu": ["fee", "reimbursement", "deadline"]}
    assert nlu.understand("2", menu).intent == "reimbursement"
    assert nlu.understand("2", {"menu": ["deadline", "fee"]}).intent == "fee"
    asked = {"pending": {"intent": "reimbursement", "need": ["kind"], "slots": {}}}
    assert nlu.understand("住院", asked).intent == "reimbursement"
    assert nlu.understand("2", {}).intent != "reimbursement"


def test_the_memo_is_bounded(nlu, monkeypatch):
    monkeypatch.setattr(understanding, "MEMO_SIZE", 3)
    fresh = Nlu(nlu.tokenizer, nlu.lexicon, nlu.catalogue, nlu.english)
    for text in ("交多少钱", "什么时候截止", "要带什么材料", "能报多少", "我要参保"):
        fresh.understand(text)
    assert len(fresh._memo) == 3 and ("我要参保", b"", b"") in fresh._memo and ("交多少钱", b"", b"") not in fresh._memo
