"""Property tests on understanding and amount extraction (bot/nlu): any message yields an
Understanding, a numeral run yields a number or None, and an extracted bill amount is a positive
number — never an exception, whatever mix of scripts, numerals and control characters arrives."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given, settings, strategies as st

from bot.config import ROOT
from bot.nlu import Nlu, Understanding
from bot.nlu.numbers import NUMERAL_CHARS, parse_number

EXAMPLES = settings(max_examples=100, deadline=None)
numeral_alphabet = st.sampled_from(sorted(set(NUMERAL_CHARS.replace("0-9", "0123456789"))))
numeral_runs = st.text(alphabet=numeral_alphabet, max_size=40)
mixed_scripts = st.text(
    alphabet=st.one_of(numeral_alphabet, st.sampled_from("住院门诊花了元块钱万千能报多少上海三级医院岁年级孩子"),
                       st.characters(blacklist_categories=("Cs",))),
    max_size=200)


@pytest.fixture(scope="module")
def nlu(tmp_path_factory) -> Nlu:
    return Nlu.load(ROOT / "policies", tmp_path_factory.mktemp("jieba"))


@EXAMPLES
@given(numeral_runs)
@example("点点点")
@example("亿" * 300)
@example("1.2.3万")
@example("九千九百九十九亿九千九百万零九")
def test_parse_number_returns_a_number_or_none(run):
    value = parse_number(run)
    assert value is None or isinstance(value, Decimal)


@EXAMPLES
@given(st.one_of(mixed_scripts, st.text(max_size=3000)))
@example("上海三级医院住院花了1万能报多少")
@example("花了" + "9" * 400 + "元")
@example("住院花了" + "亿" * 600)
@example("\x00\x1b[31m住院\u202e花了\ufeff3000块\u200d")
@example("入院 spent 5k 元, 病院で1万円 по 3000 руб")
def test_understand_never_raises_and_amounts_are_positive(nlu, text):
    understanding = nlu.understand(text, {"pending": {"intent": "reimbursement"}, "menu": ["fee", "deadline"]})
    assert isinstance(understanding, Understanding)
    assert isinstance(understanding.intent, str) and understanding.intent
    amount = understanding.slots.get("amount")
    if amount is not None:
        assert isinstance(amount, (int, float)) and amount > 0


@pytest.mark.parametrize("text, amount", [
    ("上海三级医院住院花了1万能报多少", 10000),
    ("门诊花了三千五百块", 3500),
    ("住院一共花了2.5万", 25000),
    ("孩子7岁住院花了8000元", 8000),
])
def test_known_amounts_are_still_read(nlu, text, amount):
    assert nlu.understand(text).slots.get("amount") == amount
