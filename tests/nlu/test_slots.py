"""Slot extraction from colloquial messages."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("text, expected", [
    ("住院花了1万", {"kind": "inpatient", "amount": 10000}),
    ("住院花了一万五能报多少", {"amount": 15000}),
    ("2.5万元的住院费", {"amount": 25000}),
    ("门诊花了3000块", {"kind": "outpatient", "amount": 3000}),
    ("住院三十万", {"amount": 300000}),
    ("花了1300元", {"amount": 1300}),
    ("在三甲医院住院", {"hospital_level": 3}),
    ("二级医院", {"hospital_level": 2}),
    ("社区医院看门诊", {"hospital_level": 1, "kind": "outpatient"}),
    ("孩子15岁没上学", {"age": 15, "in_school": False}),
    ("3岁宝宝", {"age": 3}),
    ("6岁以下的宝宝", {"age": 5}),
    ("上初二", {"school_stage": "junior", "in_school": True}),
    ("在读高中", {"school_stage": "senior", "in_school": True}),
    ("上幼儿园", {"school_stage": "nursery"}),
    ("上海户籍", {"hukou_city": "上海", "city": "上海"}),
    ("外地户口", {"hukou_city": "外地"}),
    ("户口在河北", {"hukou_city": "外地"}),
    ("娃儿在成都读书", {"school_city": "外地"}),
    ("江苏户口的孩子", {"hukou_city": "外地"}),
    ("我们是四川的户口", {"hukou_city": "外地"}),
    ("北京非农业户口", {"hukou_city": "北京", "hukou_type": "non_agricultural"}),
    ("农业户口", {"hukou_type": "agricultural"}),
    ("积分达标的居住证", {"parent_residence_permit": "points"}),
    ("持B类居住证", {"parent_residence_permit": "B"}),
    ("已经有职工医保了", {"employee_insurance": True}),
    ("没有职工医保", {"employee_insurance": False}),
    ("参保满一年了", {"years_insured": 1}),
    ("连续缴费3年", {"years_insured": 3}),
    ("今年刚参加一小，还不满一年", {"years_insured": 0}),
    ("参保不到1年", {"years_insured": 0}),
    ("门诊肾透析", {"condition": "肾透析"}),
    ("低保家庭", {"hardship": True}),
    ("新疆班的学生", {"special_class": True}),
    ("外地生源在北京读全日制大学", {"local_student_origin": False, "school_city": "北京", "full_time": True,
                           "school_stage": "university"}),
    ("宁波成年居民A档", {"adult_tier": "A", "city": "宁波"}),
    ("浦东的孩子", {"city": "上海"}),
    ("海淀区", {"city": "北京"}),
    ("上海住院花了2000 一级医院", {"amount": 2000, "hospital_level": 1}),  # not 2001
    ("住院花了1万5", {"amount": 15000}),
    ("住一级医院花了两千块", {"kind": "inpatient", "hospital_level": 1, "amount": 2000}),
    ("二级医院住了几天花了800元", {"kind": "inpatient", "hospital_level": 2, "amount": 800}),
    ("在儿童医院住了3晚", {"kind": "inpatient"}),
    ("白血病化疗门诊能按住院报吗", {"kind": "outpatient", "condition": "化疗"}),  # the treatment, not the disease
    ("黄浦区北京东路小学", {"city": "上海"}),  # a street named after another city is no sign of it
    ("北京的孩子住在南京东路", {"city": "北京"}),
])
def test_slots(nlu, text, expected):
    slots = nlu.understand(text).slots
    for key, value in expected.items():
        assert slots.get(key) == value, (key, slots)


@pytest.mark.parametrize("text, absent", [
    ("孩子15岁", "amount"),         # an age is not money
    ("我们住在南京东路", "kind"),      # where the family lives is no hospital stay
    ("住了三年了", "kind"),
    ("2024年参保", "amount"),       # a year is not money
    ("三级医院", "amount"),
    ("少儿住院互助基金多少钱", "kind"),  # "住院" inside the fund's name is not a hospital stay
    ("参保满一年了", "amount"),
    ("我父母有职工医保", "employee_insurance"),  # the parent's insurance, not the child's
    ("北京东路小学能参保吗", "city"),  # a Shanghai school on a street named after Beijing
    ("家住宁波路", "city"),
    ("孩子在复旦大学附属儿科医院住院花了2万", "school_stage"),  # a hospital named after its university
    ("在北京大学第一医院住院", "school_stage"),
    ("上海交通大学医学院附属新华医院住院5000元", "school_stage"),
])
def test_no_false_slot(nlu, text, absent):
    assert absent not in nlu.understand(text).slots


def test_scheme_from_alias(nlu):
    assert nlu.understand("北京一小多少钱").slots["scheme"] == "bj-child-student"
    assert nlu.understand("少儿住院互助基金交多少").slots["scheme"] == "sh-child-fund"
    assert nlu.understand("合工大宣城校区医保").slots["scheme"] == "xc-hfut-college"


def test_slots_are_json_serialisable(nlu):
    import json

    json.dumps(nlu.understand("上海孩子15岁在三甲医院住院花了2.5万，参保满一年").slots)
