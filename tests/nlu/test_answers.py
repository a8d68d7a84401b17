"""Answers composed from the engine: colloquial questions, follow-ups, context, fallbacks.

Expected figures are worked out by hand from the seed documents (not copied from the bot).
"""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.nlu import UNCLEAR

# (question, strings that must all appear in the reply)
PARAPHRASES = [
    ("上海娃在二级医院住院花了五千块能报多少", ["3675"]),            # (5000-100)×75%
    ("闺女在社区医院住院花了3000块，上海居民医保给报多少", ["2360"]),  # (3000-50)×80%
    ("儿子在北京住院花了三十万，一小最多报多少", ["170000"]),         # capped at 17万
    ("上海孩子三甲医院门诊一年花了两千，能报多少", ["850"]),          # (2000-300)×50%
    ("宝宝在上海一级医院看门诊花了800", ["350"]),                   # (800-300)×70%
    ("北京孩子化疗门诊花了1万怎么报", ["6545", "住院"]),            # inpatient standard: (10000-650)×70%
    ("上海三级医院住院花了一万五，居民医保能报多少", ["8820"]),        # (15000-300)×60%
    ("北京一小住院5000块报多少", ["3045"]),                        # (5000-650)×70%
    ("少儿基金一年多少钱", ["150"]),
    ("上海居民医保学生一年交多少", ["180", "2021"]),
    ("低保家庭的孩子上海居民医保要交多少", ["130"]),
    ("宁波6岁以下宝宝医保多少钱", ["500"]),
    ("宁波初二的学生交多少", ["220"]),
    ("宁波成年居民B档多少钱", ["550"]),
    ("宣城合工大续保交多少", ["380"]),
    ("北京一小什么时候交钱", ["9月1日", "11月30日"]),
    ("上海居民医保什么时候申报", ["11月17日", "12月11日"]),
    ("宁波每个月哪几天能交医保", ["27"]),
    ("一小扣款提示无此账户怎么办", ["19"]),
    ("宁波税务公众号缴费失败，名字有生僻字", ["银行柜面"]),
    ("少儿基金能退钱吗", ["不予退回"]),
    ("上海居民医保交重复了能退吗", ["重复缴费"]),
    ("宣城大学生第一次参保怎么弄", ["暂停"]),
    ("少儿基金要带什么材料", ["户口簿"]),
    ("北京一小的医院怎么选", ["3所医院"]),
    ("少儿基金的医疗证在哪领", ["学校"]),
    ("上海居民医保新参保没有社保卡怎么办", ["医疗保险卡"]),
    ("宣城校区有问题打什么电话", ["3831616"]),
    ("上海户口18岁上高三能参保吗", ["可以"]),
    ("外地生源在北京读大学能参加一小吗", ["可以"]),
    ("宁波机关单位子女20岁了还能参加吗", ["不能"]),
    ("宁波机关单位的孩子5岁交多少钱", ["500"]),
    ("少儿基金提交了没收到短信", ["办件进度"]),
    ("宣城能用爸妈的职工医保账户给我交吗", ["共济"]),
    ("少儿基金缴费后多久能查到参保结果", ["5分钟"]),
    ("少儿基金缴费能用支付宝吗", ["银联"]),
    ("少儿基金交了钱银行多久到账", ["3个工作日"]),
    ("上海城乡居民医保筹资标准是多少", ["1810"]),
    ("上海居民医保以前个人交多少", ["155"]),
    ("上海学生在一级医院住院花了2000能报多少", ["1560"]),        # (2000-50)×80%
    ("上海孩子二级医院门诊花了1000元报多少", ["420"]),            # (1000-300)×60%
    ("上海居民医保学校最晚什么时候缴费", ["12月25日"]),
    ("上海户籍19岁在读中专能参加居民医保吗", ["可以"]),
    ("北京一小门诊一年最多报多少", ["2000"]),
    ("北京一小住院一年最多报多少", ["170000"]),
    ("北京一小卡里要多存多少钱", ["10元"]),
    ("北京一小扣款提示账户与姓名不匹配怎么办", ["19日"]),
    ("北京一小11月还扣款失败会怎样", ["不能享受"]),
    ("北京一小交了钱什么时候能享受待遇", ["次年1月1日"]),
    ("北京农业户口20岁高考复读能参加一小吗", ["可以"]),
    ("父母一方是北京户口孩子能参加一小吗", ["可以"]),
    ("有北京工作居住证，孩子能参加一小吗", ["可以"]),
    ("博士后的孩子在北京上小学能参加一小吗", ["可以"]),
    ("宁波机关子女社保卡什么时候发", ["11月底"]),
    ("宁波办社保卡可以选哪些银行", ["浙江农信"]),
    ("宁波孩子17岁家长能代办社保卡吗", ["建设银行"]),
    ("宁波2020年出生的孩子怎么参保", ["原渠道"]),
    ("宁波机关子女上大学了怎么参保", ["学校统一组织"]),
    ("宁波税务缴费方式选什么", ["补缴"]),
    ("宁波机关事业单位子女8岁能参加吗", ["可以"]),
    ("宣城首次参保要先做什么", ["暂停"]),
    ("宣城暂停参保后要等多久才能登记", ["30分钟"]),
    ("宣城省外学生需要暂停原籍医保吗", ["原籍地医保中心"]),
    ("宣城医保电子缴款单在哪查", ["社保缴费"]),
    ("少儿基金学校没上传信息怎么办", ["线下"]),
    ("少儿基金医疗证要盖章吗", ["盖章后"]),
    ("少儿基金困难家庭孩子要交钱吗", ["免予缴费"]),
    ("北京一小免缴的人要怎么办", ["注明免缴"]),
    ("北京港澳台华侨孩子怎么缴费", ["现金"]),
    ("北京一小毕业了要办减员吗", ["8月31日"]),
    ("上海孩子住了三天院花了12,000元，三级医院，能报多少", ["7020"]),   # (12000-300)×60%
    ("上海二级医院住院花了八千多能报多少", ["5925"]),                 # (8000-100)×75%
    ("少儿居保对象交多少", ["130"]),
    ("一小门诊花了三千块，第一年参保", ["不予报销"]),
    ("北京一小学生门诊花了3000，参保两年了", ["1175"]),              # (3000-650)×50%
    ("上海孩子住院花了1.5w，三甲", ["8820"]),
    # eligibility decided without a needless question
    ("上海户口的孩子在上海读小学能参加城乡居民医保吗", ["可以"]),          # 小学 → under 18
    ("北京非农业户口孩子在外省读书，当地没有参保，能参加一小吗", ["可以"]),
    ("合工大宣城校区的新生能参加宣城居民医保吗", ["可以", "暂停"]),
    ("外地户口孩子在上海上幼儿园，父母没有居住证，能参加居民医保吗", ["不能", "如属于"]),
    ("上海户口孩子21岁读中专能参加居民医保吗", ["不能"]),
    ("对口支援都江堰的学生在上海读中职能参加居民医保吗", ["可以"]),
    ("北京农业户口的复读生21岁能参加一小吗", ["可以"]),
]


