"""Answers a guardian can trust: no figure from a guessed scheme, the scheme and year first, the bill asked
about, dates against the bot's clock, two schemes side by side, follow-ups in natural words.

Clock: 2026-12-04 (Shanghai resident insurance's declaration window is open; the Shanghai fund's and
Beijing's are closed; Ningbo takes payments on days 1–27). Figures are worked out from the seeds.
"""
from __future__ import annotations

import datetime as dt

import pytest

from tests.nlu.conftest import SHANGHAI

DEC4 = dt.datetime(2026, 12, 4, 10, 0, tzinfo=SHANGHAI)


def chat(qa, *messages, now=DEC4):
    state: dict = {}
    return [qa.answer(m, state, now).text for m in messages]


@pytest.mark.parametrize("question", [
    "参宝要多少钱", "医保一年交多少", "住院花了一万能报多少", "今天能交吗", "缴费截止到哪天",
])
def test_a_figure_is_never_given_for_a_guessed_scheme(qa, question):
    reply, = chat(qa, question)
    assert "请回复序号" in reply and "元" not in reply.split("请回复序号")[0]


def test_cues_narrow_the_choice_before_asking(qa):
    """Only the schemes with a benefit table can answer a bill; the Shanghai fund and Xuancheng are not offered."""
    reply, = chat(qa, "第一次住院花了3000，这次花了2000，这次能报多少")
    assert "1. 上海市城乡居民" in reply and "2. 北京市" in reply and "少儿住院互助基金" not in reply


def test_a_figure_answer_starts_with_the_scheme_and_year(qa):
    fee, = chat(qa, "少儿基金交多少钱")
    assert fee.startswith("少儿住院互助基金，按2024年度标准：") and "150元" in fee.split("\n")[0]
    bill, = chat(qa, "北京一小住院花了5000能报多少")
    assert bill.startswith("北京“一小”医保，按2015年度标准：") and "3045元" in bill.split("\n")[0]


def test_the_bill_asked_about_is_computed_with_earlier_costs_where_they_count(qa):
    """Beijing's letter does not say whether its 650元 起付线 is per stay or a yearly total: both readings
    are given, (2000 − 650) × 70% = 945 and, the first stay's 3000 having used it up, 2000 × 70% = 1400."""
    _ask, reply = chat(qa, "第一次住院花了3000，这次花了2000，这次能报多少", "2")
    assert reply.startswith("北京“一小”医保，按2015年度标准：住院费用2000元，材料没有写明起付线650元是每次计算还是全年累计")
    assert "预计医保基金支付945元" in reply.split("\n")[0] and "预计医保基金支付1400元" in reply.split("\n")[0]
    # Shanghai's 起付线 is per stay: the 2000 stay alone at a 三级 hospital, (2000 − 300) × 60% = 1020
    reply, = chat(qa, "上海居民医保，第一次住院花了3000，这次在三级医院花了2000，这次能报多少")
    assert "预计医保基金支付1020元" in reply


def test_two_bills_without_a_cue_are_asked_about(qa):
    ask, picked, answered = chat(qa, "上海居民医保住院花了3000，门诊花了2000能报多少", "2", "三级")
    assert "哪一笔" in ask and "1. 3000元" in ask and "3. 合计5000元" in ask
    assert "三级" in picked or "几级" in picked
    assert "(2000 − 300)" not in answered and "2000 − 300 = 1700" in answered and "1020元" in answered


def test_two_stays_summed_where_each_has_its_own_threshold(qa):
    reply, = chat(qa, "上海居民医保两次住院，一次花了3000，一次花了2000，都在三级医院，一共能报多少")
    assert "2640元" in reply  # (3000−300)×60% + (2000−300)×60% = 1620 + 1020


