"""Property tests on the form validators (dialogs/validators.py): whatever a guardian types, a check
returns a normalised value or raises `ValidationError` with a Chinese sentence — nothing else escapes.
Generated ID numbers always pass, and any single mistyped character in one is always caught."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import assume, example, given, settings, strategies as st

from dialogs import validators as v
from dialogs.validators import ValidationError

EXAMPLES = settings(max_examples=100, deadline=None)
TODAY = dt.date(2026, 9, 10)
CJK = re.compile(r"[\u4e00-\u9fff]")

# Guardian input: any Unicode (control and private-use characters included), digit-heavy strings
# that look like numbers, and pastes far longer than any field.
any_text = st.one_of(
    st.none(),
    st.text(max_size=300),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.text(alphabet="0123456789Xx -+（）()８９０一二三", max_size=25),
    st.text(alphabet=st.sampled_from("张王·• ZhangWEI\u200b\u3000\t\n\x00"), max_size=40),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=5), st.integers(50, 2000)),
)

CHECKS = [
    lambda t: v.check_id_number(t, today=TODAY),
    v.normalize_id_number,
    v.check_residence_permit,
    v.check_hk_macau_permit,
    v.check_passport,
    v.check_phone,
    v.check_bank_card,
    v.check_name,
    lambda t: v.check_date(t, "出生日期", today=TODAY),
    v.check_address,
    lambda t: v.check_free_text(t, "学校名称"),
]


@pytest.mark.parametrize("check", CHECKS, ids=["id", "normalize_id", "residence", "hk_macau", "passport", "phone",
                                              "card", "name", "date", "address", "free_text"])
@EXAMPLES
@given(text=any_text)
@example(text="")
@example(text="\x00" * 18)
@example(text="11010119900307803X\n")
@example(text="+86 139-1234-5678")
@example(text="9" * 10_000)
def test_checks_raise_only_validation_error_in_chinese(check, text):
    try:
        check(text)
    except ValidationError as exc:
        assert CJK.search(str(exc)), f"error message must be a Chinese sentence: {exc!r}"


@EXAMPLES
@given(any_text)
def test_helpers_never_raise(text):
    v.normalize(text)
    assert v.parse_yes_no(text) in (True, False, None)


@EXAMPLES
@given(birth=st.dates(dt.date(1950, 1, 1), TODAY), sex=st.sampled_from("男女"), seq=st.integers(0, 999),
       region=st.sampled_from(["310101", "310115", "110105", "440305", "650102"]))
def test_generated_id_numbers_pass_and_round_trip(birth, sex, seq, region):
    number = v.generate_id_number(birth, sex, region, seq=seq)
    info = v.check_id_number(number, today=TODAY)
    assert (info.birth_date, info.sex, info.region) == (birth, sex, region)
    assert v.check_id_number(f" {number.lower()} ", today=TODAY) == info  # spaces and a lower-case x


@EXAMPLES
@given(birth=st.dates(dt.date(2005, 1, 1), TODAY), sex=st.sampled_from("男女"), position=st.integers(0, 17),
       replacement=st.sampled_from("0123456789X"))
def test_any_single_mistyped_character_is_caught(birth, sex, position, replacement):
    number = v.generate_id_number(birth, sex)
    assume(number[position] != replacement)
    typo = number[:position] + replacement + number[position + 1:]
    with pytest.raises(ValidationError):
        v.check_id_number(typo, today=TODAY)


@EXAMPLES
@given(payload=st.text(alphabet="0123456789", min_size=15, max_size=18))
def test_cards_with_a_luhn_digit_pass_and_a_changed_last_digit_fails(payload):
    card = payload + v.luhn_check_digit(payload)
    assert v.check_bank_card(card) == card
    assert v.check_bank_card(" ".join(card[i:i + 4] for i in range(0, len(card), 4))) == card
    wrong = card[:-1] + str((int(card[-1]) + 1) % 10)
    with pytest.raises(ValidationError):
        v.check_bank_card(wrong)


@EXAMPLES
@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True), st.sampled_from(["{}", "+86{}", "{} ", "0086 {}"]))
def test_valid_phones_normalise_to_eleven_digits(phone, shape):
    assert v.check_phone(shape.format(phone)) == phone
