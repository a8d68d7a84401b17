"""The engine's public API on bad and boundary input: never an exception where an answer will do."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bot.rules import UnknownScheme
from bot.rules.facts import age_on, normalise

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def test_scheme_ids_and_pack_metadata(engine):
    assert engine.scheme_ids == sorted(engine.scheme_ids)
    pack = engine.pack("sh-child-fund")
    assert pack.id == "sh-child-fund" and pack.city == "上海"
    assert {"少儿基金", "少儿住院互助基金", "互助基金"} <= set(pack.aliases)
    assert "一小" in engine.pack("bj-child-student").aliases
    assert pack.seed.endswith(".txt") and pack.raw["id"] == pack.id
    assert pack.procedures["contacts"][0].lines


def test_unknown_scheme_is_a_key_error_with_a_chinese_message(engine):
    with pytest.raises(KeyError) as info:
        engine.fee("no-such-scheme", {}, dt.date(2024, 1, 1))
    assert isinstance(info.value, UnknownScheme)
    assert "未知的参保项目" in str(info.value) and "sh-child-fund" in str(info.value)
    for call in (lambda: engine.pack(None), lambda: engine.windows("x", dt.datetime(2024, 1, 1)),
                 lambda: engine.reimbursement("x", {}), lambda: engine.eligibility("x", {}, dt.date(2024, 1, 1)),
                 lambda: engine.procedure("x", "contacts"), lambda: engine.schedule("x", 2024)):
        with pytest.raises(UnknownScheme):
            call()


def test_find_scheme_by_alias(engine):
    assert engine.find_scheme("少儿基金怎么交") == "sh-child-fund"
    assert engine.find_scheme("一小医保报销多少") == "bj-child-student"
    assert engine.find_scheme("今天天气") is None


@pytest.mark.parametrize("amount", [-1, "-0.01", "abc", None, "", float("nan"), float("inf"), "1e12", True, [1]])
def test_bad_amounts_ask_again(engine, amount):
    result = engine.reimbursement("bj-child-student", {"kind": "inpatient", "amount": amount, "on": "2016-01-01"})
    assert result.status == "need_facts" and result.missing == ["amount"]
    assert result.amount == 0 and result.explanation


@pytest.mark.parametrize("claim", [None, {}, "住院", {"kind": "牙科", "amount": 1}, {"kind": None}])
def test_claims_without_a_kind_ask_for_it(engine, claim):
    result = engine.reimbursement("sh-resident-student", claim)
    assert result.status == "need_facts" and result.missing == ["kind"]


@pytest.mark.parametrize("level", [None, "", "四级", 0, 7, "abc", True])
def test_missing_or_bad_hospital_level(engine, level):
    claim = {"kind": "inpatient", "amount": 1000, "on": "2021-01-01"}
    if level is not None:
        claim["hospital_level"] = level
    result = engine.reimbursement("sh-resident-student", claim)
    assert result.status == "need_facts" and result.missing == ["hospital_level"]


def test_chinese_words_for_kind_level_and_amount(engine):
    result = engine.reimbursement("sh-resident-student",
                                  {"kind": "住院", "hospital_level": "三级医院", "amount": "10,000元", "on": "2021-01-01"})
    assert result.status == "ok" and result.amount == Decimal("5820.00")
    assert any("300" in s for s in result.steps) and any("60%" in s for s in result.steps)


def test_claim_date_as_datetime_or_missing(engine):
    on_dt = engine.reimbursement("bj-child-student", {"kind": "inpatient", "amount": 20000,
                                                      "on": dt.datetime(2016, 1, 1, 8, tzinfo=SHANGHAI)})
    no_date = engine.reimbursement("bj-child-student", {"kind": "inpatient", "amount": 20000})
    assert on_dt.amount == no_date.amount == Decimal("13545.00")
    assert no_date.standard_year == 2015 and "按2015年度标准" in no_date.explanation


def test_negative_reimbursed_this_year_is_ignored(engine):
    result = engine.reimbursement("bj-child-student", {"kind": "inpatient", "amount": 300000, "reimbursed_this_year": -5})
    assert result.amount == Decimal("170000.00")


def test_eligibility_asks_named_questions(engine):
    result = engine.eligibility("nb-civil-servant-children", {"age": "十岁"}, dt.date(2021, 1, 1))
    assert result.status == "need_facts"
    assert result.missing[0] == "age"  # not understood → asked again
    assert len(result.missing) == len(result.missing_questions)
    assert all(q.endswith("？") for q in result.missing_questions)
    assert "没能看懂" in result.explanation


def test_eligibility_from_birth_date(engine):
    facts = {"birth_date": "2014-10-01", "hukou_city": "宁波", "former_child_pooling": "是"}
    assert engine.eligibility("nb-civil-servant-children", facts, dt.date(2020, 9, 30)).rule.id == "infant"
    assert engine.eligibility("nb-civil-servant-children", facts, dt.date(2020, 10, 1)).rule.id == "minor"
    future = engine.eligibility("nb-civil-servant-children", {**facts, "birth_date": "2030-01-01"}, dt.date(2020, 1, 1))
    assert future.status == "need_facts" and "birth_date" in future.missing


def test_eligibility_result_names_rule_and_quote(engine):
    result = engine.eligibility("sh-child-fund", {"employee_insurance": True}, dt.date(2024, 9, 1))
    assert result.rule.name == "已参加职工医保"
    assert "不属于参保范围" in result.rule.text and result.rule.text in result.explanation


def test_fee_tiers_when_facts_missing(engine):
    result = engine.fee("nb-civil-servant-children", None, dt.date(2020, 10, 1))
    assert result.amount is None and not result.exempt
    assert [t.amount for t in result.tiers] == [Decimal(500), Decimal(220), Decimal(750), Decimal(550)]
    assert "按2021年度标准" in result.explanation


def test_fee_before_any_known_year_uses_latest_and_says_so(engine):
    result = engine.fee("xc-hfut-college", {}, dt.date(2001, 1, 1))
    assert result.amount == Decimal(380) and result.year == 2024
    assert "按2024年度标准" in result.explanation and "没有2001年的标准" in result.explanation


def test_windows_accepts_naive_and_utc_times(engine):
    naive = engine.windows("sh-child-fund", dt.datetime(2026, 9, 30, 23, 59))
    utc = engine.windows("sh-child-fund", dt.datetime(2026, 9, 30, 15, 59, tzinfo=dt.timezone.utc))
    assert naive.current and utc.current and naive.days_left == utc.days_left == 0
    late_utc = engine.windows("sh-child-fund", dt.datetime(2026, 9, 30, 16, 0, tzinfo=dt.timezone.utc))
    assert late_utc.current is None  # 10月1日 00:00 in Shanghai


def test_window_objects(engine):
    info = engine.windows("bj-child-student", dt.datetime(2026, 10, 1, 12, tzinfo=SHANGHAI))
    window = info.current
    assert window.name == "参保缴费期" and window.start.month == 9 and window.end.month == 11
    assert "次年1月1日" in window.description
    assert info.next.start.year == 2027 and "还有60天截止" in info.explanation


def test_deadline_for_odd_applications(engine):
    assert engine.deadline_for({}) is None
    assert engine.deadline_for({"scheme": "nope", "pre_approved_at": "2026-09-10T10:00:00+08:00"}) is None
    assert engine.deadline_for({"scheme": "sh-child-fund", "pre_approved_at": "not a date"}) is None
    assert engine.deadline_for("sh-child-fund") is None
    naive = engine.deadline_for({"scheme": "sh-child-fund", "pre_approved_at": dt.datetime(2026, 9, 10, 10)})
    assert naive == dt.datetime(2026, 9, 11, 10, tzinfo=SHANGHAI)


def test_relative_reminders(engine):
    events = engine.relative_events({"scheme": "sh-child-fund", "submitted_at": "2026-09-10T10:00:00+08:00"})
    assert [(e.kind, e.at.hour) for e in events] == [("reminder", 22)]
    xc = engine.relative_events({"scheme": "xc-hfut-college", "suspended_at": "2024-09-01T10:00:00+08:00"})
    assert sorted(e.at.minute for e in xc) == [10, 30]


def test_procedure_topics(engine):
    for scheme in engine.scheme_ids:
        for topic in ("materials", "steps", "contacts", "channels"):
            items = engine.procedure(scheme, topic)
            assert items, (scheme, topic)
            assert all(item.title and item.lines and item.source for item in items)
    assert engine.procedure("sh-child-fund", "no-such-topic") == []
    assert engine.procedure("xc-hfut-college", "hospitals") == []
    assert "hospitals" in engine.topics()


def test_procedure_lists_are_copies(engine):
    engine.procedure("sh-child-fund", "contacts").clear()
    assert engine.procedure("sh-child-fund", "contacts")


def test_schedule_is_sorted_and_aware(engine):
    for scheme in engine.scheme_ids:
        events = engine.schedule(scheme, 2026)
        assert [e.at for e in events] == sorted(e.at for e in events)
        assert all(e.at.tzinfo is not None and e.name for e in events)
    assert len([e for e in engine.schedule("nb-civil-servant-children", 2026) if e.kind == "window_close"]) == 12


def test_benefit_periods(engine):
    assert engine.benefit_period("sh-child-fund", dt.date(2024, 9, 15)) == (dt.date(2024, 9, 1), dt.date(2025, 8, 31))
    assert engine.benefit_period("sh-child-fund", dt.date(2025, 3, 1)) == (dt.date(2024, 9, 1), dt.date(2025, 8, 31))
    assert engine.benefit_period("bj-child-student", dt.date(2015, 10, 1)) == (dt.date(2016, 1, 1), dt.date(2016, 12, 31))
    # The Shanghai resident insurance and Ningbo seeds name a 年度 but never say when cover starts or ends.
    assert engine.benefit_period("sh-resident-student", dt.date(2020, 11, 20)) is None
    assert engine.benefit_period("xc-hfut-college", dt.date(2024, 1, 1)) is None


@pytest.mark.parametrize(("name", "given", "expected"), [
    ("in_school", "是", True), ("in_school", "没有", False), ("age", "7岁", 7), ("hukou_city", "上海市", "上海"),
    ("hukou_type", "农业户口", "agricultural"), ("school_stage", "初中", "junior"), ("adult_tier", "b档", "B"),
    ("birth_date", "2015-01-02", dt.date(2015, 1, 2)),
])
def test_fact_normalisation(name, given, expected):
    assert normalise(name, given) == expected


def test_age_on_birthday():
    assert age_on(dt.date(2012, 2, 29), dt.date(2018, 2, 28)) == 5
    assert age_on(dt.date(2012, 2, 29), dt.date(2018, 3, 1)) == 6


def test_benefit_standards_in_words(engine):
    sh = engine.benefit_standards("sh-resident-student", dt.date(2021, 3, 1))
    assert sh[0].startswith("住院：每次住院起付线一级50元、二级100元、三级300元") and "按2020年度标准" in sh[0]
    assert "一级70%、二级60%、三级50%" in sh[1] and "按2019年度标准" in sh[1]
    bj = engine.benefit_standards("bj-child-student", dt.date(2016, 3, 1))
    assert "一年最高支付170000元" in bj[0] and "一年最高支付2000元" in bj[1] and "血友病" in bj[2]
    assert engine.benefit_standards("sh-child-fund") == []


@pytest.mark.parametrize("junk", [None, [], "孩子7岁", 5])
def test_facts_that_are_not_a_mapping(engine, junk):
    assert engine.eligibility("sh-child-fund", junk, dt.date(2024, 9, 1)).status == "need_facts"
    assert engine.fee("nb-civil-servant-children", junk, dt.date(2020, 10, 1)).amount is None


@pytest.mark.parametrize("year", ["abc", None, -1, 99999])
def test_schedule_with_a_bad_year(engine, year):
    assert engine.schedule("bj-child-student", year) == []


def test_only_the_shanghai_fund_is_paid_through_our_link(engine):
    """Each seed's own payment channel: 一网通办's 24-hour online payment for the fund; bank deduction, the tax
    app or the school's collective payment for the others."""
    channels = {sid: engine.payment_channel(sid) for sid in engine.scheme_ids}
    assert channels.pop("sh-child-fund") == ("online", "")
    assert {channel for channel, _how in channels.values()} == {"external"}
    assert "银行扣款" in channels["bj-child-student"][1] and "宁波税务" in channels["nb-civil-servant-children"][1]
    assert "学校" in channels["sh-resident-student"][1] and "税务系统" in channels["xc-hfut-college"][1]


def test_window_dates_from_one_seed_year_are_said_as_a_projection(engine):
    """Shanghai resident insurance's seed dates the 2021 declaration only: another year's dates are ours."""
    dated = engine.windows("sh-resident-student", dt.datetime(2021, 11, 20, 10, 0))
    assert "推算" not in dated.explanation and "2021年11月17日至2021年12月11日" in dated.explanation
    projected = engine.windows("sh-resident-student", dt.datetime(2026, 12, 4, 10, 0))
    assert "2026年11月17日至2026年12月11日，按材料中2021年度的日期推算，以当年通知为准" in projected.explanation
    upcoming = engine.windows("sh-resident-student", dt.datetime(2026, 6, 1, 10, 0))
    assert "按材料中2021年度的日期推算" in upcoming.explanation
    yearly = engine.windows("sh-child-fund", dt.datetime(2026, 9, 10, 10, 0))  # "每年9月1日至9月30日": no projection
    assert "推算" not in yearly.explanation