@pytest.mark.parametrize("question, now, lead, must", [
    ("宁波机关子女今天能交吗", DEC4, "可以。", ["12月27日截止"]),
    ("宁波机关子女28号能交吗", DEC4, "不可以。", ["2027年1月1日"]),
    ("北京一小这个月还来得及吗", DEC4, "不可以。", ["2027年9月1日"]),
    ("北京一小这个月还来得及吗", dt.datetime(2026, 10, 8, 10, tzinfo=SHANGHAI), "可以。", ["11月30日"]),
    ("少儿基金现在办还来得及吗", DEC4, "不可以。", ["2027年9月1日"]),
    ("上海居民医保今天能交吗", DEC4, "可以。", ["12月11日", "学校"]),
    ("宁波机关子女下个月能交吗", dt.datetime(2026, 12, 28, 10, tzinfo=SHANGHAI), "可以。", ["1月1日"]),
    ("上海居民医保今年还能办吗", dt.datetime(2026, 9, 10, 10, tzinfo=SHANGHAI), "可以。", ["11月17日起", "12月11日截止"]),
    ("少儿住院基金今年还能交吗", DEC4, "不可以。", ["2027年9月1日"]),
    # a month and day: the coming one, or — when it has just passed — now
    ("少儿住院基金9月30号以后还能交吗", DEC4, "不可以。", ["今年9月30日已过", "2027年9月1日"]),
    ("上海居民医保12月12号还能申报吗", DEC4, "不可以。", ["12月12日", "2027年11月17日"]),
    ("上海居民医保12月10号还能申报吗", DEC4, "可以。", ["12月11日截止"]),
    ("宁波机关子女1月28号能交吗", DEC4, "不可以。", ["2027年2月1日"]),
])
def test_can_i_do_it_now_is_answered_yes_or_no_against_the_calendar(qa, question, now, lead, must):
    reply, = chat(qa, question, now=now)
    assert reply.startswith(lead), reply
    assert all(m in reply for m in must), reply


def test_a_new_question_is_answered_while_another_waits(qa):
    first, second = chat(qa, "上海居民医保住院能报多少", "今天能交吗")
    assert "费用总额" in first
    assert second.startswith("可以。上海居民医保") and "几级" not in second


def test_two_schemes_in_one_question_side_by_side(qa):
    reply, = chat(qa, "宣城合工大的和上海中小学生医保交费差多少")
    assert "180元" in reply and "380元" in reply and "相差200元" in reply
    assert "2021" in reply and "2024" in reply
    both, = chat(qa, "两个都买了住院都能报吗")
    assert both.startswith("材料没有写明这两项能否同时使用") and "【少儿住院互助基金】" in both


def test_follow_ups_in_natural_words_answer_the_pending_question(qa):
    _tiers, fee = chat(qa, "宁波机关子女交多少", "16了")
    assert "220元" in fee and "500元" not in fee
    _ask, verdict = chat(qa, "上海居民医保能参加吗", "不是，我们是外地户口")
    assert "户籍" not in verdict.split("\n")[-1] or "居住证" in verdict


def test_a_fact_given_is_not_asked_again(qa):
    reply, = chat(qa, "北京孩子还没上幼儿园，非农业户口，北京户籍，能参加一小吗")
    assert "是否在校" not in reply and "户籍（户口）在哪个城市" not in reply


def test_negated_facts_decide_eligibility(qa):
    reply, = chat(qa, "宁波机关单位子女，孩子不是本地户口，能参加吗")
    assert "户籍（户口）在哪个城市" not in reply


@pytest.mark.parametrize("text", ["", "😀😀😀", "a" * 4000, "\x00\x07控制字符", "上海shanghai少儿fund多少钱？？", "١٢٣"])
def test_bad_input_gets_a_reply(qa, text):
    reply, = chat(qa, text)
    assert reply and "出了点问题" not in reply


