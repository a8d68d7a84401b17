"""The evaluation's judge: strict where a lenient check would pass wrong answers."""
from __future__ import annotations

from bot.evaluation.cases import NO, YES, Case, load_set
from bot.evaluation.judge import (ERROR, MISS, RIGHT, WRONG_CLAIM, WRONG_FIGURE, asks_with_choices, contains,
                                  first_amount, judge, normalise, polarity)


def _case(**kw) -> Case:
    base = dict(id="c", category="t", messages=("问题",), now="2026-09-10T10:00:00+08:00")
    base.update(kw)
    return Case(**base)


def _judge(case: Case, *replies: str, errors: int = 0):
    return judge(case, list(replies), yes_words=YES, no_words=NO, errors=errors)


def test_numbers_match_whole_numbers_only():
    reply = normalise("个人缴费1500元，9月15日截止，电话0563-3831616，比例50％，共13,545元")
    assert not contains(reply, "150")
    assert not contains(reply, "9月1")
    assert contains(reply, "9月15")
    assert contains(reply, "3831616")  # a phone number is found inside its area code
    assert contains(reply, "50%")
    assert contains(reply, "13545")


def test_a_negated_yes_is_a_no_and_the_first_answer_counts():
    assert polarity(normalise("不可以参加。可以联系学校"), YES, NO) == "no"
    assert polarity(normalise("可以参加，其余时间不能办理"), YES, NO) == "yes"
    assert polarity(normalise("少儿住院互助基金：不予退回"), YES, NO) == "no"
    assert polarity(normalise("请告诉我孩子的年龄"), YES, NO) == ""
    # an answer buried after a long preamble does not lead
    assert polarity(normalise("说明" * 60 + "可以参加"), YES, NO) == ""


def test_a_menu_is_not_an_answer():
    menu = "没太明白您的问题，您是想问：\n1. 看病能报销多少\n2. 交多少钱\n回复序号即可。\n也可以换个说法。"
    assert asks_with_choices(menu)
    verdict = _judge(_case(answer="yes"), menu)
    assert verdict.status == MISS


def test_clarify_needs_numbered_choices_and_no_figure():
    case = _case(clarify=True, must_not=("150", "180"))
    assert _judge(case, "请问是哪一项医保？\n1. 少儿基金\n2. 居民医保").status == RIGHT
    assert _judge(case, "按少儿基金回答：150元。").status == WRONG_FIGURE
    assert _judge(case, "请问是哪一项医保？").status == MISS
    assert _judge(case, "请问是哪一项？\n1. 少儿基金（150元）\n2. 居民医保").status == WRONG_FIGURE


def test_lead_amount_decides_between_tiers():
    case = _case(lead=("500",))
    assert _judge(case, "婴幼儿个人缴费500元。其他档次：中小学生220元。").status == RIGHT
    assert _judge(case, "中小学生220元；婴幼儿500元。").status == WRONG_FIGURE
    assert _judge(case, "请告诉我孩子的年龄").status == MISS
    assert first_amount(normalise("最高支付17万元")) == "17万"


def test_repeating_the_question_earns_nothing():
    case = _case(messages=("交了150元能退吗",), must=(("150",),))
    assert _judge(case, "交了150元能退吗").status == MISS


def test_errors_empty_and_overlong_replies_fail():
    case = _case(must=(("好",),))
    assert _judge(case, "好", errors=1).status == ERROR
    assert _judge(case, "").status == ERROR
    assert _judge(case, "好" * 700).status == ERROR  # 2100 bytes: over WeChat's 2048
    assert _judge(case, "抱歉，系统出了点问题，请稍后再试。好").status == ERROR


def test_wrong_claims_are_told_apart_from_wrong_figures():
    case = _case(must=(("线下",),), must_not=("不符合", "220"))
    assert _judge(case, "请联系学校线下办理").status == RIGHT
    assert _judge(case, "不符合参保条件，线下").status == WRONG_CLAIM
    assert _judge(case, "线下；220元").status == WRONG_FIGURE


def test_dev_questions_load_in_the_same_shape():
    dev = load_set(__import__("pathlib").Path(__file__).parent / "dev-questions.yaml")
    assert len(dev.cases) >= 30
    assert all(c.must for c in dev.cases)
