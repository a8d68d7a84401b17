"""Structured one-line JSON logs, scrubbed of personal numbers."""
from __future__ import annotations

import hashlib
import logging
import sys
import time

from bot.privacy import redact
from bot.store import codec


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": round(record.created, 3), "level": record.levelname.lower(), "logger": record.name,
                 "msg": redact(record.getMessage())}
        for key, value in getattr(record, "fields", {}).items():
            entry[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return codec.dumps(entry)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("transitions").setLevel(logging.WARNING)  # a line per halted condition otherwise


def user_ref(openid: str) -> str:
    """A short stable pseudonym for an OpenID, so logs can follow a conversation without the id."""
    return hashlib.sha256(openid.encode()).hexdigest()[:10]


def log_event(logger: logging.Logger, msg: str, level: int = logging.INFO, **fields) -> None:
    logger.log(level, msg, extra={"fields": fields})


class LogThrottle:
    """At most `burst` lines per `window` seconds for one kind of line (requests we refuse): a flood of
    forged or malformed requests must not fill the disk or drown the other lines. The first line after a
    quiet window says how many were left out; the metrics still count every one."""

    def __init__(self, burst: int = 20, window: float = 60.0) -> None:
        self.burst, self.window = burst, window
        self._started = float("-inf")
        self._logged = 0
        self.suppressed = 0

    def allow(self) -> tuple[bool, int]:
        """(log this line?, lines left out since the last one logged)."""
        now = time.monotonic()
        if now - self._started >= self.window:
            self._started, self._logged = now, 0
        if self._logged >= self.burst:
            self.suppressed += 1
            return False, 0
        self._logged += 1
        left_out, self.suppressed = self.suppressed, 0
        return True, left_out


def log_throttled(logger: logging.Logger, throttle: LogThrottle, msg: str, level: int = logging.WARNING,
                  **fields) -> None:
    """`log_event`, within `throttle`'s budget; the next line logged counts those left out."""
    allowed, left_out = throttle.allow()
    if allowed:
        if left_out:
            fields["not_logged_before"] = left_out
        log_event(logger, msg, level, **fields)