def test_english_questions_get_the_bots_own_parts_in_english(qa):
    fee, = chat(qa, "How much is the Shanghai children's hospitalization fund a year?")
    assert fee.startswith("Shanghai Children's Hospitalization Mutual Fund") and "150 yuan a school year" in fee
    assert "2024 standard" in fee and "个人缴费150元" in fee  # the pack's Chinese line follows as it is
    ask, answer = chat(qa, "How much is the fee?", "3")
    assert ask.startswith("Which scheme do you mean?") and "3. Beijing" in ask
    assert answer.startswith("Beijing") and "160 yuan" in answer
    bill, = chat(qa, "My daughter is a middle school student in Shanghai with resident medical insurance. "
                     "The hospital bill was 10000 yuan at a level 3 hospital. How much is reimbursed?")
    assert "5820 yuan" in bill.split("\n")[0]
    verdict, = chat(qa, "My son is 17, has Shanghai hukou and studies in high school. "
                        "Can he join Shanghai resident medical insurance?")
    assert verdict.startswith("Yes")
    infant, = chat(qa, "Ningbo, child of a civil servant, under 6 years old: what is the yearly fee?")
    assert "500 yuan" in infant.split("\n")[0]


@pytest.mark.parametrize("question", ["中小学生医保交多少钱", "上海孩子医保一年多少钱", "大学生医保交多少", "学生医保住院起付线多少"])
def test_a_name_several_schemes_go_by_is_asked_about(qa, question):
    reply, = chat(qa, question)
    assert "请回复序号" in reply and "元" not in reply.split("请回复序号")[0]


def test_a_city_before_a_generic_name_picks_its_scheme(qa):
    reply, = chat(qa, "宁波城乡居民医保中小学生交多少")
    assert "220元" in reply
    compared, = chat(qa, "少儿基金和居民医保有什么区别")
    assert "【少儿住院互助基金】" in compared and "【上海居民医保" in compared


@pytest.mark.parametrize("question, unrelated", [
    ("宁波机关子女医保什么时候开始享受待遇", "9月1"),  # cover: not in the seed, and the window is no answer
    ("北京一小交了以后能退费吗", "确认表"),          # refunds: the letter never mentions them
])
def test_a_seed_silent_on_the_question_says_so(qa, question, unrelated):
    reply, = chat(qa, question)
    assert "没有写明" in reply and unrelated not in reply


def test_negated_hukou_words_count_as_the_other(qa):
    no, = chat(qa, "不是上海户口，也没有居住证，孩子在上海读初中，能参加上海城乡居民医保吗")
    assert no.startswith("按规定不能")
    rural, = chat(qa, "我们是北京农业户口，父母都不是非农业户口，孩子在北京上小学，能参加一小吗")
    assert rural.startswith("按规定不能")
    urban, = chat(qa, "北京户口，不是农业户口，孩子在北京读高中，能参加一小吗")
    assert urban.startswith("可以参加")


def test_two_schemes_side_by_side_for_any_question(qa):
    phones, = chat(qa, "上海少儿住院互助基金和上海城乡居民医保的咨询电话分别是多少")
    assert "12345" in phones and "【上海居民医保" in phones
    fees, = chat(qa, "宁波婴幼儿医保和上海少儿住院互助基金哪个交得多")
    assert "500元" in fees and "150元" in fees and "相差350元" in fees
    bills, = chat(qa, "北京一小和上海中小学生居民医保，住院花一万分别能报多少？上海那边是三级医院")
    assert "6545元" in bills and "5820元" in bills


def test_several_visits_and_stays_each_counted_as_the_seed_says(qa):
    visits, = chat(qa, "上海居民医保中小学生门诊，今年在三级医院看了两次，一次800一次600，一共能报多少")
    assert "550元" in visits  # yearly 起付线: (1400 − 300) × 50%
    stays, = chat(qa, "上海小学生居民医保，一级医院住院花了2000，后来二级医院又住了一次花了3000，两次一共能报多少")
    assert "3735元" in stays  # (2000 − 50) × 80% + (3000 − 100) × 75%