@pytest.mark.parametrize("question, expected", PARAPHRASES, ids=[p[0] for p in PARAPHRASES])
def test_paraphrase(qa, now, question, expected):
    answer = qa.answer(question, {}, now)
    for text in expected:
        assert text in answer.text, answer.text
    assert len(answer.text) <= 600


def test_reimbursement_shows_steps_and_year(qa, now):
    answer = qa.answer("上海学生在三级医院住院花了一万元，能报销多少？", {}, now)
    assert "5820" in answer.text and "起付线300" in answer.text and "60%" in answer.text
    assert "2020年度" in answer.text


def test_asks_for_missing_facts_one_by_one(qa, now):
    state: dict = {}
    first = qa.answer("娃住院能报多少", state, now)
    assert "哪个地方" in first.text and state["pending"]["need"] == ["scheme"]
    second = qa.answer("上海的", state, now)
    assert state["city"] == "上海"
    assert state["scheme"] == "sh-resident-student"  # only resident insurance has benefits by level
    assert "起付线" in second.text  # the standards, while asking for the next fact
    replies = {"amount": "1万", "hospital_level": "三级"}
    answer = second
    for _ in range(2):
        need = state["pending"]["need"][0]
        answer = qa.answer(replies[need], state, now)
    assert "5820" in answer.text
    assert "pending" not in state
    json.dumps(state)  # the state goes into the session store


