"""How the message pipeline uses the store: round trips per message, and the day's message counter
kept in memory until a flush (`Pipeline.drain`, or COUNT_FLUSH_MESSAGES / COUNT_FLUSH_SECONDS)."""
from __future__ import annotations

import collections

import pytest

from bot import pipeline as pipeline_module
from bot.clock import Clock
from bot.config import Settings
from bot.pipeline import BUSY_TEXT, Pipeline
from bot.services import build_services
from bot.store.base import LockLost
from bot.turn import Incoming, Reply, Turn


class CountingStore:
    """Passes every call to the real store and counts the calls (one call = one round trip)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls: collections.Counter[str] = collections.Counter()

    def __getattr__(self, name):
        method = getattr(self.inner, name)

        async def call(*args, **kwargs):
            self.calls[name] += 1
            return await method(*args, **kwargs)
        return call


class EchoRouter:
    async def respond(self, turn: Turn) -> Reply:
        turn.session["n"] = turn.session.get("n", 0) + 1
        return Reply(text=f"第{turn.session['n']}条")


@pytest.fixture
async def counted(store, tmp_path):
    settings = Settings(data_dir=tmp_path, store_url="sqlite:///unused", simulator=False)
    counting = CountingStore(store)
    services = build_services(settings, store=counting, clock=Clock())
    return Pipeline(services, EchoRouter()), counting, services


def text(user: str, msg_id: int) -> Incoming:
    return Incoming(user_id=user, kind="text", text="你好", msg_id=str(msg_id), create_time=1)


async def test_a_new_message_costs_two_round_trips_and_a_retry_one(counted):
    pipeline, counting, _services = counted
    assert (await pipeline.handle(text("u1", 1))).text == "第1条"
    # reply cache + claim + lock + session read, session save + reply cache + lock release
    assert dict(counting.calls) == {"get_or_claim": 1, "put_and_release": 1}
    counting.calls.clear()
    assert (await pipeline.handle(text("u1", 1))).text == "第1条"  # WeChat's retry: from the reply cache
    assert dict(counting.calls) == {"get_or_claim": 1}
    await pipeline.drain(1)


class SlowEchoRouter(EchoRouter):
    """Holds the first turn until told to go on."""

    def __init__(self) -> None:
        self.go_on = pipeline_module.asyncio.Event()

    async def respond(self, turn: Turn) -> Reply:
        if turn.session.get("n", 0) == 0:
            await self.go_on.wait()
        return await super().respond(turn)


async def test_a_message_behind_one_still_in_progress_waits_for_the_lock(counted):
    _pipeline, counting, services = counted
    router = SlowEchoRouter()
    pipeline = Pipeline(services, router)
    first = pipeline_module.asyncio.ensure_future(pipeline.handle(text("u1", 1)))
    for _ in range(100):  # until the first turn holds the lock (a hang guard, not a timing assertion)
        if counting.calls["get_or_claim"]:
            break
        await pipeline_module.asyncio.sleep(0.01)
    second = pipeline_module.asyncio.ensure_future(pipeline.handle(text("u1", 2)))
    await pipeline_module.asyncio.sleep(0.05)
    assert not second.done()
    router.go_on.set()
    assert [(await first).text, (await second).text] == ["第1条", "第2条"]
    assert counting.calls["get_or_claim"] == 2 and counting.calls["put_and_release"] == 2
    assert counting.calls["acquire_lock_and_get"] >= 1  # the second polled for the lock
    await pipeline.drain(1)


async def test_message_counter_is_flushed_by_drain(counted):
    pipeline, counting, services = counted
    for n in range(3):
        await pipeline.handle(text(f"u{n}", 100 + n))
    await pipeline.handle(text("u0", 100))  # a retry is not counted again
    assert counting.calls["incr"] == 0
    await pipeline.drain(1)
    day = f"stats:messages:{services.clock.now():%Y-%m-%d}"
    assert await services.store.incr(day, 0) == 3
    await pipeline.drain(1)  # nothing left to add
    assert await services.store.incr(day, 0) == 3


async def test_message_counter_is_flushed_after_a_batch_or_a_pause(counted, monkeypatch):
    monkeypatch.setattr(pipeline_module, "COUNT_FLUSH_MESSAGES", 4)
    monkeypatch.setattr(pipeline_module, "COUNT_FLUSH_SECONDS", 0.3)  # longer than a turn on a loaded machine
    pipeline, _counting, services = counted
    day = f"stats:messages:{services.clock.now():%Y-%m-%d}"
    for n in range(4):
        await pipeline.handle(text("u1", 200 + n))
    assert await services.store.incr(day, 0) == 4  # the fourth message flushed the batch
    await pipeline.handle(text("u1", 300))
    assert await services.store.incr(day, 0) == 4
    for _ in range(40):  # wait for the timer (a hang guard, not a timing assertion)
        if await services.store.incr(day, 0) == 5:
            break
        await pipeline_module.asyncio.sleep(0.05)
    assert await services.store.incr(day, 0) == 5


class LostAnswerStore(CountingStore):
    """The commit of the next turn runs (`apply=True`) or not, and either way its caller hears LockLost:
    what a timed-out commit looks like once the client's retry finds the lock already released."""

    def __init__(self, inner, apply: bool) -> None:
        super().__init__(inner)
        self.apply, self.armed = apply, True

    async def put_and_release(self, writes, fence):
        if not self.armed:
            return await self.inner.put_and_release(writes, fence)
        self.armed = False
        if self.apply:
            await self.inner.put_and_release(writes, fence)
        raise LockLost("simulated: commit answer lost")


@pytest.mark.parametrize("applied", [True, False])
async def test_a_commit_whose_answer_was_lost_is_told_by_the_session(store, tmp_path, applied):
    settings = Settings(data_dir=tmp_path, store_url="sqlite:///unused", simulator=False)
    services = build_services(settings, store=LostAnswerStore(store, apply=applied), clock=Clock())
    pipeline = Pipeline(services, EchoRouter())
    reply = (await pipeline.handle(text("u1", 1))).text
    session, _ = await services.sessions.load("u1")
    if applied:  # the guardian gets the real answer, not 系统繁忙 for a message that did count
        assert reply == "第1条" and session["n"] == 1
    else:  # refused: nothing changed, and the guardian is told to try again
        assert reply == BUSY_TEXT and "n" not in session
        assert (await pipeline.handle(text("u1", 2))).text == "第1条"  # and the lock was let go
    await pipeline.drain(1)
