"""Staff messaging: segments, broadcast send jobs, reminders from the rule calendar.

`install(services)` builds the broadcast jobs and the reminder scheduler once, puts them in
`services.extras` ("broadcasts", "reminders") and registers a background sweep that calls
`ReminderScheduler.tick(now)` (which also starts due broadcasts and resumes interrupted ones).

Environment: BOT_BROADCAST_RATE (messages/second, default 20), BOT_BROADCAST_CONCURRENCY (default 8),
BOT_BROADCAST_QUEUE (a redis:// URL: hand jobs to worker processes instead of sending in-process) and
BOT_BROADCAST_QUEUE_PREFIX (its key prefix, default "bot:").
"""
from __future__ import annotations

import os
from typing import Any

from bot.broadcast.jobs import BroadcastJobs, JobSettings, Sender
from bot.broadcast.reminders import ReminderScheduler


def job_settings_from_env(env: dict[str, str] | None = None) -> JobSettings:
    """BOT_BROADCAST_RATE (messages/second) and BOT_BROADCAST_CONCURRENCY tune sending to the account's quota."""
    env = dict(os.environ if env is None else env)
    settings = JobSettings()
    try:
        settings.rate = float(env.get("BOT_BROADCAST_RATE") or settings.rate)
        settings.concurrency = int(env.get("BOT_BROADCAST_CONCURRENCY") or settings.concurrency)
    except ValueError as exc:
        raise ValueError("BOT_BROADCAST_RATE / BOT_BROADCAST_CONCURRENCY 应为数字") from exc
    if settings.rate <= 0 or settings.concurrency <= 0:
        raise ValueError("BOT_BROADCAST_RATE / BOT_BROADCAST_CONCURRENCY 应为正数")
    return settings


def default_sender(services: Any) -> Sender:
    """The shared WeChat API client; without a configured account (development, demos) broadcasts go to
    the chat simulator's outbox instead, so staff can watch them arrive there."""
    from bot.delivery import notice_sender

    return notice_sender(services) or OutboxSender(services)


class OutboxSender:
    """Delivers into the simulator's outbox (bot.delivery.Outbox): the sender when no WeChat account is set."""

    def __init__(self, services: Any) -> None:
        self.services = services

    async def send_text(self, openid: str, text: str) -> Any:
        from bot.delivery import outbox
        from integrations.wechat.api import SENT, DeliveryResult

        await outbox(self.services).append(openid, text, self.services.clock.now().isoformat(timespec="seconds"))
        return DeliveryResult(True, SENT, 0, "outbox")


def default_engine(services: Any) -> Any:
    engine = services.extras.get("engine")
    if engine is None:
        from bot.rules import RuleEngine

        engine = services.extras["engine"] = RuleEngine.load(services.settings.policies_dir)
    return engine


def install(services: Any, sender: Sender | None = None, engine: Any = None,
            settings: JobSettings | None = None) -> tuple[BroadcastJobs, ReminderScheduler]:
    """Idempotent: a second call returns the components already installed."""
    if "broadcasts" in services.extras and "reminders" in services.extras:
        return services.extras["broadcasts"], services.extras["reminders"]
    jobs = BroadcastJobs(services.store, services.clock, sender or default_sender(services),
                         settings or job_settings_from_env())
    queue_url = os.environ.get("BOT_BROADCAST_QUEUE", "")
    if queue_url:  # scale-out: jobs go to a Redis stream served by `python -m bot broadcast worker` processes
        from bot.broadcast.redis_queue import RedisBroadcastQueue

        services.extras["broadcast_queue"] = RedisBroadcastQueue.from_url(
            queue_url, jobs, prefix=os.environ.get("BOT_BROADCAST_QUEUE_PREFIX", "bot:"))
    reminders = ReminderScheduler(services.store, engine or default_engine(services), jobs, services.applications)
    services.extras["broadcasts"], services.extras["reminders"] = jobs, reminders

    async def reminder_sweep(services: Any) -> None:
        await reminders.tick(services.clock.now())

    services.extras.setdefault("sweeps", []).append(reminder_sweep)
    return jobs, reminders