def test_numbered_scheme_choice(qa, now):
    state: dict = {}
    qa.answer("少儿基金和居民医保，上海的什么时候办", state, now)
    if "pending" in state:  # ambiguous in Shanghai: the bot asks which one
        options = state["pending"]["options"]
        reply = qa.answer(str(options.index("sh-child-fund") + 1), state, now)
    else:
        reply = qa.answer("少儿基金什么时候办", state, now)
    assert "9月30日" in reply.text


def test_shanghai_ambiguity_is_asked(qa, now):
    state: dict = {}
    answer = qa.answer("上海的什么时候截止", state, now)
    assert not answer.confident
    assert set(state["pending"]["options"]) == {"sh-child-fund", "sh-resident-student"}
    reply = qa.answer("2", state, now)
    chosen = state["scheme"]
    assert ("12月11日" in reply.text) if chosen == "sh-resident-student" else ("9月30日" in reply.text)


def test_context_carries_city(qa, now):
    state: dict = {}
    qa.answer("上海的", state, now)
    assert state["city"] == "上海"
    answer = qa.answer("三级医院门诊花了1300元能报多少", state, now)
    assert "500" in answer.text and answer.scheme == "sh-resident-student"
    switched = qa.answer("那北京住院花了2万呢，能报多少", state, now)
    assert "13545" in switched.text and state["city"] == "北京"
    again = qa.answer("交多少钱", state, now)
    assert "160" in again.text  # still Beijing


def test_eligibility_follow_up(qa, now):
    state: dict = {}
    first = qa.answer("外地户口孩子在上海上小学能参加居民医保吗", state, now)
    assert "居住证" in first.text
    second = qa.answer("B类居住证", state, now)
    assert "可以" in second.text


def test_yes_no_reply_fills_the_asked_fact(qa, now):
    state: dict = {}
    first = qa.answer("3岁宝宝能参加上海少儿基金吗", state, now)
    asked = state["pending"]["need"][0]
    second = qa.answer("有" if asked == "employee_insurance" else "是的", state, now)
    assert second.text != first.text


def test_unclear_offers_menu_and_digit_picks(qa, nlu, now):
    state: dict = {}
    answer = qa.answer("嗯那个", state, now)
    assert answer.intent == UNCLEAR and not answer.confident
    assert "没太明白" in answer.text and "1." in answer.text
    menu = state["menu"]
    u = nlu.understand(str(menu.index("fee") + 1), state)
    assert u.intent == "fee"


def test_menu_topics(qa, now):
    state = {"scheme": "bj-child-student", "city": "北京"}
    assert "160" in qa.answer_topic("FAQ_FEE", state, now).text
    assert "11月30日" in qa.answer_topic("FAQ_DEADLINE", state, now).text
    assert qa.answer_topic("FAQ_MATERIALS", state, now).text
    assert "650" in qa.answer_topic("FAQ_REIMBURSE", state, now).text
    fresh: dict = {}
    assert "哪个地方" in qa.answer_topic("FAQ_FEE", fresh, now).text
    assert qa.answer_topic("NO_SUCH_KEY", {}, now).text


@pytest.mark.parametrize("text", ["你好", "转人工", "今天天气怎么样", "帮助"])
def test_smalltalk(qa, now, text):
    answer = qa.answer(text, {}, now)
    assert answer.text and len(answer.text) <= 600


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=80))
def test_any_text_gets_a_short_reply(qa, now, text):
    state: dict = {}
    answer = qa.answer(text, state, now)
    assert answer.text and len(answer.text) <= 600
    json.dumps(state)
    json.dumps(answer.slots)


def test_follow_up_changes_one_thing(qa, now):
    state: dict = {}
    assert "13545" in qa.answer("北京住院花了2万能报多少", state, now).text
    outpatient = qa.answer("那门诊呢", state, now)  # same bill, outpatient: needs years insured
    assert state["pending"]["need"] == ["years_insured"], outpatient.text
    assert "2000" in qa.answer("参保三年了", state, now).text  # (20000-650)×50% capped at 2000


