"""Properties of reimbursement over every scheme with benefit rules: never negative, never above
the bill, never above the yearly cap left, and never smaller for a bigger bill."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.rules import RuleEngine

ENGINE = RuleEngine.load(Path(__file__).resolve().parents[2] / "policies")
SCHEMES = [s for s in ENGINE.scheme_ids if ENGINE.pack(s).raw.get("benefits")]
CONDITIONS = [None, "肾透析", "化疗", "感冒"]

money = st.decimals(min_value=0, max_value=1_000_000, places=2, allow_nan=False, allow_infinity=False)
claims = st.fixed_dictionaries({
    "kind": st.sampled_from(["inpatient", "outpatient"]),
    "hospital_level": st.sampled_from([1, 2, 3]),
    "years_insured": st.integers(min_value=0, max_value=5),
    "condition": st.sampled_from(CONDITIONS),
    "reimbursed_this_year": st.one_of(st.none(), money),
    "costs_this_year": st.one_of(st.none(), money),
    "on": st.sampled_from(["2015-10-01", "2016-06-01", "2021-03-01", "2030-01-01"]),
})


def _cap_left(scheme: str, claim: dict, kind_used: str) -> Decimal | None:
    spec = ENGINE.pack(scheme).raw["benefits"].get(kind_used, {})
    if "cap" not in spec:
        return None
    cap = ENGINE.pack(scheme).parameter(spec["cap"]).latest.value
    return max(Decimal(0), cap - (claim["reimbursed_this_year"] or 0))


@settings(max_examples=100, deadline=None)
@given(scheme=st.sampled_from(SCHEMES), claim=claims, amount=money)
def test_bounds(scheme, claim, amount):
    result = ENGINE.reimbursement(scheme, {**claim, "amount": amount})
    assert result.status in {"ok", "need_facts", "not_covered"}
    assert Decimal(0) <= result.amount <= amount
    if result.status == "ok":
        used = "inpatient" if any("按住院标准" in s for s in result.steps) else claim["kind"]
        cap = _cap_left(scheme, claim, used)
        if cap is not None:
            assert result.amount <= cap
    else:
        assert result.amount == 0


@settings(max_examples=100, deadline=None)
@given(scheme=st.sampled_from(SCHEMES), claim=claims, low=money, extra=money)
def test_monotone_in_the_bill(scheme, claim, low, extra):
    smaller = ENGINE.reimbursement(scheme, {**claim, "amount": low})
    bigger = ENGINE.reimbursement(scheme, {**claim, "amount": low + extra})
    assert smaller.status == bigger.status
    assert smaller.amount <= bigger.amount


@settings(max_examples=60, deadline=None)
@given(scheme=st.sampled_from(ENGINE.scheme_ids), junk=st.dictionaries(
    st.sampled_from(["kind", "amount", "hospital_level", "years_insured", "condition", "reimbursed_this_year", "on"]),
    st.one_of(st.none(), st.text(max_size=8), st.integers(), st.floats(), st.booleans())))
def test_junk_claims_never_raise(scheme, junk):
    result = ENGINE.reimbursement(scheme, junk)
    assert result.status in {"ok", "need_facts", "not_covered"} and result.amount >= 0


@settings(max_examples=60, deadline=None)
@given(scheme=st.sampled_from(ENGINE.scheme_ids), facts=st.dictionaries(
    st.sampled_from(["age", "birth_date", "hukou_city", "in_school", "school_stage", "hardship", "adult_tier"]),
    st.one_of(st.none(), st.text(max_size=6), st.integers(-5, 200), st.booleans())))
def test_junk_facts_never_raise(scheme, facts):
    assert ENGINE.eligibility(scheme, facts, None).status in {"eligible", "not_eligible", "need_facts"}
    fee = ENGINE.fee(scheme, facts, None)
    assert fee.amount is None or fee.amount >= 0
