"""`python -m bot policy check [PATH]` and `python -m bot policy show SCHEME`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.rules.cases import run_all
from bot.rules.engine import RuleEngine
from bot.rules.errors import PolicyError, UnknownScheme


def _default_dir() -> Path:
    from bot.config import Settings

    return Settings.from_env().policies_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    policy = subparsers.add_parser("policy", help="政策包：检查、查看")
    sub = policy.add_subparsers(dest="policy_command", required=True)
    check = sub.add_parser("check", help="校验政策包并运行 policies/tests 中的用例")
    check.add_argument("path", nargs="?", type=Path, default=None, help="政策目录（默认 policies/）")
    check.set_defaults(func=cmd_check)
    show = sub.add_parser("show", help="显示一个方案的摘要")
    show.add_argument("scheme", help="方案编号，如 sh-child-fund")
    show.add_argument("--path", type=Path, default=None, help="政策目录（默认 policies/）")
    show.set_defaults(func=cmd_show)


def cmd_check(args: argparse.Namespace) -> int:
    root = args.path or _default_dir()
    try:
        engine = RuleEngine.load(root)
        results = run_all(engine, root / "tests")
    except PolicyError as exc:
        print(f"政策包有错误：{exc}", file=sys.stderr)
        return 1
    failed = [r for r in results if not r.ok]
    for result in failed:
        print(f"✗ {result.file} · {result.name}")
        for problem in result.problems:
            print(f"    {problem}")
    print(f"方案 {len(engine.scheme_ids)} 个（{'、'.join(engine.scheme_ids)}）；"
          f"用例 {len(results)} 条，通过 {len(results) - len(failed)} 条，失败 {len(failed)} 条。")
    return 1 if failed or not results else 0


def cmd_show(args: argparse.Namespace) -> int:
    try:
        engine = RuleEngine.load(args.path or _default_dir())
        print(describe(engine, args.scheme))
    except (PolicyError, UnknownScheme) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


def describe(engine: RuleEngine, scheme_id: str) -> str:
    pack = engine.pack(scheme_id)
    out = [f"{pack.name}（{pack.id}）", f"简称：{pack.short_name}；别名：{'、'.join(pack.aliases)}",
           f"城市：{pack.city}；依据：{pack.seed}", "", "参数："]
    for param in pack.parameters.values():
        for value in param.values:
            shown = "、".join(f"{k}级{v}" for k, v in value.value.items()) if isinstance(value.value, dict) else value.value
            out.append(f"  {param.description}：{shown}{param.unit}（{value.year}年度，自{value.since}起；“{value.source}”）")
    rules = (pack.raw.get("eligibility") or {}).get("rules", [])
    if rules:
        out += ["", "参保条件（按顺序判断）："]
        out += [f"  [{'符合' if r['result'] == 'eligible' else '不符合'}] {r['name']}：“{r['text']}”" for r in rules]
    windows = (pack.raw.get("calendar") or {}).get("windows", [])
    if windows:
        out += ["", "办理时间："] + [f"  {w['name']}：{w['description']}" for w in windows]
    out += ["", "办事指南主题：" + "、".join(f"{t}（{len(items)}）" for t, items in pack.procedures.items())]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.rules.cli")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