def test_follow_up_on_eligibility(qa, now):
    state: dict = {}
    assert "可以" in qa.answer("上海户籍17岁在读高中能参加居民医保吗", state, now).text
    answer = qa.answer("那外地户口呢", state, now)
    assert "居住证" in answer.text  # now it depends on the parents' residence permit


def test_city_reply_fills_hukou_question(qa, now):
    state: dict = {}
    qa.answer("孩子能参加一小吗", state, now)
    assert state["pending"]["need"] == ["hukou_city"]
    qa.answer("北京", state, now)
    assert state["pending"]["need"] != ["hukou_city"]


@pytest.mark.parametrize("question, scheme", [
    ("预审通过后多久要交钱", "sh-child-fund"),
    ("扣款失败提示余额不足怎么办", "bj-child-student"),
    ("名字有生僻字交不了", "nb-civil-servant-children"),
    ("暂停参保以后多久能登记", "xc-hfut-college"),
    ("核定单是什么", "sh-resident-student"),
    ("京卡在哪开", "bj-child-student"),
])
def test_scheme_recognised_from_its_own_vocabulary(qa, now, question, scheme):
    """No city, no scheme name, but words only one pack uses."""
    assert qa.answer(question, {}, now).scheme == scheme


@pytest.mark.parametrize("question", ["新疆班的学生能参加吗", "电话多少", "能退吗", "交多少钱"])
def test_no_guess_when_several_schemes_fit(qa, now, question):
    state: dict = {}
    answer = qa.answer(question, state, now)
    assert answer.scheme is None and state["pending"]["need"] == ["scheme"]


def test_remembered_scheme_without_benefits_defers_to_its_city(qa, now):
    state = {"scheme": "sh-child-fund", "city": "上海"}  # e.g. set by the enrolment form
    answer = qa.answer("三级医院住院花了1万能报多少", state, now)
    assert "5820" in answer.text and answer.scheme == "sh-resident-student"
    assert "150" in qa.answer("交多少钱", {"scheme": "sh-child-fund", "city": "上海"}, now).text


def test_a_bare_hospital_level_is_not_taken_as_the_bill(qa, now):
    state: dict = {}
    qa.answer("上海学生住院能报多少", state, now)
    reply = qa.answer("三级", state, now).text
    assert "3元" not in reply and "费用总额" in reply
    assert "5820" in qa.answer("1万", state, now).text


def test_another_schemes_question_does_not_reuse_the_earlier_bill(qa, now):
    state: dict = {}
    assert "5820" in qa.answer("上海学生三级医院住院花了1万能报多少", state, now).text
    reply = qa.answer("北京一小门诊能报多少", state, now).text
    assert "10000" not in reply


@pytest.mark.parametrize(("question", "expected"), [
    ("上海小学生二级医院住院8000能报多少钱", "5925"),  # a bare amount right after 住院
    ("宁波每个月28号能交医保吗", "27"),  # a day of the month is a window question, not an enrolment
    ("北京的孩子16岁不上学了，非农业户口，能参加一小吗", "可以"),  # the city named is the 户口's city
])
def test_more_paraphrases(qa, now, question, expected):
    assert expected in qa.answer(question, {}, now).text


def test_a_line_quoted_twice_is_said_once(qa, now):
    reply = qa.answer("北京一小扣款余额不足最晚什么时候存钱", {}, now).text
    assert reply.count("次月20日前到银行存入足额现金") == 1


def test_first_year_outpatient_is_refused_without_asking_for_a_bill(qa, now):
    reply = qa.answer("北京一小门诊第一年能报吗", {}, now).text
    assert "不予报销" in reply and "费用总额" not in reply


@pytest.mark.parametrize("question", ["少儿住院互助基金中专生能参加吗", "孩子在上海上幼儿园能参加少儿基金吗"])
def test_fund_eligibility_states_its_conditions_instead_of_asking(qa, now, question):
    reply = qa.answer(question, {}, now).text
    assert "可以参加" in reply and "学校已上传" in reply and "职工基本医疗保险" in reply


