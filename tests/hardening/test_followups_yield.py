"""Issue 17: work that comes after a reply (pre-review, payment orders, deliveries) waits for a moment when no
guardian's message is being handled, so it never holds up another guardian's reply in the loop — and it is
never starved: past FOLLOWUP_WAIT_LIMIT it runs anyway."""
from __future__ import annotations

import asyncio
import time

from bot.clock import Clock
from bot.pipeline import FOLLOWUP_WAIT_LIMIT, Pipeline
from bot.services import build_services
from bot.turn import Incoming, Reply, Turn
from tests.e2e.test_webhook_protocol import make_settings
from tests.wechat_client import next_msg_id


class SlowForSomeRouter:
    """Answers at once, except for the users in `slow` (seconds); replies to 'A' carry a follow-up."""

    def __init__(self) -> None:
        self.slow: dict[str, float] = {}
        self.events: list[tuple[str, float]] = []

    async def respond(self, turn: Turn) -> Reply:
        await asyncio.sleep(self.slow.get(turn.user_id, 0))
        self.events.append((f"reply {turn.user_id}", time.monotonic()))
        reply = Reply(text=f"收到 {turn.text}")
        if turn.text == "A":
            async def followup(_services) -> None:
                self.events.append(("followup", time.monotonic()))
            reply.followups.append(followup)
        return reply


def _message(user: str, text: str) -> Incoming:
    return Incoming(user_id=user, kind="text", text=text, msg_id=next_msg_id())


async def _pipeline(tmp_path) -> tuple[Pipeline, SlowForSomeRouter]:
    router = SlowForSomeRouter()
    return Pipeline(build_services(make_settings(tmp_path), clock=Clock()), router), router


async def test_a_followup_waits_until_no_message_is_in_hand(tmp_path):
    pipeline, router = await _pipeline(tmp_path)
    router.slow["slow-guardian"] = 0.1
    other = asyncio.ensure_future(pipeline.handle(_message("slow-guardian", "B")))
    await asyncio.sleep(0.01)  # the slow guardian's message is in hand
    assert (await pipeline.handle(_message("fast-guardian", "A"))).text == "收到 A"
    assert (await other).text == "收到 B"
    await pipeline.drain()
    order = [name for name, _at in router.events]
    assert order == ["reply fast-guardian", "reply slow-guardian", "followup"]
    await pipeline.services.store.close()


async def test_a_followup_is_not_starved_by_a_long_turn(tmp_path):
    pipeline, router = await _pipeline(tmp_path)
    router.slow["slow-guardian"] = FOLLOWUP_WAIT_LIMIT + 0.5
    other = asyncio.ensure_future(pipeline.handle(_message("slow-guardian", "B")))
    await asyncio.sleep(0.01)
    answered_at = time.monotonic()
    assert (await pipeline.handle(_message("fast-guardian", "A"))).text == "收到 A"
    await asyncio.sleep(FOLLOWUP_WAIT_LIMIT + 0.1)
    ran = dict(router.events)
    assert "followup" in ran and "reply slow-guardian" not in ran  # ran while the slow turn was still going
    assert ran["followup"] - answered_at >= FOLLOWUP_WAIT_LIMIT * 0.9
    assert not pipeline._quiet_waiters  # a follow-up its timer woke is not kept while the load goes on
    await other
    await pipeline.drain()
    await pipeline.services.store.close()


async def test_with_nothing_in_hand_a_followup_runs_at_once(tmp_path):
    pipeline, router = await _pipeline(tmp_path)
    assert (await pipeline.handle(_message("fast-guardian", "A"))).text == "收到 A"
    await asyncio.sleep(0.02)
    assert [name for name, _at in router.events] == ["reply fast-guardian", "followup"]
    await pipeline.services.store.close()
