"""One message, exactly once: dedup → per-user lock → load session → router → save → cached reply.

WeChat waits 5 s for a reply and re-sends the same message up to three times. A retry is answered
from the reply cache (or waits for the first delivery still being processed); the conversation
advances once. The processed message's key (and reply) is also kept inside the session, saved
atomically with the state change, so a retry whose cached reply is gone (expired, evicted) is still
answered without applying the message twice. Work that outlives the reply budget is finished in the
background and delivered through the customer-service API (see `deliver`).

Round trips per message: two. The reply-cache check with the in-flight claim, the user lock and the
session read (`get_or_claim` with a `LockRead`); the session save (CAS) with the reply cache and the
lock release (`put_and_release`, fenced by the lock). Only when the guardian's previous message is
still being processed does the lock take more (`wait_for_lock_and_get` polls). The day's message counter
(`stats:messages:<date>`) is counted in memory and added to the store every few seconds (and in
`drain`); a crash may lose those few seconds of the statistic, never a message.

Stored replies (the reply cache and the session's recent replies) are sealed with the data key: a
confirmation page shows the masked ID's last four, the birth date and the district, which together
leave one candidate ID. One AES-GCM encryption per message; a retry decrypts once.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Awaitable, Callable, Protocol

from bot.logs import log_event, user_ref
from bot.metrics import Metrics
from bot.privacy import FieldCipher
from bot.services import Services
from bot.store.base import (Fence, HeldLock, LockLost, LockRead, LockTimeout, Record, StoreError, VersionConflict,
                            Write, wait_for_lock_and_get)
from bot.turn import Incoming, Reply, Turn

log = logging.getLogger("bot.pipeline")

BUSY_TEXT = "系统繁忙，请稍后再试。"
REPLY_TTL = 3600  # WeChat retries within ~15 s; an hour also covers slow duplicate deliveries
# The in-flight claim is a lease its worker renews while the turn runs: after a crash (kill -9) it lapses
# within seconds, so WeChat's next retry (5 s apart) processes the message instead of waiting on a dead
# worker's claim. A retry never applies a message twice: the session's recent keys tell (see _turn).
INFLIGHT_LEASE = 3.0
LEASE_RENEW_EVERY = 1.0
USER_LOCK_TTL = 15  # longer than the slowest turn; a crashed worker's lock frees itself
RECENT_KEYS = 3  # processed message keys (and replies) kept in the session: WeChat retries within ~15 s
MESSAGE_COUNTER_TTL = 40 * 86400
COUNT_FLUSH_SECONDS = 2.0  # the admin dashboard's "messages today" may lag this much
COUNT_FLUSH_MESSAGES = 50
FOLLOWUP_WAIT_LIMIT = 0.25  # seconds a follow-up waits for a moment with no guardian message in hand


class Router(Protocol):
    async def respond(self, turn: Turn) -> Reply: ...


Deliver = Callable[[Services, str, str], Awaitable[None]]


class Pipeline:
    def __init__(self, services: Services, router: Router, metrics: Metrics | None = None,
                 deliver: Deliver | None = None, reply_budget: float | None = None,
                 on_guardian_message: Callable[[Services, str], Awaitable[Any]] | None = None) -> None:
        self.services = services
        self.router = router
        self.metrics = metrics or Metrics()
        self.deliver = deliver
        self.on_guardian_message = on_guardian_message
        self.reply_budget = services.settings.reply_budget if reply_budget is None else reply_budget
        self._unflushed: dict[str, int] = {}  # counter name → messages not yet added in the store
        self._flush_timer: asyncio.Task | None = None  # a flush_counts waiting for COUNT_FLUSH_SECONDS
        self._flush_lock = asyncio.Lock()  # drain waits for a flush in progress
        self._handling = 0  # guardians' messages being handled now
        self._quiet_waiters: set[asyncio.Future] = set()  # follow-ups waiting for _handling to reach 0

    async def handle(self, incoming: Incoming) -> Reply | None:
        """The reply to send now, or None for "success" (the answer then comes by message)."""
        started = time.perf_counter()
        outcome = "ok"
        self._handling += 1
        try:
            reply, outcome = await self._handle(incoming)
            return reply
        except StoreError as exc:
            outcome = "busy"
            self.metrics.errors["store"] += 1
            log_event(log, "store unavailable", logging.WARNING, user=user_ref(incoming.user_id), error=str(exc))
            return Reply(text=BUSY_TEXT)
        except Exception:  # a bug must not cost the guardian a reply
            outcome = "error"
            self.metrics.errors["internal"] += 1
            log.exception("turn failed")
            return Reply(text="抱歉，系统出了点问题，请稍后再试。您已填写的内容不会丢失。")
        finally:
            self._handling -= 1
            if not self._handling:
                self._wake_followups()
            elapsed = time.perf_counter() - started
            self.metrics.observe(incoming.kind, outcome, elapsed)
            log_event(log, "message", user=user_ref(incoming.user_id), kind=incoming.kind,
                      outcome=outcome, latency_ms=round(elapsed * 1000, 2))

    async def _handle(self, incoming: Incoming) -> tuple[Reply | None, str]:
        key = incoming.dedup_key
        store = self.services.store
        lock = LockRead(self._lock_name(incoming), USER_LOCK_TTL, self.services.sessions.KIND, incoming.user_id)
        budget, waiting_since = self.reply_budget, None
        while True:
            claim = await store.get_or_claim("reply", key, f"inflight:{key}", INFLIGHT_LEASE, lock=lock)
            if claim.record is not None:
                return Reply(text=self._unseal(claim.record.data["text"])), "dedup"
            if claim.claimed:
                break
            # A retry while the first delivery is still being processed: wait for its result — or take the
            # message over once the first worker's lease lapses (it died), within this request's budget.
            now = time.monotonic()
            waiting_since = waiting_since or now
            if now - waiting_since >= max(self.reply_budget, 0.1):
                return None, "dedup"  # "success": the first delivery's result reaches the guardian by message
            await asyncio.sleep(0.05)
        if waiting_since is not None:
            budget = max(0.1, self.reply_budget - (time.monotonic() - waiting_since))
        finished = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(self._process_and_wake(incoming, claim.held, finished))
        self._keep_claim(key, task)
        if await _finished_within(finished, budget):
            return task.result(), "ok"
        self._spawn(self._deliver_late(incoming, task))
        return None, "deferred"

    def _keep_claim(self, key: str, task: asyncio.Future) -> None:
        """Renew the in-flight lease every LEASE_RENEW_EVERY seconds until the turn ends: a turn of a few
        milliseconds costs one timer, a long one a store write per second."""
        loop = asyncio.get_running_loop()

        def renew() -> None:
            if not task.done():
                self._spawn(self._renew_claim(f"inflight:{key}"))
                timer[0] = loop.call_later(LEASE_RENEW_EVERY, renew)

        timer = [loop.call_later(LEASE_RENEW_EVERY, renew)]
        task.add_done_callback(lambda _task: timer[0].cancel())

    async def _renew_claim(self, claim_key: str) -> None:
        try:
            if not await self.services.store.renew_claim(claim_key, INFLIGHT_LEASE):
                log_event(log, "in-flight lease lapsed before renewal", logging.WARNING)
        except StoreError as exc:  # the lease lapses; a retry may then take the message over
            log_event(log, "in-flight lease not renewed", logging.WARNING, error=str(exc))

    @staticmethod
    def _lock_name(incoming: Incoming) -> str:
        return f"user:{incoming.user_id}"

    async def _process_and_wake(self, incoming: Incoming, held: HeldLock | None, finished: asyncio.Future) -> Reply:
        """`_process`, waking the waiting handler from the turn's last step: a done-callback would take one
        more pass of the loop, and under load every pass waits for all the other guardians' ready work."""
        try:
            return await self._process(incoming, held)
        finally:
            if not finished.done():
                finished.set_result(True)

    async def _process(self, incoming: Incoming, held: HeldLock | None) -> Reply:
        """The turn under the guardian's lock: `held` when it was taken with the claim, else waited for."""
        store = self.services.store
        lock_name = self._lock_name(incoming)
        if held is None:  # the guardian's previous message is still being processed
            held = await wait_for_lock_and_get(store, lock_name, USER_LOCK_TTL, 30.0,
                                               self.services.sessions.KIND, incoming.user_id)
        try:
            reply, turn = await self._turn(incoming, held.record, lambda: held.fence(lock_name, USER_LOCK_TTL))
        except BaseException:
            with contextlib.suppress(StoreError):
                await store.release_lock(lock_name, held.token)
            raise
        if turn is None:  # processed before, answered from the session: not counted or followed up again
            return reply
        await self._count_message(f"stats:messages:{turn.now:%Y-%m-%d}")
        for followup in turn.followups + reply.followups:
            self._spawn(self._run_followup(followup))
        if self.on_guardian_message is not None and turn.interaction_recorded:
            # A new 48-hour window: send what WeChat refused earlier. Asked once per recorded interaction
            # (at most every ten minutes per guardian), not on every message: it costs a store query.
            self._spawn(self._run_followup(lambda services: self.on_guardian_message(services, incoming.user_id)))
        return reply

    async def _turn(self, incoming: Incoming, record: Record | None,
                    fence: Callable[[], Fence]) -> tuple[Reply, Turn | None]:
        """Run the router on the session (`record`, read with the lock) and commit: the session (CAS),
        the cached reply and the lock's release in one atomic write, fenced by the lock so that a commit
        the store runs only after we gave up and answered 系统繁忙 is refused. Turn None: the message was
        processed before (a crash lost its cached reply) and is answered from the session."""
        services = self.services
        cache = lambda sealed: Write("reply", incoming.dedup_key, {"text": sealed}, ttl=REPLY_TTL)  # noqa: E731
        session, version = services.sessions.decode(record)
        for attempt in range(3):
            if attempt:  # the session changed under our lock (a writer outside the pipeline): redo the turn
                session, version = await services.sessions.load(incoming.user_id)
            recent = session.get("recent", [])
            for item in recent:
                if item[0] == incoming.dedup_key:
                    await services.store.put_and_release([cache(item[1])], fence())
                    return Reply(text=self._unseal(item[1])), None
            turn = Turn(incoming=incoming, session=session, services=services, now=services.clock.now())
            reply = await self.router.respond(turn)
            sealed = services.cipher.seal(reply.text) if reply.text else ""
            session["recent"] = (recent + [[incoming.dedup_key, sealed]])[-RECENT_KEYS:]
            try:
                await services.store.put_and_release(
                    [services.sessions.write(incoming.user_id, session, version), cache(sealed)], fence())
            except VersionConflict:
                continue
            except LockLost:
                # Refused — or applied, and only its answer was lost (a timeout, then the client's retry
                # found the lock released). The session tells which; only a refusal is 系统繁忙.
                if not await self._applied(incoming):
                    raise
            return reply, turn
        raise StoreError("session kept changing under the turn")

    def _unseal(self, stored: str) -> str:
        """A stored reply's text (sealed; one saved before replies were sealed is plain)."""
        return self.services.cipher.unseal(stored) if stored.startswith(FieldCipher.PREFIX) else stored

    async def _applied(self, incoming: Incoming) -> bool:
        session, _version = await self.services.sessions.load(incoming.user_id)
        return any(item[0] == incoming.dedup_key for item in session.get("recent", []))

    async def _count_message(self, counter: str) -> None:
        """Count in memory; add to the store once COUNT_FLUSH_MESSAGES are pending, or after
        COUNT_FLUSH_SECONDS at the latest."""
        self._unflushed[counter] = self._unflushed.get(counter, 0) + 1
        if sum(self._unflushed.values()) >= COUNT_FLUSH_MESSAGES:
            await self.flush_counts()
        elif self._flush_timer is None:
            self._flush_timer = asyncio.ensure_future(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(COUNT_FLUSH_SECONDS)
        self._flush_timer = None  # from here on drain waits for the flush instead of cancelling it
        await self.flush_counts()

    async def flush_counts(self) -> None:
        """Add the messages counted in memory to the store's day counters. A store failure keeps them
        for the next flush."""
        async with self._flush_lock:
            pending, self._unflushed = self._unflushed, {}
            for counter, amount in pending.items():
                try:
                    await self.services.store.incr(counter, amount, ttl=MESSAGE_COUNTER_TTL)
                except StoreError as exc:
                    self._unflushed[counter] = self._unflushed.get(counter, 0) + amount
                    log_event(log, "message counter not saved", logging.WARNING, error=str(exc))

    async def _deliver_late(self, incoming: Incoming, task: asyncio.Future) -> None:
        await asyncio.wait([task])
        if task.cancelled() or task.exception() is not None:
            text = BUSY_TEXT
            if task.exception() is not None:
                log_event(log, "late turn failed", logging.ERROR, error=repr(task.exception()))
        else:
            text = task.result().text
        if self.deliver and text:
            await self.deliver(self.services, incoming.user_id, text)

    async def _run_followup(self, followup: Callable[[Services], Awaitable[Any]]) -> None:
        await self._quiet_moment()
        try:
            await followup(self.services)
        except Exception:
            self.metrics.errors["followup"] += 1
            log.exception("follow-up failed")

    async def _quiet_moment(self) -> None:
        """Wait until no guardian's message is being handled, FOLLOWUP_WAIT_LIMIT seconds at most: work that
        comes after a reply (pre-review, payment orders, deliveries) then never holds up another guardian's
        reply behind it in the loop, and under a steady load it still runs within a fraction of a second."""
        if not self._handling:
            return
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._quiet_waiters.add(waiter)
        timer = loop.call_later(FOLLOWUP_WAIT_LIMIT, lambda: waiter.done() or waiter.set_result(None))
        try:
            await waiter
        finally:
            timer.cancel()
            self._quiet_waiters.discard(waiter)  # woken by its timer under a load that never pauses: not kept

    def _wake_followups(self) -> None:
        waiters, self._quiet_waiters = self._quiet_waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self.services.background.add(task)
        task.add_done_callback(self.services.background.discard)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for background follow-ups, then save the message counters (tests, CLI chat, graceful
        shutdown)."""
        deadline = time.monotonic() + timeout
        while self.services.background and time.monotonic() < deadline:
            await asyncio.wait(list(self.services.background), timeout=max(0.0, deadline - time.monotonic()))
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        await self.flush_counts()


async def _finished_within(finished: asyncio.Future, seconds: float) -> bool:
    """Whether the turn set `finished` within `seconds`; it runs on either way (the reply budget). The
    handler awaits `finished` itself, and the budget's timer sets it to False: one timer per message, and
    the handler resumes in the loop's next pass after the turn's last step (`asyncio.wait_for` would add a
    task, a second future and a pass for each). A cancelled request (the client went away) cancels only
    `finished`: the turn runs on."""
    if finished.done():
        return True
    timer = asyncio.get_running_loop().call_later(seconds, lambda: finished.done() or finished.set_result(False))
    try:
        return await finished
    finally:
        timer.cancel()


__all__ = ["Pipeline", "BUSY_TEXT", "LockTimeout"]