def test_a_named_scheme_with_its_city_wins_over_another_city_mentioned(qa, now):
    reply = qa.answer("孩子在北京上小学能参加上海少儿住院互助基金吗", {}, now).text
    assert "少儿住院互助基金" in reply and "不能参加" in reply


def test_out_of_province_university_student_in_beijing(qa, now):
    assert "可以参加" in qa.answer("外省学生在北京读大学能参加北京医保吗", {}, now).text


def test_a_naive_clock_is_taken_as_shanghai_time(qa):
    import datetime as dt

    assert "11月30日" in qa.answer("北京一小几月份参保", {}, dt.datetime(2026, 9, 12, 10)).text


def test_a_place_only_follow_up_asks_the_last_question_about_that_scheme(qa, now):
    state: dict = {}
    assert "160" in qa.answer("北京一小多少钱", state, now).text
    assert "150" in qa.answer("那上海的少儿基金呢", state, now).text
    assert "220" in qa.answer("宁波呢", state, now).text
    state = {}
    qa.answer("少儿基金什么时候交", state, now)
    assert "11月30日" in qa.answer("北京呢", state, now).text
    state = {}
    qa.answer("上海三级医院住院花了1万能报多少", state, now)
    assert "6545" in qa.answer("那北京呢", state, now).text  # the same bill in another scheme


def test_window_answers_quote_only_lines_the_question_is_about(qa, now):
    assert "异地就医" not in qa.answer("北京一小几月份参保", {}, now).text
    assert "12月25日" in qa.answer("上海居民医保学校什么时候缴费截止", {}, now).text


def test_a_fact_that_cannot_change_the_verdict_is_not_asked(qa, now):
    reply = qa.answer("我家宝宝3岁在北京，户口北京的非农，一小能办吗", {}, now).text
    assert "可以参加" in reply
    # …but one that can is still asked: Shanghai's student scheme needs the child in 托幼 or school.
    assert "在校" in qa.answer("上海户口3岁宝宝能参加居民医保吗", {}, now).text


@pytest.mark.parametrize("question", ["北京一小门诊花了500能报吗", "上海居民医保门诊花了250能报吗"])
def test_a_bill_under_every_deductible_is_answered_without_more_questions(qa, now, question):
    reply = qa.answer(question, {}, now).text
    assert "未超过起付线" in reply and "？" not in reply.splitlines()[-1]


@pytest.mark.parametrize("question", ["宝宝刚出生怎么参保", "交了钱能退吗"])
def test_one_common_character_does_not_pick_a_scheme(qa, now, question):
    """刚 appears in one pack only (宣城: 刚提交暂停医保…), 交 in one pack's procedure lines only (宁波):
    neither says which scheme a guardian means, so the bot asks instead of answering about college
    students or Ningbo."""
    state: dict = {}
    reply = qa.answer(question, state, now)
    assert "哪个地方" in reply.text and state["pending"]["need"] == ["scheme"]


def test_may_this_outpatient_treatment_count_as_inpatient(qa, now):
    """The yes/no question is answered first (with the standard that then applies), before the bill."""
    state: dict = {}
    reply = qa.answer("我家娃白血病化疗门诊能按住院报吗 北京", state, now).text
    assert reply.splitlines()[0].startswith("北京“一小”医保：恶性肿瘤放射治疗和化学治疗的门诊费用按住院标准结算")
    assert "住院：起付线650元（材料未写明" in reply and "门（急）诊：" not in reply
    assert "按住院标准结算" in qa.answer("3000", state, now).text


def test_a_scheme_guessed_from_the_wording_says_so(qa, now):
    """Only Beijing's pack speaks of 转学; a guardian who named no place hears whose rules these are."""
    reply = qa.answer("孩子转学了医保怎么办", {}, now).text
    assert reply.startswith("北京“一小”医保") and reply.endswith("如果不是，请告诉我城市或医保名称。）")
    assert len(reply) <= 600
    named = qa.answer("北京一小转学了医保怎么办", {}, now).text  # a place named: no such note
    assert "如果不是" not in named


