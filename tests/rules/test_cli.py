"""`policy check` and `policy show`."""
from __future__ import annotations

import shutil
from pathlib import Path

from bot.rules.cli import main

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def _copy(tmp_path: Path) -> Path:
    for file in POLICIES.glob("*.yaml"):
        shutil.copy(file, tmp_path / file.name)
    shutil.copytree(POLICIES / "tests", tmp_path / "tests")
    return tmp_path


def test_check_passes_on_the_repository(capsys):
    assert main(["policy", "check", str(POLICIES)]) == 0
    out = capsys.readouterr().out
    assert "失败 0 条" in out and "方案 5 个" in out


def test_check_fails_on_a_wrong_case(tmp_path, capsys):
    root = _copy(tmp_path)
    case_file = root / "tests" / "bj-child-student.yaml"
    case_file.write_text(case_file.read_text(encoding="utf-8").replace("amount: 13545", "amount: 13546"), encoding="utf-8")
    assert main(["policy", "check", str(root)]) == 1
    out = capsys.readouterr().out
    assert "✗ bj-child-student.yaml" in out and "13546" in out and "失败 2 条" in out


def test_check_fails_on_a_broken_pack(tmp_path, capsys):
    root = _copy(tmp_path)
    (root / "sh-child-fund.yaml").write_text("id: sh-child-fund\n", encoding="utf-8")
    assert main(["policy", "check", str(root)]) == 1
    assert "sh-child-fund.yaml" in capsys.readouterr().err


def test_check_fails_without_cases(tmp_path, capsys):
    for file in POLICIES.glob("*.yaml"):
        shutil.copy(file, tmp_path / file.name)
    assert main(["policy", "check", str(tmp_path)]) == 1


def test_show(capsys):
    assert main(["policy", "show", "bj-child-student", "--path", str(POLICIES)]) == 0
    out = capsys.readouterr().out
    assert "北京" in out and "170000" in out and "参保缴费期" in out and "hospitals" in out


def test_show_unknown_scheme(capsys):
    assert main(["policy", "show", "nope", "--path", str(POLICIES)]) == 1
    assert "未知的参保项目" in capsys.readouterr().err