def test_fees_for_several_children_add_up(qa):
    ningbo, = chat(qa, "宁波机关子女医保，家里两个孩子，一个4岁一个10岁，一共交多少")
    assert "一共720元" in ningbo
    fund, = chat(qa, "两个孩子都在上海上小学，少儿住院互助基金一共交多少")
    assert "一共300元" in fund


def test_a_deadline_running_from_the_guardians_own_step(qa):
    late, = chat(qa, "少儿基金昨天上午9点预审通过的，现在还能交钱吗", now=dt.datetime(2026, 9, 11, 10, tzinfo=SHANGHAI))
    assert late.startswith("不可以。") and "重新申请" in late
    fine, = chat(qa, "少儿基金今天早上8点预审通过的，现在还能交钱吗", now=dt.datetime(2026, 9, 11, 10, tzinfo=SHANGHAI))
    assert fine.startswith("可以。") and "9月12日8:00" in fine


def test_next_month_in_a_quoted_line_is_dated(qa):
    reply, = chat(qa, "北京一小9月扣款提示余额不足，最晚哪天存钱", now=dt.datetime(2026, 9, 28, 10, tzinfo=SHANGHAI))
    assert "10月20日" in reply


def test_today_with_a_joining_word_is_still_about_the_date(qa):
    reply, = chat(qa, "宁波机关子女医保今天能参保吗", now=dt.datetime(2026, 3, 15, 10, tzinfo=SHANGHAI))
    assert reply.startswith("可以。") and "27日" in reply


def test_a_how_to_question_is_not_a_request_to_start_the_form(nlu):
    assert nlu.understand("宁波医保通app怎么给孩子参宝").intent == "procedure"
    assert nlu.understand("我要参保").intent == "enroll"


def test_care_elsewhere_is_answered_with_what_the_pack_says_of_it(qa):
    reply, = chat(qa, "上海中小学生居民医保在外地看病能报吗")
    assert reply.startswith("材料没有写明在外地看病怎么报销")


def test_a_closed_main_route_is_said_with_the_routes_left(qa):
    _ask, reply = chat(qa, "孩子能参加北京一小吗", "不是，我们是外地户口")
    assert "不符合" in reply and "父母一方" in reply and "工作居住证" in reply
    # the Shanghai fund's offline route is the same way in, not a closed one
    fund, = chat(qa, "孩子的学校没有上传个人基本信息，还能参加少儿住院互助基金吗")
    assert "不符合" not in fund


def test_reform_school_is_a_school_stage(nlu):
    assert nlu.understand("孩子在北京的工读学校读书").slots.get("school_stage") == "reform"


def test_two_questions_in_one_message_are_both_answered_in_their_order(qa):
    reply, = chat(qa, "少儿基金多少钱？啥时候截止？", now=dt.datetime(2026, 9, 10, 10, tzinfo=SHANGHAI))
    assert "150元" in reply and "9月30日" in reply and reply.index("150元") < reply.index("9月30日")
    ningbo, = chat(qa, "宁波机关子女医保交多少钱，什么时候交")
    assert "220元" in ningbo and "27日" in ningbo
    one, = chat(qa, "孩子16了，在宁波读高一，机关单位子女，交多少")
    assert "220元" in one and "截止" not in one


def test_a_stage_that_settles_the_age_question_is_enough(qa):
    reply, = chat(qa, "俺家娃在北京上幼儿园，户口是北京的非农业，能参加一小不")
    assert reply.startswith("可以参加")


def test_after_a_day_means_the_day_after(qa):
    reply, = chat(qa, "宁波机关子女27号以后还能交吗", now=dt.datetime(2026, 9, 10, 10, tzinfo=SHANGHAI))
    assert reply.startswith("不可以。") and "10月1日" in reply