def test_a_reply_that_adds_another_fact_gets_the_question_again_briefly(qa, now):
    state: dict = {}
    assert "报销标准" in qa.answer("上海居民医保住院报多少", state, now).text
    assert qa.answer("三级医院", state, now).text == "好的。请告诉我医疗费用总额（元）。"
    assert "三级医疗机构报销比例60%" in qa.answer("2万", state, now).text  # the level was kept


def test_what_was_said_about_the_child_carries_to_later_questions(qa, now):
    """"初一" told in a how-to question answers the fee question after it; a new age replaces the stage."""
    state: dict = {}
    qa.answer("我家孩子今年上初一，在宁波，医保怎么交", state, now)
    assert "220" in qa.answer("要交多少钱", state, now).text  # 中小学生, not every tier
    qa.answer("二宝三岁了", state, now)
    reply = qa.answer("交多少钱", state, now).text
    assert "500" in reply and "220" not in reply  # 婴幼儿 now


def test_a_city_named_while_its_scheme_is_asked_stays_the_conversations_city(qa, now):
    """"那上海的呢" after Ningbo asks which Shanghai scheme; a reply that picks none is not answered with
    Ningbo's rules but asked again, with the facts it brought kept."""
    state: dict = {}
    assert "220" in qa.answer("宁波初一学生医保交多少钱", state, now).text
    assert "少儿住院互助基金" in qa.answer("那上海的呢", state, now).text
    reply = qa.answer("孩子三岁", state, now).text
    assert "宁波" not in reply and "少儿住院互助基金" in reply and state["city"] == "上海"
    assert state["pending"]["slots"]["age"] == 3
    assert "150" in qa.answer("1", state, now).text


@pytest.mark.parametrize("question, cover", [
    ("一小交了钱什么时候开始能报", "这一期参保缴费成功后，2027年1月1日至2027年12月31日享受待遇"),  # 9–11月 pays for next year
])
def test_when_cover_starts_is_answered_first(qa, now, question, cover):
    assert qa.answer(question, {}, now).text.startswith(cover)


def test_no_cover_period_is_invented_where_the_seed_gives_none(qa, now):
    """The Shanghai resident insurance seed names the 2021年度 but never says when cover starts or ends."""
    text = qa.answer("上海居民医保什么时候生效", {}, now).text
    assert "1月1日至" not in text and "没有写明" in text


def test_when_the_fund_starts_outside_its_window_names_the_next_school_year(qa):
    import datetime as dt

    from bot.clock import SHANGHAI

    reply = qa.answer("少儿基金交了以后什么时候生效", {}, dt.datetime(2026, 11, 28, 10, tzinfo=SHANGHAI)).text
    assert reply.startswith("下一期参保缴费成功后，2027年9月1日至2028年8月31日享受待遇")
    assert "不予退回" not in reply  # "交了" no longer pulls in the refund rule


def test_no_cover_dates_the_seed_does_not_give(qa, now):
    """Ningbo's monthly windows: the pack's calendar-year period would start before the payment."""
    reply = qa.answer("宁波医保交了什么时候生效", {}, now).text
    assert "没有写明" in reply and "1月1日" not in reply and "12月31日" not in reply


def test_a_line_found_for_an_unclear_question_also_says_whose_rules(qa, now):
    """No intent, no place: the line comes from the one pack whose words match, and the reply says so."""
    state: dict = {}
    reply = qa.answer("怎么查是否参保成功", state, now).text
    assert reply.startswith("北京“一小”医保") and reply.endswith("如果不是，请告诉我城市或医保名称。）")
    assert "如果不是" not in qa.answer("北京一小怎么查是否参保成功", {}, now).text
    assert "如果不是" not in qa.answer("怎么查是否参保成功", state, now).text  # Beijing is now remembered


@pytest.mark.parametrize("question", ["少儿基金怎么参加", "新生儿怎么参加上海居民医保", "怎么参加一小"])
def test_how_to_join_is_a_procedure_question(qa, now, question):
    state: dict = {}
    qa.answer(question, state, now)
    assert state["last"]["intent"] == "procedure"


