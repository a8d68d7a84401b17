"""Each coverage-guided fuzz target (tests/fuzz/atheris_targets.py) for a bounded number of inputs, in a
subprocess of its own (libFuzzer ends the process it runs in). Longer runs are for hand use; see the
targets' module for the commands."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris")

ROOT = Path(__file__).resolve().parents[2]
RUNS = {"xml": 20_000, "validators": 3_000, "conversation": 400}


@pytest.mark.parametrize("target", RUNS)
def test_fuzz_target_finds_nothing(target, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.atheris_targets", target, f"-runs={RUNS[target]}", "-seed=1",
         "-max_total_time=240", f"-artifact_prefix={tmp_path}/"],
        cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert f"Done {RUNS[target]} runs" in proc.stderr  # every input ran: nothing stopped it early