def test_a_fact_said_later_about_the_same_child_keeps_the_earlier_ones(qa):
    _ask, verdict, again = chat(qa, "宁波机关子女能参加吗", "16了", "在读高一")
    assert verdict.startswith("可以参加") and again.startswith("可以参加") and "多大" not in again


def test_an_age_said_without_a_unit(nlu):
    assert nlu.understand("孩子今年十六了").slots.get("age") == 16
    assert "age" not in nlu.understand("花了3000了").slots


def test_a_yes_no_bill_question_leads_with_the_yes(qa):
    reply, = chat(qa, "北京一小住院能报吗")
    assert reply.startswith("可以报销。北京")
    conditional, = chat(qa, "北京一小门诊能报吗")  # only after a year insured: no bare yes
    assert not conditional.startswith("可以")


def test_english_negation_and_the_tier_chosen(qa):
    reply, = chat(qa, "My kid has no Shanghai hukou. Can he join Shanghai resident medical insurance? "
                      "He is in primary school in Shanghai.")
    assert not reply.startswith("Yes") and "不符合" in reply
    baby, = chat(qa, "How much does Ningbo charge for a baby?")
    assert "500 yuan a year" in baby.split("\n")[0]


def test_a_note_the_guardians_facts_rule_out_is_not_shown(qa):
    reply, = chat(qa, "不是低保家庭，上海居民医保要交多少")
    assert "180元" in reply and "如属于" not in reply
    plain, = chat(qa, "上海居民医保要交多少")
    assert "如属于" in plain


@pytest.mark.parametrize("ack", ["ok", "OK", "嗯", "好的"])
def test_an_acknowledgement_is_no_figure_and_no_answer(qa, ack):
    _ask, reply = chat(qa, "上海居民医保住院在三级医院能报多少", ack)
    assert "预计医保基金支付" not in reply and "1000" not in reply


def test_a_bare_place_answers_with_its_own_words_not_the_questions_city(qa):
    _ask, reply = chat(qa, "上海居民医保能参加吗", "外地的")
    assert "不符合" in reply  # 外地, not the 上海 of the question
    _ask, local = chat(qa, "上海居民医保能参加吗", "上海的")
    assert "户籍（户口）在哪个城市" not in local


def test_no_figure_from_an_ordinary_word_only_one_pack_uses(qa):
    for question in ("孩子上幼儿园要交多少", "化疗门诊花了1万能报多少"):
        reply, = chat(qa, question)
        assert "请回复序号" in reply, question


def test_a_failed_deduction_month_is_answered_with_the_dates_still_ahead(qa):
    oct26 = dt.datetime(2026, 10, 26, 10, tzinfo=SHANGHAI)
    october, = chat(qa, "北京一小10月扣款没成功，还来得及吗", now=oct26)
    assert "11月19日前" in october and "11月20日前" in october
    september, = chat(qa, "北京一小9月扣款失败了，现在还来得及吗", now=oct26)
    assert "9月的相关截止日期已过" in september and "11月19日前" in september and "即10月" not in september
    november, = chat(qa, "北京一小11月扣款失败了，还来得及吗", now=dt.datetime(2026, 12, 2, 10, tzinfo=SHANGHAI))
    assert "12月19日" not in november and "不能享受次年" in november


def test_an_english_refund_question_gets_its_no(qa):
    reply, = chat(qa, "Can I get a refund after paying the Shanghai children's hospitalization fund?")
    assert reply.startswith("No, ") and "不予退回" in reply


def test_what_was_reimbursed_this_year_counts_toward_the_cap(qa):
    reply, = chat(qa, "北京一小今年已经报了16万，这次住院又花了3万，能报多少")
    assert "预计医保基金支付10000元" in reply  # 170000 − 160000 left under the yearly cap


def test_english_the_fund_is_the_childrens_fund_and_its_silence_is_said(qa):
    reply, = chat(qa, "Does the Shanghai fund cover outpatient visits?")
    assert reply.startswith("Shanghai Children's Hospitalization Mutual Fund") and "does not state" in reply


