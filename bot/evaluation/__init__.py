"""Measuring understanding: a set of guardian questions (tests/eval/), each asked in a fresh store
through the real conversation pipeline, judged on the facts a right answer holds and the figures a
wrong one would show. `python -m bot eval`; see tests/eval/guardian-questions.yaml for the format."""
from bot.evaluation.cases import Case, EvalSet, load_set
from bot.evaluation.judge import Verdict, judge

__all__ = ["Case", "EvalSet", "Verdict", "judge", "load_set"]
