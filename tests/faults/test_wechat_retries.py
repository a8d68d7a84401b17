"""WeChat's re-deliveries under load: every message of many concurrent enrolments arrives three
times with the same MsgId (the copies overlapping the first, as when WeChat's 5-second wait runs out
while the first is still being handled). Each message is processed once: identical answers, one
turn per message in the server's own metrics, one application per guardian."""
from __future__ import annotations

import asyncio
import itertools
import re

import pytest

from bench.common import post_text
from bench.guardian import Guardian, seed_store
from tests.faults.conftest import assert_one_correct_application_each, server_for

pytestmark = pytest.mark.slow

GUARDIANS = 8
RETRY_DELAYS = (0.0, 0.02, 0.25)  # seconds after the first delivery that each copy is sent
_ids = itertools.count(7_000_000_000)


async def metric(http, server, name: str) -> int:
    async with http.get(server.base_url + "/metrics") as resp:
        text = await resp.text()
    match = re.search(rf"^{re.escape(name)} (\d+)", text, re.M)
    return int(match.group(1)) if match else 0


async def test_three_deliveries_of_every_message_under_load_are_processed_once(tmp_path, http):
    store_url = f"sqlite:///{tmp_path / 'bot.db'}"
    await seed_store(store_url, tmp_path, range(GUARDIANS))
    server = server_for(tmp_path, store_url).start()
    guardians = [Guardian(n) for n in range(GUARDIANS)]
    mismatches: list[tuple[str, list[str]]] = []
    distinct = 0
    try:
        def thrice(user: str):
            async def send(text: str) -> str:
                nonlocal distinct
                distinct += 1
                msg_id = next(_ids)

                async def copy(delay: float) -> str:
                    await asyncio.sleep(delay)
                    status, reply = await post_text(http, server.base_url, user, text, msg_id)
                    assert status == 200
                    return reply

                replies = await asyncio.gather(*(copy(d) for d in RETRY_DELAYS))
                # A copy may get "success" (empty) if the first is still running after the reply
                # budget; any copy that does answer must answer the same.
                if len({r for r in replies if r}) != 1:
                    mismatches.append((text, replies))
                return next((r for r in replies if r), "")
            return send

        results = await asyncio.wait_for(asyncio.gather(*(g.enroll(thrice(g.user_id)) for g in guardians)), 120)
        processed = (await metric(http, server, 'bot_outcomes_total{outcome="ok"}')
                     + await metric(http, server, 'bot_outcomes_total{outcome="deferred"}'))
        dedup = await metric(http, server, "bot_dedup_hits_total")
    finally:
        server.stop()
    assert not mismatches, mismatches[:3]
    assert processed == distinct  # one turn per message …
    assert dedup == 2 * distinct  # … and every copy answered from the first one's result
    await assert_one_correct_application_each(store_url, tmp_path, guardians, results)
