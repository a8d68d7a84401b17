"""Validators: GB 11643 ID numbers, phones, bank cards (Luhn), names, dates."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialogs.validators import (
    ValidationError, age_on, check_address, check_bank_card, check_date, check_free_text, check_hk_macau_permit,
    check_id_number, normalize_id_number, check_luhn, check_name, check_passport, check_phone, check_residence_permit,
    generate_id_number, luhn_check_digit, parse_yes_no,
)

births = st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2025, 12, 31))
sexes = st.sampled_from(["男", "女"])
regions = st.sampled_from(["310101", "330203", "110108", "341802", "440305"])


@settings(max_examples=200, deadline=None)
@given(births, sexes, regions, st.integers(0, 999))
def test_generated_ids_always_validate(birth, sex, region, seq):
    number = generate_id_number(birth, sex, region=region, seq=seq)
    info = check_id_number(number)
    assert (info.birth_date, info.sex, info.region) == (birth, sex, region)


@settings(max_examples=200, deadline=None)
@given(births, sexes, st.integers(0, 999), st.integers(0, 16), st.integers(1, 9))
def test_one_changed_digit_never_validates(birth, sex, seq, position, delta):
    number = generate_id_number(birth, sex, seq=seq)
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1:]
    with pytest.raises(ValidationError):
        check_id_number(changed)


@pytest.mark.parametrize("text, fragment", [
    ("", "没有收到"),
    ("31010120150302123", "18位"),
    ("3101012015030212345", "18位"),
    ("31010120150302123A", "数字"),
    ("3101012015X3021234", "最后一位"),
    ("310101201502301234", "出生日期"),
    ("x" * 500, "太长"),
])
def test_bad_id_numbers_get_specific_messages(text, fragment):
    with pytest.raises(ValidationError) as err:
        check_id_number(text)
    assert fragment in err.value.message


def test_wrong_check_digit_is_named():
    number = generate_id_number(dt.date(2015, 3, 2), "男")
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    with pytest.raises(ValidationError, match="校验位"):
        check_id_number(wrong)


def test_id_accepts_lowercase_x_and_fullwidth_digits():
    for seq in range(0, 60):
        number = generate_id_number(dt.date(2016, 5, 6), "女", seq=seq)
        if number.endswith("X"):
            break
    assert check_id_number(number.lower()).sex == "女"
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in number)
    assert check_id_number(fullwidth).birth_date == dt.date(2016, 5, 6)


def test_id_typed_with_dashes_or_a_label_is_read():
    number = generate_id_number(dt.date(2014, 7, 9), "女", region="110105", seq=322)
    dashed = f"{number[:6]}-{number[6:14]}-{number[14:]}"
    for typed in (dashed, "身份证" + number, f"身份证号：{number}", f"孩子的身份证号是 {number[:6]} {number[6:]}"):
        assert check_id_number(typed).birth_date == dt.date(2014, 7, 9)
        assert normalize_id_number(typed) == number  # what is stored: the number alone
    with pytest.raises(ValidationError, match="请输入身份证号码"):
        check_id_number("身份证号")
    with pytest.raises(ValidationError, match="只能由数字"):
        check_id_number("身份证号是我家的" + number)  # a label we do not know is not guessed away


def test_digits_said_aloud_are_read():
    """A voice message's recognition often spells the digits: 一一零一零五…, 幺三九…"""
    number = generate_id_number(dt.date(2014, 7, 9), "女", region="110105", seq=322)
    spoken = number.translate(str.maketrans("0123456789", "零一二三四五六七八九"))
    assert normalize_id_number(spoken) == number and check_id_number(spoken).sex == "女"
    assert check_phone("幺三九 一二三四 五六七八") == "13912345678"
    with pytest.raises(ValidationError, match="只能由数字"):
        check_id_number("一百一十")


def test_future_birth_date_rejected():
    number = generate_id_number(dt.date(2030, 1, 1), "男")
    with pytest.raises(ValidationError, match="晚于今天"):
        check_id_number(number, today=dt.date(2026, 9, 10))


def test_other_documents():
    permit = generate_id_number(dt.date(2014, 1, 1), "男", region="810000")
    assert check_residence_permit(permit) == permit
    with pytest.raises(ValidationError, match="810000"):
        check_residence_permit(generate_id_number(dt.date(2014, 1, 1), "男"))
    assert check_hk_macau_permit("h12345678") == "H12345678"
    with pytest.raises(ValidationError):
        check_hk_macau_permit("A1234567")
    assert check_passport("e 1234 5678") == "E12345678"
    with pytest.raises(ValidationError):
        check_passport("ABCDEFG")


