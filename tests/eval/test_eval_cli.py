"""`python -m bot eval`: per-category accuracy, wrong figures apart from misses, a failures file."""
from __future__ import annotations

from bot.__main__ import main

SET = """
cases:
- id: fee
  category: plain
  messages: ["少儿住院互助基金一年交多少钱"]
  must: ["150"]
- id: impossible
  category: plain
  messages: ["少儿住院互助基金一年交多少钱"]
  must_not: ["150"]
- id: empty
  category: bad_input
  messages: [""]
"""


def test_eval_prints_the_figures_and_writes_the_failures(tmp_path, capsys):
    path = tmp_path / "set.yaml"
    path.write_text(SET, encoding="utf-8")
    failures = tmp_path / "failures.md"
    assert main(["eval", "--set", str(path), "--verbose", "--failures", str(failures)]) == 0
    out = capsys.readouterr().out
    assert "全对 2/3（66.7%）" in out
    assert "错误数字（显示了 must_not 中的数字）：1 题" in out
    assert "plain" in out and "bad_input" in out
    assert "✗ impossible" in out and "✗ fee" not in out
    text = failures.read_text(encoding="utf-8")
    assert "## impossible — plain — wrong_figure" in text and "## fee" not in text


def test_a_missing_set_is_a_clear_error(tmp_path, capsys):
    assert main(["eval", "--set", str(tmp_path / "none.yaml")]) == 1
    assert "无法读取问题集" in capsys.readouterr().err
