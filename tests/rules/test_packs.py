"""Runs every YAML case in policies/tests/ (one pytest item per case) and checks the cases
cover every number POLICY-FACTS.md lists for a scheme."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.rules.cases import load_cases, run_case

POLICIES = Path(__file__).resolve().parents[2] / "policies"

FACTS_SHEET = Path("/work/shared/POLICY-FACTS.md")
CASE_FILES = sorted((POLICIES / "tests").glob("*.yaml"))
# List numbering in the sheet ("(4) 新疆班…", "step 2"), not policy numbers.
NOT_POLICY_NUMBERS = {"sh-resident-student": {"4"}, "xc-hfut-college": {"2"}}


def _cases():
    for file in CASE_FILES:
        scheme, cases = load_cases(file)
        for case in cases:
            yield pytest.param(scheme, case, id=f"{scheme}:{case['name']}")


@pytest.mark.parametrize(("scheme", "case"), list(_cases()))
def test_yaml_case(engine, scheme, case):
    problems = run_case(engine, scheme, case)
    assert not problems, "\n".join(problems)


def test_every_pack_has_cases(engine):
    assert {f.stem for f in CASE_FILES} == set(engine.scheme_ids)


@pytest.mark.skipif(not FACTS_SHEET.exists(), reason="shared facts sheet not available")
def test_every_number_on_the_facts_sheet_appears_in_a_case():
    sections = re.split(r"^## ", FACTS_SHEET.read_text(encoding="utf-8"), flags=re.M)[1:]
    for section in sections:
        scheme = section.split()[0]
        cases = (POLICIES / "tests" / f"{scheme}.yaml").read_text(encoding="utf-8")
        numbers = set(re.findall(r"\d+", section)) - NOT_POLICY_NUMBERS.get(scheme, set())
        missing = [n for n in sorted(numbers, key=int) if not re.search(rf"(?<!\d){n}(?!\d)", cases)]
        assert not missing, f"{scheme}: numbers without a test case: {missing}"


def test_a_wrong_expectation_is_reported(engine):
    case = {"name": "故意写错", "fee": {"person": {}, "on": "2021-06-01"}, "expect": {"amount": 999}}
    problems = run_case(engine, "sh-resident-student", case)
    assert problems and "amount" in problems[0]