def test_phone():
    assert check_phone("176 1234 2353") == "17612342353"
    assert check_phone("+86-176-1234-2353") == "17612342353"
    with pytest.raises(ValidationError, match="只能包含数字"):
        check_phone("1761234abcd")
    with pytest.raises(ValidationError, match="11位"):
        check_phone("1761234235")
    with pytest.raises(ValidationError, match="13至19"):
        check_phone("12612342353")
    assert check_phone("手机13912345678") == check_phone("我的手机是+86 139-1234-5678") == "13912345678"
    with pytest.raises(ValidationError, match="请输入11位"):
        check_phone("手机号：")


def test_luhn_and_cards():
    card = "622908" + "1234567890" + "12"
    card += luhn_check_digit(card)
    assert check_luhn(card)
    assert check_bank_card(card) == card
    broken = card[:-1] + str((int(card[-1]) + 1) % 10)
    assert not check_luhn(broken)
    with pytest.raises(ValidationError, match="校验"):
        check_bank_card(broken)
    with pytest.raises(ValidationError, match="16到19位"):
        check_bank_card("4111111111")


@pytest.mark.parametrize("name", ["张三", "欧阳娜娜", "买买提·艾力", "𠀾𪚥", "王〇", "李𡘙平", "JOHN SMITH"])
def test_names_accepted(name):
    assert check_name(name)


@pytest.mark.parametrize("name, fragment", [
    ("张3", "数字"), ("小明😀", "表情"), ("·张三", "·"), ("张", "2到30"), ("", "没有收到"),
    ("同意", "不是姓名"), ("好的", "不是姓名"), ("确认提交", "不是姓名"),  # a reply typed at the wrong moment
])
def test_names_rejected(name, fragment):
    with pytest.raises(ValidationError) as err:
        check_name(name)
    assert fragment in err.value.message


def test_name_middle_dot_variants_normalised():
    assert check_name("买买提•艾力") == "买买提·艾力"


def test_dates_and_age():
    for text in ("2015-03-02", "2015/3/2", "2015.3.2", "20150302", "2015年3月2日"):
        assert check_date(text) == dt.date(2015, 3, 2)
    with pytest.raises(ValidationError):
        check_date("2015-02-30")
    with pytest.raises(ValidationError):
        check_date("明天")
    assert age_on(dt.date(2015, 3, 2), dt.date(2021, 3, 1)) == 5
    assert age_on(dt.date(2015, 3, 2), dt.date(2021, 3, 2)) == 6


def test_address_and_yes_no():
    assert check_address("北京东路100弄3号") == "北京东路100弄3号"
    with pytest.raises(ValidationError):
        check_address("abc")
    assert parse_yes_no("是的") is True
    assert parse_yes_no("不对") is False
    assert parse_yes_no("也许") is None


@pytest.mark.parametrize("place", ["北京东路小学", "合肥工业大学", "瑞金医院", "世纪大道", "浦东新区",
                                   "静安区", "海淀区", "余姚市", "宁海县"])  # a district typed a step early
def test_a_school_or_place_is_not_a_name(place):
    with pytest.raises(ValidationError, match="学校或地点"):
        check_name(place)


@pytest.mark.parametrize("name", ["王小明", "欧阳娜娜", "买买提·艾力", "李路", "王小路", "区小明"])
def test_ordinary_names_still_pass(name):
    assert check_name(name) == name


@pytest.mark.parametrize("reply", ["对的", "好的", "是", "嗯", "同意", "ok", "没有", "不是", "知道了"])
def test_a_reply_word_is_never_a_school_name_or_an_address(reply):
    """"对的" typed at the Beijing form's school step answered the question before it: never stored as a school."""
    with pytest.raises(ValidationError, match="不是学校"):
        check_free_text(reply, "学校")
    with pytest.raises(ValidationError):
        check_address(reply, "详细地址")


@pytest.mark.parametrize("text", ["散居", "北京市朝阳区实验小学", "对外经济贸易大学附属中学"])
def test_real_school_names_still_pass(text):
    assert check_free_text(text, "学校") == text


@pytest.mark.parametrize("reply, answer", [
    ("是的，原来参加了", True), ("对，是本市户籍", True), ("在的", True), ("参加了", True),  # the verb said back
    ("不是，我们是外地户口", False), ("没有，第一次", False), ("不在", False), ("没参加", False),
    ("是的，不过没有证明", None), ("好的", None), ("yes, it is", None),  # a doubt, an acknowledgement
])
def test_a_yes_or_no_said_with_what_it_is_about(reply, answer):
    assert parse_yes_no(reply) is answer
