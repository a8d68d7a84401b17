"""Issue 15 item 6, in-process: the in-flight claim is a short lease, renewed while the turn runs — a slow
turn keeps it past the lease's length, and a finished (or failed) turn stops renewing it."""
from __future__ import annotations

import asyncio

from bot.pipeline import INFLIGHT_LEASE
from bot.web.simulator import build_message_xml
from tests.e2e.test_webhook_protocol import bot  # noqa: F401 - the fixture
from tests.wechat_client import next_msg_id


async def test_a_slow_turn_keeps_its_lease_and_a_retry_gets_its_answer(bot):  # noqa: F811
    _client, sender, router, services = bot
    router.delay = INFLIGHT_LEASE + 1.5
    msg_id = next_msg_id()
    first = asyncio.ensure_future(sender.post_xml(build_message_xml("u-slow", text="慢", msg_id=msg_id)))
    await asyncio.sleep(INFLIGHT_LEASE + 0.5)  # past the first lease: only a renewal holds it now
    assert await services.store.claim(f"inflight:msg:u-slow:{msg_id}", 30) is False
    await first  # answered "success" after the reply budget; the turn goes on
    router.delay = 0
    await asyncio.sleep(1.5)
    assert await sender.say("u-slow", "慢", msg_id=msg_id) == "第1条 text   慢"  # the retry: cached, not redone
    assert await sender.say("u-slow", "再来") == "第2条 text   再来"
