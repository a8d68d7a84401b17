"""Client-side rate limits for WeChat API sends (messages per second)."""
from __future__ import annotations

import asyncio
import collections
import time
from typing import Protocol


class RateLimiter(Protocol):
    async def acquire(self) -> None:
        """Wait until one more message may be sent."""
        ...


class SlidingWindowLimiter:
    """At most `rate` acquisitions in any `window` seconds — the same rule the WeChat quota (and the
    fake API server) applies, so a limiter set at or below the quota never draws a 45011."""

    def __init__(self, rate: float, window: float = 1.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.limit = max(1, int(rate * window))
        self.window = window
        self._times: collections.deque[float] = collections.deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._times and self._times[0] <= now - self.window:
                    self._times.popleft()
                if len(self._times) < self.limit:
                    self._times.append(now)
                    return
                await asyncio.sleep(self._times[0] + self.window - now + 0.0005)
