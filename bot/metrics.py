"""Prometheus text-format metrics kept in-process (one registry per app, no global state)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class Metrics:
    messages: Counter = field(default_factory=Counter)  # by message kind
    outcomes: Counter = field(default_factory=Counter)  # ok | dedup | busy | deferred | error
    errors: Counter = field(default_factory=Counter)  # by error class
    http_rejections: Counter = field(default_factory=Counter)  # by status code
    latency_buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0
    latency_count: int = 0

    def observe(self, kind: str, outcome: str, seconds: float) -> None:
        self.messages[kind] += 1
        self.outcomes[outcome] += 1
        self.latency_sum += seconds
        self.latency_count += 1
        for i, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                self.latency_buckets[i] += 1
                return
        self.latency_buckets[-1] += 1

    def render(self) -> str:
        lines = ["# HELP bot_messages_total Messages received by kind.", "# TYPE bot_messages_total counter"]
        lines += [f'bot_messages_total{{kind="{k}"}} {v}' for k, v in sorted(self.messages.items())]
        lines += ["# HELP bot_outcomes_total Message outcomes (dedup = WeChat retry answered from cache).",
                  "# TYPE bot_outcomes_total counter"]
        lines += [f'bot_outcomes_total{{outcome="{k}"}} {v}' for k, v in sorted(self.outcomes.items())]
        lines += [f"bot_dedup_hits_total {self.outcomes.get('dedup', 0)}"]
        lines += ["# HELP bot_errors_total Errors while handling messages.", "# TYPE bot_errors_total counter"]
        lines += [f'bot_errors_total{{error="{k}"}} {v}' for k, v in sorted(self.errors.items())]
        lines += ["# TYPE bot_http_rejections_total counter"]
        lines += [f'bot_http_rejections_total{{status="{k}"}} {v}' for k, v in sorted(self.http_rejections.items())]
        lines += ["# HELP bot_reply_seconds Time to produce a reply.", "# TYPE bot_reply_seconds histogram"]
        cumulative = 0
        for bound, count in zip(LATENCY_BUCKETS, self.latency_buckets):
            cumulative += count
            lines.append(f'bot_reply_seconds_bucket{{le="{bound}"}} {cumulative}')
        lines.append(f'bot_reply_seconds_bucket{{le="+Inf"}} {self.latency_count}')
        lines.append(f"bot_reply_seconds_sum {self.latency_sum:.6f}")
        lines.append(f"bot_reply_seconds_count {self.latency_count}")
        return "\n".join(lines) + "\n"