@pytest.mark.parametrize("text, permit", [
    ("我们不是上海户口，也没有居住证积分", None),     # no points: the B类 route is still open, so it is asked
    ("积分不够，也没有B类居住证", None),
    ("没有居住证", "none"),
    ("不是B类居住证，积分达标了", "points"),
])
def test_a_denied_residence_permit_is_never_read_as_held(nlu, text, permit):
    assert nlu.understand(text).slots.get("parent_residence_permit") == permit


def test_no_hukou_and_no_permit_points_is_never_answered_yes(qa):
    """The points route denied in the question must not make the child eligible through that very route."""
    reply, = chat(qa, "我们不是上海户口，也没有居住证积分，孩子在上海上小学，能参加上海居民医保吗")
    assert not reply.startswith("可以") and "不符合" in reply.split("\n")[0]
    answered, = chat(qa, "我们不是上海户口，也没有居住证积分，孩子在上海上小学，能参加上海居民医保吗", "没有")[-1:]
    assert answered.startswith("按规定不能参加")


NINGBO_AUDIENCE = "材料里宁波只有机关事业单位工作人员子女"
XUANCHENG_AUDIENCE = "材料里宣城只有合肥工业大学宣城校区大学生"


def test_a_pack_for_some_children_only_says_so_once_before_its_figures_are_taken(qa):
    """Xuancheng's seed is one campus's guide: its 380 yuan is not what a toddler in Xuancheng pays."""
    fee, deadline = chat(qa, "宣城医保交多少钱", "什么时候截止")
    first, second = fee.split("\n")[:2]
    assert "380元" in first and second.startswith(XUANCHENG_AUDIENCE)
    assert XUANCHENG_AUDIENCE not in deadline  # once per conversation
    menu, = chat(qa, "宁波学生医保")
    assert NINGBO_AUDIENCE in menu and "请问您想了解" in menu


@pytest.mark.parametrize("question", ["宁波机关事业单位子女医保多少钱", "我是公务员，宁波孩子医保交多少",
                                      "合工大宣城校区医保交多少钱"])
def test_no_audience_note_when_the_guardian_already_is_that_audience(qa, question):
    reply, = chat(qa, question)
    assert NINGBO_AUDIENCE not in reply and XUANCHENG_AUDIENCE not in reply


def test_materials_are_the_documents_to_bring_not_notes_about_the_seed(qa):
    """The packs' own notes say "材料中…" of the seed document: they never answer 要带什么材料."""
    reply, = chat(qa, "宁波学生医保要带什么材料")
    assert "一寸白底彩色证件照" in reply and "监护关系证明" in reply
    assert "原文如此" not in reply and "保税区" not in reply


@pytest.mark.parametrize("question, deadline, materials", [
    ("宁波学生医保什么时候截止？要带什么材料？", "27日", "一寸白底彩色证件照"),
    ("北京的学生医保截止日期和要带的材料", "11月30日", "全家户口本"),
    ("上海少儿住院基金要带什么证件，几号截止", "9月30日", "有效身份证件"),
])
def test_two_questions_in_one_message_each_get_their_own_answer(qa, question, deadline, materials):
    reply, = chat(qa, question)
    assert deadline in reply and materials in reply
    # the materials half is answered from the materials, not from the deadline lines
    assert reply.count("截止") <= 3


@pytest.mark.parametrize("question", ["孩子住院和门诊能报多少", "上海和宁波哪个便宜", "我要参保和缴费"])
def test_a_joined_phrase_about_one_thing_is_not_split_into_two_answers(qa, question):
    one = chat(qa, question)[0]
    assert one.count("（依据") <= 1


