"""The bot's one clock. `BOT_NOW` pins it (demos, tests, staff previews); unset = real time in Shanghai."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock:
    """Timezone-aware current time. A fixed clock can be moved forward by tests (`advance`)."""

    def __init__(self, fixed: dt.datetime | None = None) -> None:
        if fixed is not None and fixed.tzinfo is None:
            fixed = fixed.replace(tzinfo=SHANGHAI)
        self._fixed = fixed

    @classmethod
    def from_iso(cls, value: str | None) -> "Clock":
        if not value:
            return cls()
        return cls(dt.datetime.fromisoformat(value))

    @property
    def is_fixed(self) -> bool:
        return self._fixed is not None

    def now(self) -> dt.datetime:
        if self._fixed is not None:
            return self._fixed.astimezone(SHANGHAI)
        return dt.datetime.now(SHANGHAI)

    def today(self) -> dt.date:
        return self.now().date()

    def set(self, when: dt.datetime) -> None:
        if when.tzinfo is None:
            when = when.replace(tzinfo=SHANGHAI)
        self._fixed = when

    def advance(self, **delta: float) -> None:
        """Move a fixed clock forward (tests of deadlines and reminders inject time, never sleep)."""
        if self._fixed is None:
            raise RuntimeError("only a fixed clock can be advanced")
        self._fixed = self._fixed + dt.timedelta(**delta)
