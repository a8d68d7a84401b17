"""Asks every case of a set through the real pipeline (router, NLU, answers, dialogs), each case with a
fresh in-memory store and the case's clock, and sums the verdicts per category."""
from __future__ import annotations

import re
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bot.clock import Clock
from bot.components import Understanding, build_router, load_understanding
from bot.config import Settings
from bot.evaluation.cases import Case, EvalSet
from bot.evaluation.judge import ERROR, MISS, RIGHT, WRONG_CLAIM, WRONG_FIGURE, Verdict, judge
from bot.pipeline import Pipeline
from bot.services import build_services
from bot.store.sqlite import SQLiteStore
from bot.turn import Incoming

USER = "eval-guardian"
LONG_REPLY = 300  # characters: the "most under ~300" for a phone screen


@dataclass
class CaseResult:
    case: Case
    replies: list[str]
    verdict: Verdict
    seconds: float


@dataclass
class Report:
    results: list[CaseResult] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.results)

    def count(self, status: str) -> int:
        return sum(r.verdict.status == status for r in self.results)

    @property
    def accuracy(self) -> float:
        return self.count(RIGHT) / self.total if self.total else 0.0

    @property
    def failures(self) -> list[CaseResult]:
        return [r for r in self.results if not r.verdict.right]

    def by_category(self) -> dict[str, tuple[int, int]]:
        """category → (right, total), in the set's order."""
        totals: Counter = Counter()
        rights: Counter = Counter()
        for r in self.results:
            totals[r.case.category] += 1
            rights[r.case.category] += r.verdict.right
        return {c: (rights[c], totals[c]) for c in totals}

    def reply_lengths(self) -> list[int]:
        return [len(text) for r in self.results for text in r.replies]


class Evaluator:
    """Loads the understanding once; every case then gets its own store, clock, router and pipeline."""

    def __init__(self, settings: Settings | None = None) -> None:
        if settings is None:
            # The key file and the NLU's dictionary cache go to a directory removed with the evaluator.
            self._data_dir = tempfile.TemporaryDirectory(prefix="bot-eval-")
            settings = Settings(wechat_token="eval", data_dir=Path(self._data_dir.name),
                                store_url="sqlite:///:memory:", admin_token="eval", simulator=False)
        self.settings = settings
        self.understanding: Understanding = load_understanding(settings)

    async def run(self, eval_set: EvalSet) -> Report:
        report = Report()
        for case in eval_set.cases:
            report.results.append(await self.run_case(case, eval_set))
        return report

    async def run_case(self, case: Case, eval_set: EvalSet) -> CaseResult:
        started = time.perf_counter()
        clock = Clock.from_iso(case.now)
        services = build_services(self.settings, store=SQLiteStore(":memory:"), clock=clock)
        late: list[str] = []

        async def deliver(_services, _openid: str, text: str) -> None:
            late.append(text)

        # No reply budget: a slow turn on a loaded machine is still judged on its answer.
        pipeline = Pipeline(services, build_router(services, self.understanding), deliver=deliver,
                            reply_budget=120.0)
        replies: list[str] = []
        try:
            base = int(clock.now().timestamp())
            for i, text in enumerate(case.messages):
                reply = await pipeline.handle(Incoming(user_id=USER, kind="text", text=text, msg_id=str(i + 1),
                                                       create_time=base + i))
                await pipeline.drain(timeout=10.0)
                replies.append(_text(reply) if reply else "\n".join(late))
                late.clear()
        finally:
            await pipeline.drain(timeout=10.0)
            await services.store.close()
        errors = sum(pipeline.metrics.errors.values())
        verdict = judge(case, replies, yes_words=eval_set.yes_words, no_words=eval_set.no_words, errors=errors)
        return CaseResult(case, replies, verdict, time.perf_counter() - started)


_LINK = re.compile(r"<a\s[^>]*>(.*?)</a>", re.S)


def _text(reply) -> str:
    """What the guardian reads: an article's title and description; a link's label, not its address."""
    if reply.article is not None:
        return "\n".join(p for p in (reply.article.title, reply.article.description, reply.text) if p)
    return _LINK.sub(r"\1", reply.text)


def summary(report: Report, eval_set: EvalSet) -> str:
    lines = [f"评测集 {eval_set.path}：{report.total} 题", f"{'类别':<14}{'题数':>6}{'全对':>6}{'正确率':>9}"]
    for category, (right, total) in report.by_category().items():
        lines.append(f"{category:<16}{total:>6}{right:>7}{right / total:>10.1%}")
    lines.append(f"全对 {report.count(RIGHT)}/{report.total}（{report.accuracy:.1%}）")
    lines.append(f"错误数字（显示了 must_not 中的数字）：{report.count(WRONG_FIGURE)} 题")
    lines.append(f"错误结论（must_not 中的说法，或是/否答反）：{report.count(WRONG_CLAIM)} 题")
    lines.append(f"遗漏（缺少要点、没有追问）：{report.count(MISS)} 题")
    lines.append(f"异常、空回复或超长：{report.count(ERROR)} 题")
    lengths = report.reply_lengths()
    if lengths:
        lines.append(f"回复长度：中位 {statistics.median(lengths):.0f} 字，超过 {LONG_REPLY} 字 "
                     f"{sum(n > LONG_REPLY for n in lengths)} 条，最长 {max(lengths)} 字")
    seconds = [r.seconds for r in report.results]
    if seconds:
        lines.append(f"每题耗时：中位 {statistics.median(seconds) * 1000:.0f} ms")
    return "\n".join(lines)


def failure_lines(result: CaseResult, width: int = 400) -> list[str]:
    case = result.case
    asked = " → ".join(_shorten(m, 80) for m in case.messages)
    lines = [f"✗ {case.id} [{case.category}] {result.verdict.status}: {'；'.join(result.verdict.reasons)}",
             f"    问：{asked}"]
    for reply in result.replies[-1:]:
        lines.append(f"    答：{_shorten(reply, width)}")
    return lines


def failures_markdown(report: Report, eval_set: EvalSet) -> str:
    """The failures for people working on understanding: one section per case."""
    out = [f"# Eval failures ({eval_set.path.name})", "", "```", summary(report, eval_set), "```", ""]
    for result in report.failures:
        case = result.case
        out.append(f"## {case.id} — {case.category} — {result.verdict.status}")
        out.append(f"- why: {'；'.join(result.verdict.reasons)}")
        if case.now:
            out.append(f"- now: {case.now}")
        for i, (message, reply) in enumerate(zip(case.messages, result.replies), 1):
            out.append(f"- Q{i}: {_shorten(message, 200)}")
            out.append(f"- A{i}: " + _shorten(reply, 700).replace("\n", " ⏎ "))
        out.append("")
    return "\n".join(out)


def _shorten(text: str, width: int) -> str:
    text = text.replace("\n", " ⏎ ")
    return text if len(text) <= width else f"{text[:width]}…（共 {len(text)} 字）"
