from decimal import Decimal

import pytest

from bot.nlu.numbers import parse_number


@pytest.mark.parametrize("text, value", [
    ("1万", 10000), ("一万五", 15000), ("2.5万", 25000), ("3000", 3000), ("三十万", 300000), ("2万", 20000),
    ("一万", 10000), ("十五", 15), ("一千二", 1200), ("两千五百", 2500), ("一万零五", 10005), ("三百五", 350),
    ("2万5", 25000), ("1.2千", 1200), ("十", 10), ("两百", 200), ("13545", 13545), ("一万五千", 15000),
])
def test_parse_number(text, value):
    assert parse_number(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "万", "abc", "一.", "点"])
def test_not_a_number(text):
    assert parse_number(text) is None
