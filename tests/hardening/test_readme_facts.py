"""Issue 15, "a clone that stands alone": what README tells a newcomer matches what the code does — the
case count `policy check` prints, and a BOT_NOW inside the window of each scheme that has one."""
from __future__ import annotations

import datetime as dt
import re

from bot.config import ROOT
from bot.rules import RuleEngine
from bot.rules.cases import run_all

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_policy_case_count_in_readme_is_what_policy_check_runs():
    engine = RuleEngine.load(ROOT / "policies")
    said = re.search(r"`policies/tests/\*\.yaml` hold (\d+) cases", README)
    assert said, "README no longer says how many policy cases there are"
    assert int(said.group(1)) == len(run_all(engine, ROOT / "policies" / "tests"))


def test_each_bot_now_example_is_inside_its_schemes_window():
    engine = RuleEngine.load(ROOT / "policies")
    rows = re.findall(r"^\| .*\(`([a-z-]+)`\) \| [^|]* \| `(\d{4}-\d\d-\d\dT[^`]+)` \|$", README, re.M)
    assert {scheme for scheme, _ in rows} >= {"sh-child-fund", "sh-resident-student", "bj-child-student",
                                              "nb-civil-servant-children"}
    for scheme, when in rows:
        assert engine.windows(scheme, dt.datetime.fromisoformat(when)).current is not None, (scheme, when)
