"""Client-side rate limits for WeChat API sends (messages per sliding second).

WeChat (and the fake API server) counts requests by their *arrival* in any one-second window. A
client that only counts when it starts requests lets bursts through: requests queued behind each
other arrive later than they were admitted and bunch up with the next ones. So a send holds a slot
for its whole duration and is counted at its *completion* time afterwards: every request the server
counts at time T is either still in flight here or completed after its arrival, i.e. within our
window too. Our count is never below the server's.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from typing import AsyncIterator, Protocol


class RateLimiter(Protocol):
    def slot(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold one send's place: wait for room, then keep it while the request is in flight."""
        ...


class SlidingWindowLimiter:
    """At most `rate` sends per `window` seconds, counting sends in flight and those completed within it."""

    def __init__(self, rate: float, window: float = 1.0, start_quiet: bool = False) -> None:
        """`start_quiet`: send nothing during the first window. A worker that starts — or restarts after
        a crash, resuming a job — cannot know what its predecessor sent in the last second, so it
        assumes that second's quota was used up."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.limit = max(1, int(rate * window))
        self.window = window
        self._quiet_until = time.monotonic() + window if start_quiet else 0.0
        self._completed: collections.deque[float] = collections.deque()
        self._in_flight = 0
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._changed:
            while True:
                now = time.monotonic()
                if now < self._quiet_until:
                    await asyncio.sleep(self._quiet_until - now)
                    continue
                while self._completed and self._completed[0] <= now - self.window:
                    self._completed.popleft()
                if self._in_flight + len(self._completed) < self.limit:
                    break
                timeout = self._completed[0] + self.window - now + 0.0005 if self._completed else None
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout)
            self._in_flight += 1
        try:
            yield
        finally:
            async with self._changed:
                self._in_flight -= 1
                self._completed.append(time.monotonic())
                self._changed.notify()
