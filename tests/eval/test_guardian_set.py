"""The guardian question set (issue 13): well formed, not trivially satisfied, and a ratchet on the
bot's measured accuracy. Raise the ratchet when understanding improves (README: Measuring answers)."""
from __future__ import annotations

import re
from collections import defaultdict

import pytest

from bot.evaluation.cases import load_set
from bot.evaluation.judge import ERROR, WRONG_CLAIM, WRONG_FIGURE, Verdict, contains, judge_content, normalise
from bot.evaluation.runner import Evaluator

# The level measured when the set last changed or the bot last improved: the suite fails below it.
MIN_ACCURACY = 0.97
MAX_WRONG_FIGURES = 0
MAX_WRONG_CLAIMS = 0  # a must_not phrase shown, or a yes/no answered the wrong way

SCHEMES = {"sh-child-fund", "sh-resident-student", "nb-civil-servant-children", "xc-hfut-college",
           "bj-child-student"}
CATEGORIES = {"typo", "negation", "english", "amounts", "dates", "followup", "two_schemes", "ambiguous",
              "seed_silent", "bad_input", "pack_truth"}
EVAL_SET = load_set()


def test_the_set_covers_every_category_and_scheme():
    cases = EVAL_SET.cases
    assert len(cases) >= 150
    assert len({c.id for c in cases}) == len(cases), "case ids must be unique"
    assert set(EVAL_SET.categories) == CATEGORIES
    schemes_by_category = defaultdict(set)
    for case in cases:
        assert set(case.schemes) <= SCHEMES, case.id
        schemes_by_category[case.category].update(case.schemes)
    for category in ("typo", "negation", "english", "dates", "followup", "seed_silent", "pack_truth"):
        assert schemes_by_category[category] == SCHEMES, category
    assert len(schemes_by_category["two_schemes"]) == 5


def test_every_case_can_fail():
    problems = []
    for case in EVAL_SET.cases:
        if case.category == "bad_input":
            continue  # judged on the reply being there, within the limit, without an error
        assert case.must or case.must_not or case.lead or case.answer or case.clarify, case.id
        asked = normalise("".join(case.messages))
        for alternatives in case.must:
            for text in alternatives:
                if contains(asked, text):
                    problems.append(f"{case.id}: {text!r} is in the question")
        if case.clarify:
            assert any(re.search(r"\d", s) or len(s) > 2 for s in case.must_not), case.id
        assert all(re.fullmatch(r"\d+(\.\d+)?万?", v) for v in case.lead), case.id
    assert not problems


def test_a_reply_that_says_everything_fails():
    """Every figure and phrase any right answer holds, in one reply: the cases guarding against the
    other schemes' figures must fail, and so must at least half of the set (the rest hold
    only facts that must be there; a dump that long also breaks WeChat's limit, judged apart)."""
    parts = [text for c in EVAL_SET.cases for alts in c.must for text in alts]
    parts += [f"{v}元" for c in EVAL_SET.cases for v in c.lead] + list(EVAL_SET.yes_words)
    sink = "。".join(parts)
    said = normalise(sink)
    failed = 0
    for case in EVAL_SET.cases:
        verdict = judge_content(Verdict(), case, sink, yes_words=EVAL_SET.yes_words,
                                no_words=EVAL_SET.no_words)
        failed += not verdict.right
        if any(re.search(r"\d", s) and contains(said, s) for s in case.must_not):
            assert not verdict.right, f"{case.id} passes a reply listing every figure"
    scored = [c for c in EVAL_SET.cases if c.category != "bad_input"]
    assert failed >= 0.5 * len(scored)


@pytest.fixture(scope="module")
def report():
    import asyncio

    return asyncio.run(Evaluator().run(EVAL_SET))


def test_no_turn_raises_or_overflows_a_wechat_message(report):
    broken = [(r.case.id, r.verdict.reasons) for r in report.results if r.verdict.status == ERROR]
    assert not broken


def test_accuracy_does_not_fall_below_the_ratchet(report):
    assert report.accuracy >= MIN_ACCURACY, f"fully right {report.accuracy:.1%} < {MIN_ACCURACY:.0%}"


def test_wrong_figures_do_not_grow(report):
    wrong = [r.case.id for r in report.results if r.verdict.status == WRONG_FIGURE]
    assert len(wrong) <= MAX_WRONG_FIGURES, wrong


def test_wrong_claims_do_not_grow(report):
    wrong = [r.case.id for r in report.results if r.verdict.status == WRONG_CLAIM]
    assert len(wrong) <= MAX_WRONG_CLAIMS, wrong
