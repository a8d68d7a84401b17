"""Issue 15 item 6: the worker dies (kill -9) in the middle of a turn, holding the message's in-flight
claim. The claim is a short lease its worker renews, so after the restart WeChat's retry of the same
MsgId takes the message over and it is answered — once: the next message is the guardian's second turn.
(With a 60-second claim every retry got "success" and the message was never answered.)"""
from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time

import aiohttp
import pytest

from bench.common import Spawned, bot_env, free_port, post_text

pytestmark = pytest.mark.slow

USER = "o-crash-mid-turn"


def slow_server(tmp_path, store_url: str, port: int, turn_seconds: float) -> Spawned:
    return Spawned([sys.executable, "-m", "tests.faults.slow_server", "--port", str(port)], port,
                   env=bot_env(tmp_path, store_url, SLOW_TURN_SECONDS=str(turn_seconds), BOT_SIMULATOR="1"),
                   log_path=tmp_path / f"server-{turn_seconds}.log")


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def test_a_retry_after_kill_9_mid_turn_is_answered_once(backend, tmp_path, http, request):
    store_url = (request.getfixturevalue("private_redis").url if backend == "redis"
                 else f"sqlite:///{tmp_path / 'bot.db'}")
    port, msg_id = free_port(), int(time.time() * 1000)
    dying = slow_server(tmp_path, store_url, port, 60).start()
    base = dying.base_url
    first = asyncio.ensure_future(post_text(http, base, USER, "第一句", msg_id))
    await asyncio.sleep(1.5)  # the turn is under way: claim, lock and session read done
    dying.proc.send_signal(signal.SIGKILL)
    dying.proc.wait(10)
    with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
        await first
    server = slow_server(tmp_path, store_url, port, 0).start()
    try:
        answer, retries = "", 0
        deadline = time.monotonic() + 40
        while not answer and time.monotonic() < deadline:  # WeChat's retries (5 s apart; here 1 s)
            _status, answer = await post_text(http, base, USER, "第一句", msg_id)
            retries += 1
            if not answer:  # "success": the answer comes by customer-service message (the outbox here)
                async with http.get(base + "/simulator/outbox", params={"user": USER}) as resp:
                    answer = "".join((await resp.json())["messages"])
            if not answer:
                await asyncio.sleep(1)
        assert answer == "第1条：第一句", f"not answered after {retries} retries"
        _status, again = await post_text(http, base, USER, "第一句", msg_id)
        assert again == "第1条：第一句"  # a late retry: the cached answer, not a second turn
        _status, second = await post_text(http, base, USER, "第二句", msg_id + 1)
        assert second == "第2条：第二句"  # the first message was applied exactly once
    finally:
        server.stop()
