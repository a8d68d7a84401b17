"""Broadcasts at scale: a Redis Streams queue shared by several worker processes.

`submit(job_id)` (installed as `BroadcastJobs.dispatcher`) writes the job's deliveries to the store
and appends chunks of delivery keys to a stream. Worker processes (`python -m bot broadcast worker`)
read chunks through a consumer group (XREADGROUP), send them with the same per-recipient protocol as
the in-process worker (CAS claim pending → sending, send, record) and XACK a chunk when every
recipient in it is settled. A worker that dies leaves its chunk pending in the group; after `min_idle`
seconds another worker takes it over with XAUTOCLAIM. Recipients of that chunk still 'pending' are
sent; those left 'sending' by the dead worker follow the resume policy of bot.broadcast.jobs: they
become 'unknown' and are not resent automatically (no duplicates). A live worker refreshes its
chunk's idle time after every batch, so a slow worker is not mistaken for a dead one.

The rate limit is shared too: a sliding one-second window kept in a Redis sorted set, updated by a
Lua script, so N workers together stay within the account's quota.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from typing import Any, AsyncIterator

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bot.broadcast.jobs import (CANCELLED, DELIVERY_KIND, PENDING, RETRY, RUNNING, SENDING, BroadcastJobs,
                                delivery_key)
from bot.store.base import Record

log = logging.getLogger(__name__)

# KEYS[1] window zset; ARGV: limit, window ms, member, in-flight lease ms. A member's score is its
# completion time, or (while in flight) now + lease, so a worker that dies mid-send frees its place.
# Returns 0 when admitted, else ms to wait before asking again.
_TAKE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window + tonumber(ARGV[4]))
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.min(50, math.max(1, tonumber(oldest[2]) + window - now))
"""
# KEYS[1] window zset; ARGV: member. Counts the send at its completion time from now on.
_DONE = """
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], 'XX', t[1] * 1000 + math.floor(t[2] / 1000), ARGV[1])
"""


class RedisRateLimiter:
    """At most `rate` sends per sliding second across every process sharing `key` (same counting rule
    as bot.broadcast.ratelimit: sends in flight, and completed ones by their completion time)."""

    def __init__(self, redis: Redis, key: str, rate: float, window: float = 1.0, lease: float = 30.0) -> None:
        self.redis, self.key = redis, key
        self.limit, self.window_ms, self.lease_ms = max(1, int(rate * window)), int(window * 1000), int(lease * 1000)
        self._take = redis.register_script(_TAKE)
        self._done = redis.register_script(_DONE)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        member = secrets.token_hex(8)
        while True:
            wait_ms = int(await self._take(keys=[self.key], args=[self.limit, self.window_ms, member, self.lease_ms]))
            if wait_ms == 0:
                break
            await asyncio.sleep(wait_ms / 1000)
        try:
            yield
        finally:
            await asyncio.shield(self._done(keys=[self.key], args=[member]))