def test_a_child_the_audience_pack_rules_out_gets_no_steps_from_it(qa):
    """A junior-school pupil in Xuancheng: the campus guide's 380 yuan and payment steps are not theirs."""
    reply, = chat(qa, "娃儿在宣城读初中，医保咋个交")
    assert "不符合参保条件" in reply and "只适用于合肥工业大学宣城校区的大学生" in reply
    assert "380" not in reply and "缴费渠道" not in reply


@pytest.mark.parametrize("question", ["宁波医保交多少钱，我们不是机关单位的", "我们家不是公务员，宁波孩子医保要交多少钱"])
def test_a_guardian_who_denies_the_audience_is_told_the_guide_is_not_theirs(qa, question):
    reply, = chat(qa, question)
    assert reply.startswith("按您说的情况（孩子不是机关事业单位工作人员子女）") and "220元" not in reply


@pytest.mark.parametrize("question", ["少儿住院基金和居民医保都要买吗", "上海这两个医保只买一个行不行"])
def test_whether_both_schemes_are_needed_is_not_answered_beyond_the_seeds(qa, question):
    """Neither Shanghai seed says whether a child must join both: the bot says so, then the two cards."""
    reply, = chat(qa, question)
    assert reply.startswith("两份材料都没有说是否必须两项都参加") and "【少儿住院互助基金】" in reply
    assert "【上海居民医保（中小学生和婴幼儿）】" in reply


def test_the_audience_is_remembered_once_however_often_it_is_denied(qa):
    state: dict = {}
    for _ in range(3):
        qa.answer("宁波医保交多少钱，我们不是机关单位的", state, DEC4)
    assert state["audience_told"] == ["nb-civil-servant-children"]


@pytest.mark.parametrize("question, scheme_name", [
    ("孩子读大学了，上海少儿住院基金还能交吗", "少儿住院互助基金"),
    ("孩子上大学了，少儿住院基金一年多少钱", "少儿住院互助基金"),
    ("孩子在宣城读初中，医保咋交", "合工大宣城校区大学生医保"),
])
def test_a_child_the_facts_rule_out_is_told_so_instead_of_the_schemes_window_or_fee(qa, question, scheme_name):
    reply, = chat(qa, question, now=dt.datetime(2026, 9, 10, 10, 0, tzinfo=SHANGHAI))
    assert reply.startswith(f"按规定不能参加{scheme_name}") or "不能参加" in reply.splitlines()[0], reply
    assert "还有" not in reply and "元/年" not in reply  # no window countdown, no fee as if it were theirs


def test_a_hospital_named_after_a_university_does_not_rule_the_child_out(qa):
    reply, = chat(qa, "孩子在复旦大学附属儿科医院住院花了2万，上海居民医保能报多少")
    assert "不能参加" not in reply and "大学生" not in reply and "元" in reply


def test_a_pack_silent_on_university_students_says_so_before_its_fee(qa):
    reply, = chat(qa, "上海居民医保大学生交多少")
    assert reply.splitlines()[0].endswith("的材料里没有提到“大学生”，下面是相关的内容：")
    beijing, = chat(qa, "北京一小大学生交多少")  # Beijing's letter names 高校 students
    assert "没有提到“大学生”" not in beijing


@pytest.mark.parametrize("question", ["孩子没户口能参保吗", "户口不在本地的孩子能参加吗"])
def test_a_general_word_one_pack_happens_to_spell_so_does_not_pick_the_scheme(qa, question):
    reply, = chat(qa, question)
    assert "请回复序号" in reply and "以上按" not in reply


def test_a_rule_quoted_with_its_explanation_reads_as_two_sentences(qa):
    reply, = chat(qa, "学校没上传信息怎么办，少儿住院互助基金")
    assert "线下办理参保学校还没有" not in reply and "个人基本信息可在" not in reply


