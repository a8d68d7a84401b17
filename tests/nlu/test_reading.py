"""Reading what guardians really type: typos and homophones of domain words, negation with its scope,
English, several amounts in one message, dates asked about, and junk input."""
from __future__ import annotations

import pytest

from bot.nlu.english import EnglishReader, is_english
from bot.nlu.typos import TypoCorrector, sounds_alike


@pytest.mark.parametrize("typed, meant", [
    ("参宝要多少钱", "参保要多少钱"),
    ("医宝住院能保销多少", "医保住院能报销多少"),
    ("少儿基今什么时候交", "少儿基金什么时候交"),
    ("静按区的小学生", "静安区的小学生"),
    ("上一部", "上一步"),
    ("户扣在外地", "户口在外地"),
    ("少而基金多少钱", "少儿基金多少钱"),   # a function character, but the long word anchors it
    ("宁博机关子女", "宁波机关子女"),
])
def test_homophones_of_domain_words_are_corrected(nlu, typed, meant):
    assert nlu.read(typed)[0] == meant


@pytest.mark.parametrize("text", [
    "可以保证吗",          # 以保 sounds like 医保, but 可以 is a word
    "马上还可以交吗",      # 上还 sounds like 上海: 还 is a word of its own
    "宝宝今年三岁",
    "我想问一下报名的事",
    "孩子今年上一年级",
])
def test_ordinary_words_are_not_corrected(nlu, text):
    assert nlu.read(text)[0] == text


def test_correction_needs_one_character_that_sounds_alike():
    corrector = TypoCorrector(["报销", "医保"])
    assert corrector.correct("保销") == "报销"
    assert corrector.correct("保险") == "保险"   # two characters differ
    assert corrector.correct("医包") == "医保"   # 包 bāo / 保 bǎo
    assert corrector.correct("医跑") == "医跑"   # one character differs but does not sound alike
    assert sounds_alike("是", "四")              # sh/s merge for southern accents and voice input
    assert not sounds_alike("a", "b")


def test_a_command_with_a_typo_is_the_command(nlu):
    assert nlu.command("上一部") == "上一步"
    assert nlu.command("上一步") == "上一步"
    assert nlu.command("黄浦区北京东路小学") == "黄浦区北京东路小学"


@pytest.mark.parametrize("text, name, value", [
    ("宁波机关单位子女，孩子不是本地户口，能参加吗", "hukou_city", "外地"),
    ("户口不是本地的", "hukou_city", "外地"),
    ("孩子还没上幼儿园", "in_school", False),
    ("已经不读书了", "in_school", False),
    ("孩子不是学生", "in_school", False),
    ("孩子不在上海读书，上海户口", "school_city", "外地"),
    ("我们去年没交过", "insured_last_year", False),
    ("没交过，第一次", "insured_last_year", False),
    ("不是低保家庭，要交多少", "hardship", False),
    ("孩子不属于新疆班", "special_class", False),
    ("在家带", "in_school", False),
])
def test_a_negated_fact_is_false(nlu, text, name, value):
    assert nlu.understand(text).slots.get(name) == value


def test_negation_stays_in_its_clause(nlu):
    slots = nlu.understand("不是外地的，孩子是新疆班的学生").slots
    assert slots.get("special_class") is True
    assert nlu.understand("是不是低保家庭的孩子才免").slots.get("hardship") is not False
    assert nlu.understand("孩子不是学生").slots.get("person_group") != "student"


def test_english_reads_as_the_same_intent_and_slots(nlu):
    u = nlu.understand("How much is the Shanghai children's hospitalization fund a year?")
    assert (u.lang, u.intent, u.slots.get("scheme")) == ("en", "fee", "sh-child-fund")
    u = nlu.understand("Can my 5-year-old in Beijing join?")
    assert (u.lang, u.intent, u.slots.get("city"), u.slots.get("age")) == ("en", "eligibility", "北京", 5)
    u = nlu.understand("My son stayed in hospital in Shanghai, a level 3 hospital, the bill was 10000 yuan. How much is reimbursed?")
    assert u.intent == "reimbursement"
    assert (u.slots.get("kind"), u.slots.get("hospital_level"), u.slots.get("amount")) == ("inpatient", 3, 10000)


@pytest.mark.parametrize("text, intent", [
    ("Is my son covered by the Shanghai fund?", "eligibility"),  # may the child join
    ("is my daughter covered by the beijing one if she studies in hebei?", "eligibility"),
    ("is a hospital stay covered?", "reimbursement"),  # a bill
])
def test_covered_asks_about_the_child_or_about_a_bill(nlu, text, intent):
    assert nlu.understand(text).intent == intent


def test_english_words_match_whole_words_only():
    reader = EnglishReader({"hi": "你好", "fee": "缴费标准"})
    assert "你好" not in reader.translate("children")
    assert reader.translate("what is the fee").strip() == "缴费标准"
    assert is_english("Can my kid join?") and not is_english("北京一小A档") and not is_english("ok")