def test_numbered_steps_are_quoted_from_the_first(qa, now):
    """Lines are picked by relevance, but a step comes with the steps before it."""
    reply = qa.answer("孩子今年9月刚上小学一年级，上海户口，少儿基金怎么参加", {}, now).text
    steps = [line for line in reply.splitlines() if line[:3] in ("· 1", "· 2", "· 3", "· 4", "· 5", "· 6")]
    assert steps and steps[0].startswith("· 1. ")
    numbers = [int(line[2]) for line in steps]
    assert numbers == list(range(1, len(numbers) + 1))


def test_two_schemes_compared_side_by_side(qa, now):
    """Each card from its own pack: who, fee with its year, what it pays, when; no rule linking them is made up."""
    reply = qa.answer("少儿基金和居民医保有什么区别", {}, now).text
    assert reply.startswith("这是两项不同的保障") and "【少儿住院互助基金】" in reply
    assert "150元（2024年度标准）" in reply and "180元（2021年度标准）" in reply
    assert "三级300元" in reply and len(reply) <= 600
    state: dict = {}
    qa.answer("上海居民医保多少钱", state, now)
    assert "【少儿住院互助基金】" in qa.answer("两个都要交吗", state, now).text  # Shanghai's two, not named


@pytest.mark.parametrize("question", ["门诊和住院有什么区别", "我家两个孩子都要办，怎么弄"])
def test_other_questions_with_such_words_are_not_comparisons(qa, now, question):
    assert not qa.answer(question, {"city": "上海"}, now).text.startswith("这是两项不同的保障")


def test_years_insured_answered_with_last_years_payment(qa, now):
    """Asked for years of contribution, "去年交过了" is at least one, "今年第一次交" none."""
    state: dict = {}
    assert "几年" in qa.answer("北京一小门诊花了3000", state, now).text
    assert "1175" in qa.answer("去年交过了", state, now).text  # (3000-650)×50%
    state = {}
    qa.answer("北京一小门诊花了3000", state, now)
    assert "不予报销" in qa.answer("今年第一次交", state, now).text


def test_care_outside_the_city_is_answered_with_what_the_pack_says_of_it(qa, now):
    beijing = qa.answer("北京一小孩子在老家住院花了5000能报多少", {}, now).text
    assert beijing.startswith("在外省市居住或就读") and "3045" in beijing  # the pack's 异地就医 line first
    shanghai = qa.answer("孩子在外地住院了能报吗 上海居民医保", {}, now).text
    assert shanghai.startswith("材料没有写明在外地看病怎么报销")  # Shanghai's seed says nothing of it
    assert "材料没有写明在外地" not in qa.answer("外地户口的孩子在上海三级医院住院花了1万能报多少", {}, now).text


def test_a_place_relative_to_the_city_is_not_remembered_across_cities(qa, now):
    """"本地户口" said about Shanghai is not a Beijing 户口: only absolute places go into the child's memory."""
    state: dict = {}
    qa.answer("本地户口，孩子上初一，上海居民医保交多少钱", state, now)
    assert state["child"].get("school_stage") == "junior" and "hukou_city" not in state["child"]
    qa.answer("户口在北京", state, now)
    assert state["child"]["hukou_city"] == "北京"


def test_using_two_schemes_together_is_not_answered_with_one_schemes_bill(qa, now):
    reply = qa.answer("居民医保和少儿基金可以同时报销吗", {}, now).text
    assert reply.startswith("材料没有写明这两项能否同时使用") and "【少儿住院互助基金】" in reply
    assert not qa.answer("两个孩子同时办可以吗", {"city": "上海"}, now).text.startswith("材料没有写明这两项")


def test_a_when_question_quotes_only_lines_that_say_when(qa, now):
    """Xuancheng's material gives no deadline: the app's steps ("1. 打开…") are not an answer to "什么时候"."""
    reply = qa.answer("合工大续保什么时候交", {}, now).text
    assert reply.startswith("合工大宣城校区大学生医保：材料没有写明参保缴费截止时间") and "打开" not in reply
    assert "24小时" in qa.answer("少儿基金预审通过后多久要缴费", {}, now).text
