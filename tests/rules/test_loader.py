"""A broken pack stops start-up with a PolicyError naming the file, the YAML path and the problem."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.rules import PolicyError, RuleEngine

POLICIES = Path(__file__).resolve().parents[2] / "policies"


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    """A copy of the real packs (top level only) to break one at a time."""
    for file in POLICIES.glob("*.yaml"):
        shutil.copy(file, tmp_path / file.name)
    return tmp_path


def _edit(policies: Path, scheme: str, change) -> None:
    file = policies / f"{scheme}.yaml"
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    change(data)
    file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _error(policies: Path) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        RuleEngine.load(policies)
    return info.value


def test_real_packs_load(policies):
    engine = RuleEngine.load(policies)
    assert set(engine.scheme_ids) >= {"sh-child-fund", "sh-resident-student", "nb-civil-servant-children",
                                      "xc-hfut-college", "bj-child-student"}


def test_other_components_files_and_subdirectories_are_ignored(policies):
    (policies / "forms").mkdir()
    (policies / "forms" / "broken.yaml").write_text("id: [", encoding="utf-8")
    (policies / "menu.yaml").write_text("button:\n  - name: 我要参保\n", encoding="utf-8")
    assert "menu" not in RuleEngine.load(policies).scheme_ids


def test_yaml_syntax_error_names_file_and_line(policies):
    (policies / "sh-child-fund.yaml").write_text("id: sh-child-fund\nname: [未闭合\n", encoding="utf-8")
    error = _error(policies)
    assert error.file == "sh-child-fund.yaml"
    assert "行" in error.path and "YAML" in error.problem


@pytest.mark.parametrize(("scheme", "change", "path", "problem"), [
    ("sh-child-fund", lambda d: d.pop("name"), "name", "缺少"),
    ("sh-child-fund", lambda d: d.update(id="other-id"), "id", "文件名"),
    ("sh-child-fund", lambda d: d.update(extra_key=1), "extra_key", "未知的键"),
    ("bj-child-student", lambda d: d["parameters"]["inpatient_rate"]["values"][0].update(value="七十"),
     "parameters.inpatient_rate.values[0].value", "数字"),
    ("bj-child-student", lambda d: d["parameters"]["inpatient_cap"]["values"][0].update(value=-1),
     "parameters.inpatient_cap.values[0].value", "非负"),
    ("bj-child-student", lambda d: d["parameters"]["inpatient_rate"]["values"][0].update(value=700),
     "parameters.inpatient_rate", "不能超过100"),
    ("bj-child-student", lambda d: d["parameters"]["fee_personal"]["values"].reverse(),
     "parameters.fee_personal.values", "递增"),
    ("bj-child-student", lambda d: d["parameters"]["fee_personal"]["values"][0].pop("source"),
     "parameters.fee_personal.values[0].source", "缺少"),
    ("bj-child-student", lambda d: d["benefits"]["inpatient"].update(cap="no_such_param"),
     "benefits.inpatient.cap", "不存在的参数"),
    ("sh-resident-student", lambda d: d["eligibility"]["rules"][0]["when"]["all"][0].update(fact="hukou"),
     "eligibility.rules[0].when.all[0].fact", "未知的事实名"),
    ("sh-resident-student", lambda d: d["eligibility"]["rules"][0].update(result="maybe"),
     "eligibility.rules[0].result", "eligible"),
    ("sh-resident-student", lambda d: d["eligibility"]["rules"][1]["when"]["all"][1].update(between=[19]),
     "eligibility.rules[1].when.all[1].between", "两个数"),
    ("sh-child-fund", lambda d: d["calendar"]["windows"][0]["yearly"].update(end="9月30日"),
     "calendar.windows[0].yearly.end", "MM-DD"),
    ("nb-civil-servant-children", lambda d: d["calendar"]["windows"][0]["monthly"].update(end_day=31),
     "calendar.windows[0].monthly", "1–28"),
    ("sh-child-fund", lambda d: d["calendar"]["relative_deadlines"][0].pop("hours"),
     "calendar.relative_deadlines[0]", "hours"),
    ("sh-child-fund", lambda d: d["procedures"].update(unknown_topic=[]), "procedures.unknown_topic", "未知的键"),
    ("sh-child-fund", lambda d: d["payment"].update(channel="cash"), "payment.channel", "online"),
    ("bj-child-student", lambda d: d["payment"].pop("how"), "payment.how", "缴费方式"),
    ("sh-child-fund", lambda d: d["procedures"]["contacts"][0].update(lines=[]),
     "procedures.contacts[0].lines", "非空列表"),
    ("xc-hfut-college", lambda d: d["fees"]["tiers"][0].update(param="missing"), "fees.tiers[0].param", "不存在"),
    ("sh-child-fund", lambda d: d["eligibility"]["assumptions"].update(no_such_fact={"value": True, "note": "x"}),
     "eligibility.assumptions.no_such_fact", "未知的事实"),
    ("sh-child-fund", lambda d: d["eligibility"]["assumptions"]["roster_uploaded"].pop("note"),
     "eligibility.assumptions.roster_uploaded.note", "缺少"),
])
def test_broken_pack_is_reported_precisely(policies, scheme, change, path, problem):
    _edit(policies, scheme, change)
    error = _error(policies)
    assert error.file == f"{scheme}.yaml"
    assert error.path == path
    assert problem in error.problem
    assert f"{scheme}.yaml" in str(error) and path in str(error)


def test_missing_directory(tmp_path):
    error = _error(tmp_path / "nowhere")
    assert "不存在" in error.problem


def test_empty_directory(tmp_path):
    assert "没有找到" in _error(tmp_path).problem
