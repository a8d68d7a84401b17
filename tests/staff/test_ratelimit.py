"""The in-process send limiter: never more than `rate` sends in any sliding window, also across a
worker that stops and the one that takes over (a restarted process knows nothing of its predecessor)."""
from __future__ import annotations

import asyncio
import time

from bot.broadcast.ratelimit import SlidingWindowLimiter
from tests.staff.conftest import most_in_any_window


async def burst(limiter: SlidingWindowLimiter, n: int, done_at: list[float]) -> None:
    async def one() -> None:
        async with limiter.slot():
            await asyncio.sleep(0.001)
        done_at.append(time.monotonic())
    await asyncio.gather(*(one() for _ in range(n)))


async def test_a_successor_waits_out_its_predecessors_window():
    done_at: list[float] = []
    await burst(SlidingWindowLimiter(80, window=0.5), 40, done_at)  # the predecessor uses its whole quota (40 per 0.5 s)
    await burst(SlidingWindowLimiter(80, window=0.5, start_quiet=True), 40, done_at)
    assert most_in_any_window(done_at, 0.45) <= 40


async def test_without_a_quiet_start_the_quota_would_be_exceeded():
    """What the quiet start prevents: a fresh limiter admits a full window at once."""
    done_at: list[float] = []
    await burst(SlidingWindowLimiter(80, window=0.5), 40, done_at)
    await burst(SlidingWindowLimiter(80, window=0.5), 40, done_at)
    assert most_in_any_window(done_at, 0.45) == 80


async def test_steady_rate_holds():
    done_at: list[float] = []
    await burst(SlidingWindowLimiter(100, start_quiet=True), 250, done_at)
    assert most_in_any_window(done_at, 0.95) <= 100
