"""`python -m bot eval [--set PATH] [--verbose] [--failures FILE]`."""
from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    ev = subparsers.add_parser("eval", help="用评测问题集衡量机器人的理解和回答（tests/eval/）")
    ev.add_argument("--set", dest="set_path", type=Path, default=None,
                    help="问题集 YAML（默认 tests/eval/guardian-questions.yaml）")
    ev.add_argument("--verbose", action="store_true", help="列出每道没答对的题、回复和原因")
    ev.add_argument("--failures", type=Path, default=None, help="把没答对的题写成 Markdown 文件")
    ev.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.evaluation.cases import load_set
    from bot.evaluation.runner import Evaluator, failure_lines, failures_markdown, summary

    try:
        eval_set = load_set(args.set_path)
    except (OSError, KeyError, ValueError) as exc:
        print(f"无法读取问题集：{exc}", file=sys.stderr)
        return 1
    report = asyncio.run(Evaluator().run(eval_set))
    if args.verbose:
        for result in report.failures:
            print("\n".join(failure_lines(result)))
        print()
    print(summary(report, eval_set))
    if args.failures:
        args.failures.write_text(failures_markdown(report, eval_set), encoding="utf-8")
        print(f"没答对的题已写入 {args.failures}")
    return 0