@pytest.mark.parametrize("text, amount, earlier", [
    ("第一次住院花了3000，这次花了2000，这次能报多少", 2000, 3000),
    ("上次门诊花了800，这回又花了500，能报多少", 500, 800),
])
def test_the_amount_asked_about_is_picked(nlu, text, amount, earlier):
    slots = nlu.understand(text).slots
    assert (slots.get("amount"), slots.get("costs_this_year")) == (amount, earlier)


def test_several_amounts_without_a_cue_are_kept_to_ask(nlu):
    slots = nlu.understand("住院花了3000，门诊花了2000能报多少").slots
    assert "amount" not in slots and slots["amount_choices"] == [3000, 2000]
    slots = nlu.understand("两次住院，一次花了3000，一次花了2000，一共能报多少").slots
    assert (slots["amount"], slots["amount_parts"]) == (5000, [3000, 2000])
    assert nlu.understand("交了150元，住院花了5000能报多少").slots["amount"] == 5000


@pytest.mark.parametrize("text, when", [
    ("今天能交吗", "today"),
    ("这个月还来得及吗", "this_month"),
    ("现在办还来得及吗", "today"),
    ("28号能交吗", "day:28"),
    ("明天还可以办吗", "tomorrow"),
    ("今年还能办吗", "this_year"),
])
def test_a_date_asked_about_is_a_calendar_question(nlu, text, when):
    u = nlu.understand(text)
    assert (u.intent, u.slots.get("when_asked")) == ("deadline", when)


def test_a_new_question_is_not_taken_for_the_answer_we_wait_for(nlu):
    pending = {"pending": {"intent": "reimbursement", "need": ["hospital_level"]}}
    assert nlu.understand("今天能交吗", pending).intent == "deadline"
    assert nlu.understand("三级", pending).intent == "reimbursement"
    assert nlu.understand("三级医院", pending).intent == "reimbursement"


@pytest.mark.parametrize("text", [
    "", " ", "\x00\x01\x02", "😀😀😀", "🏥💰？", "a" * 4000, "报销" * 2000, "上海shanghai少儿fund多少钱",
    "\u200b\u200b", "١٢٣", "ＡＢＣ１２３", "\ud7ff", "参保\n\n\t交多少",
])
def test_junk_never_raises(nlu, text):
    u = nlu.understand(text)
    assert u.intent


@pytest.mark.parametrize("text, amount", [
    ("住院押金交了5000，出院结算8000，能报多少", 8000),         # a deposit is not the bill
    ("孩子住院一共花了1万2，自己付了3千，医保能报多少", 12000),  # nor what the family paid itself
    ("孩子上个月住院花了4000，这个月门诊花了500，门诊能报多少", 500),  # the bill of the kind asked about
])
def test_money_that_is_not_the_bill_is_left_out(nlu, text, amount):
    assert nlu.understand(text).slots.get("amount") == amount


def test_a_bill_question_with_a_month_is_no_calendar_question(nlu):
    u = nlu.understand("这个月门诊花了500，能报多少")
    assert u.intent == "reimbursement" and "when_asked" not in u.slots


def test_a_name_one_sound_from_a_destructive_command_stays_a_name(nlu):
    assert nlu.command("取萧") == "取萧"  # 取消 would end the form


def test_pinyin_left_in_latin_letters_is_read(nlu):
    u = nlu.understand("上海shaoer基金多少钱")
    assert (u.intent, u.slots.get("scheme")) == ("fee", "sh-child-fund")


def test_pinyin_is_not_english(nlu):
    assert nlu.understand("yibao能baoxiao多少").lang == "zh"


def test_this_year_is_asked_about_only_when_tied_to_the_doing(nlu):
    assert nlu.understand("孩子户口在上海，今年读高三，19岁了，居民医保还能交吗").slots.get("when_asked") is None
    assert nlu.understand("上海居民医保今年还能办吗").slots.get("when_asked") == "this_year"


def test_a_long_word_with_one_wrong_character_is_corrected_beside_an_ordinary_word(nlu):
    # "金门" is a word, but the wrong character (而) is inside 少而基金, not at its edge
    assert nlu.read("上海少而基金门镇能报吗")[0].startswith("上海少儿基金")
    assert nlu.read("基今年")[0] == "基今年"  # the changed character would belong to 今年


def test_an_english_hospital_stay_and_payment_methods_are_read(nlu):
    u = nlu.understand("How much will I get back if my son stays in a tier 3 hospital in Shanghai and the bill is 20000 yuan?")
    assert (u.intent, u.slots.get("kind"), u.slots.get("hospital_level"), u.slots.get("amount")) == \
        ("reimbursement", "inpatient", 3, 20000)
    assert "支付宝" in nlu.understand("Can I pay the Ningbo insurance with Alipay?").text