def test_the_same_question_asked_again_about_another_case_in_one_message_gets_both_answers(qa):
    sept = dt.datetime(2026, 9, 10, 10, tzinfo=SHANGHAI)
    both, = chat(qa, "宁波医保婴儿多少钱 中学生多少", now=sept)
    assert "婴幼儿（6周岁以下）个人缴费500元" in both and "个人缴费220元" in both
    bills, = chat(qa, "上海居民医保住院1万块三级医院报多少？门诊呢？")
    assert "预计医保基金支付5820元" in bills and "门（急）诊费用10000元" in bills
    assert bills.count("2. 超过起付线部分") == 2  # each worked figure keeps all its steps
    silent, = chat(qa, "上海居民医保孩子要交多少，大学生呢")
    assert "180元" in silent and "的材料里没有提到“大学生”。" in silent and "下面是相关的内容" not in silent


def test_one_scheme_done_is_the_other_needed_too_says_the_seeds_do_not_tell(qa):
    reply, = chat(qa, "少儿基金已经交过了，居民医保还要办吗")
    assert reply.startswith("两份材料都没有说是否必须两项都参加") and "150元" in reply and "180元" in reply


@pytest.mark.parametrize("question", ["孩子9岁上海户口，在上海读三年级，两个都买一共多少钱", "少儿基金和居民医保加起来多少钱"])
def test_two_schemes_fees_added_say_their_years_and_periods(qa, question):
    reply, = chat(qa, question)
    assert "两项个人缴费合计330元" in reply and "年份不同" in reply and "按学年" in reply


def test_whether_two_schemes_add_up_for_one_bill_is_said_to_be_unwritten(qa):
    reply, = chat(qa, "上海少儿基金和居民医保报销能叠加吗")
    assert reply.startswith("材料没有写明这两项能否同时使用")


def test_a_fee_exempt_child_is_told_no_card_is_registered_and_no_card_steps_follow(qa):
    reply, = chat(qa, "北京一小免缴的孩子还要网上登记银行卡吗")
    assert "免予缴费" in reply and "不用网上申报缴费卡、折信息" in reply
    assert "录入用于缴费的卡、折信息" not in reply and "卡号或存折号" not in reply


def test_a_school_that_uploads_or_not_is_taken_as_a_nursery_or_school_and_said_so(qa):
    reply, = chat(qa, "孩子的学校没有上传个人基本信息，还能参加少儿住院互助基金吗")
    assert reply.startswith("可以参加") and "线下" in reply and "以上按孩子在托幼机构或中小学校" in reply
    asked, = chat(qa, "孩子在上海上学能参加少儿基金吗")  # no school named: a university student is possible
    assert "学段" in asked and "可以参加" not in asked


@pytest.mark.parametrize("question", ["宁波的学生医保交多少，孩子10岁，我是企业员工", "我是外地人在宁波打工，孩子能参加宁波医保吗"])
def test_a_parent_at_a_company_hears_the_ningbo_guide_is_for_civil_servants_children(qa, question):
    reply, = chat(qa, question)
    assert reply.startswith("按您说的情况（孩子不是机关事业单位工作人员子女）") and "220元" not in reply


def test_a_civil_servants_family_is_not_shown_the_line_for_other_children(qa):
    reply, = chat(qa, "宁波公务员的孩子医保怎么交")
    assert "未参加原机关子女医疗统筹" not in reply and "宁波税务" in reply


@pytest.mark.parametrize("question", ["少儿住院基金报销需要什么材料", "宁波医保报销要什么证件"])
def test_materials_for_a_claim_are_said_to_be_unlisted_before_the_enrolment_ones(qa, question):
    reply, = chat(qa, question)
    assert "的材料里没有列出报销时要带的材料" in reply.splitlines()[0]
    assert "没有列出报销" not in chat(qa, "上海居民医保要准备哪些材料")[0]


def test_materials_for_a_claim_keep_what_the_seed_does_not_name(qa):
    reply, = chat(qa, "少儿住院基金报销需要发票等哪些材料")
    assert "没有列出报销时要带的材料" in reply and "没有提到“发票”" in reply