class RedisBroadcastQueue:
    def __init__(self, redis: Redis, jobs: BroadcastJobs, *, prefix: str = "bot:", group: str = "senders",
                 consumer: str | None = None, chunk_size: int = 100, min_idle: float = 60.0,
                 share_rate_limit: bool = True) -> None:
        self.redis, self.jobs = redis, jobs
        self.stream = f"{prefix}broadcast:stream"
        self.group = group
        self.consumer = consumer or jobs.worker_id
        self.chunk_size, self.min_idle_ms = chunk_size, int(min_idle * 1000)
        self._group_ready = False
        jobs.dispatcher = self.submit
        if share_rate_limit:
            jobs.limiter = RedisRateLimiter(redis, f"{prefix}broadcast:rate", jobs.settings.rate)

    @classmethod
    def from_url(cls, url: str, jobs: BroadcastJobs, **options: Any) -> "RedisBroadcastQueue":
        return cls(Redis.from_url(url, decode_responses=True), jobs, **options)

    async def close(self) -> None:
        await self.redis.aclose()

    async def ensure_group(self) -> None:
        if self._group_ready:
            return
        with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists already
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        self._group_ready = True

    # ----- producer ------------------------------------------------------------------------------
    async def submit(self, job_id: str) -> None:
        """Write the job's deliveries and enqueue them in chunks (once per run of the job)."""
        await self.ensure_group()
        job = await self.jobs.get(job_id)
        if job is None or (job["status"] == RUNNING and job.get("enqueued")):
            return  # the workers have it; XAUTOCLAIM covers workers that died
        job = await self.jobs.start(job_id)
        if job is None or job["status"] != RUNNING:
            return
        openids = [rec.data["openid"] for state in (PENDING, RETRY)
                   for _, rec in await self.jobs.store.query(DELIVERY_KIND, js=f"{job_id}|{state}")]
        for start in range(0, len(openids), self.chunk_size):
            chunk = openids[start:start + self.chunk_size]
            await self.redis.xadd(self.stream, {"job": job_id, "openids": json.dumps(chunk)})
        await self.jobs.update_job(job_id, enqueued=True)
        if not openids:
            await self.jobs.finish_if_complete(job_id)

    # ----- consumer ------------------------------------------------------------------------------
    async def work(self, stop: asyncio.Event | None = None, block: float = 1.0) -> None:
        """Process chunks until `stop` is set (or the task is cancelled: sends in flight finish first)."""
        await self.ensure_group()
        stop = stop or asyncio.Event()
        while not stop.is_set():
            await self.work_once(block)

    async def work_once(self, block: float = 1.0) -> int:
        """Take over one abandoned chunk, or read one new chunk; returns the number processed."""
        entries = await self._reclaim()
        if not entries:
            answer = await self.redis.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=1,
                                                 block=int(block * 1000))
            entries = answer[0][1] if answer else []
        for entry_id, fields in entries:
            if fields:  # a reclaimed entry that was trimmed meanwhile has no fields
                await self._process(entry_id, fields["job"], json.loads(fields["openids"]))
            await self.redis.xack(self.stream, self.group, entry_id)
            await self.redis.xdel(self.stream, entry_id)  # done: keep the stream short
        return len(entries)

    async def _reclaim(self) -> list[tuple[str, dict[str, str]]]:
        answer = await self.redis.xautoclaim(self.stream, self.group, self.consumer, self.min_idle_ms,
                                             start_id="0-0", count=1)
        entries = answer[1] if answer else []
        if entries:
            log.warning("broadcast worker %s took over %d abandoned chunk(s)", self.consumer, len(entries))
        return [(entry_id, fields) for entry_id, fields in entries]

    async def _process(self, entry_id: str, job_id: str, openids: list[str]) -> None:
        keys = [delivery_key(job_id, o) for o in openids]
        while True:
            job = await self.jobs.get(job_id)
            records = [(k, r) for k in keys if (r := await self.jobs.store.get(DELIVERY_KIND, k)) is not None]
            if job is None:
                return
            if job["status"] == CANCELLED:
                await self.jobs.finish_if_complete(job_id)  # marks the open recipients cancelled
                return
            if job["status"] != RUNNING:
                return  # paused: its pending recipients are re-enqueued when it resumes
            await self._settle_orphans(job_id, records)
            now = time.time()
            due = [(k, r) for k, r in records if r.data["state"] == PENDING
                   or (r.data["state"] == RETRY and r.data.get("next_at", 0) <= now)]
            waiting = [r for _, r in records if r.data["state"] == RETRY and r.data.get("next_at", 0) > now]
            if due:
                await self.jobs.send_batch(job_id, due)
                await self._heartbeat(entry_id)
            elif waiting:
                await asyncio.sleep(min(1.0, max(0.01, min(r.data["next_at"] for r in waiting) - now)))
                await self._heartbeat(entry_id)
            else:
                break
        await self.jobs.finish_if_complete(job_id)

    async def _settle_orphans(self, job_id: str, records: list[tuple[str, Record]]) -> None:
        """'sending' records of another worker in a chunk we now hold were left by a worker that died
        (its chunk went idle): resume policy → unknown."""
        await self.jobs.mark_unknown([(k, r) for k, r in records
                                      if r.data["state"] == SENDING and r.data.get("worker") != self.jobs.worker_id])

    async def _heartbeat(self, entry_id: str) -> None:
        """Reset the chunk's idle time so XAUTOCLAIM does not hand a slow worker's chunk to another."""
        await self.redis.xclaim(self.stream, self.group, self.consumer, 0, [entry_id], justid=True)

    async def clear(self) -> None:
        """Remove the stream and the shared rate window (tests, or resetting a deployment)."""
        await self.redis.delete(self.stream, self.stream.replace(":stream", ":rate"))
