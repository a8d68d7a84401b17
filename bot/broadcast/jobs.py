"""Broadcast send jobs: rate-limited, retried, resumable, cancellable, with per-recipient state.

Records (store kinds):
- "bjob"      key job id: text, segment, status (scheduled → running → done | cancelled; paused),
              totals. Index: status.
- "bdelivery" key "<job id>:<openid>": state, attempts, errcode, detail, optional per-recipient text.
              Index: job_id and js = "<job id>|<state>" (job id + state, for paging and progress).

Delivery states: pending → sending → sent | failed | held, with retry (backoff) and unknown/cancelled.

Exactly-once protocol for each recipient:
1. the worker claims the delivery, pending|retry → sending, before any API call: with a
   compare-and-set write (a second worker loses the CAS and skips it), or — when it holds the job's
   run lock and so is the only writer — in one batch write for a small group of recipients;
2. it takes a rate-limit slot and calls `Sender.send_text`;
3. it writes the outcome (sent, retry with a backoff time, failed, held), batched with the next claim.
A worker that is stopped (task cancelled, SIGTERM) finishes the sends it has claimed and records every
outcome before it exits, so a graceful stop leaves no 'sending' record behind.

Resume policy for 'sending' records (only a hard crash — SIGKILL, power loss — leaves them): the
message may or may not have reached WeChat, and WeChat has no idempotency key to ask. We never resend
them automatically: they become 'unknown' (counted and shown to staff), who can resend them on purpose
with `resend_unknown(job_id)`. A duplicate is never produced by the system; at most about twice
`concurrency` recipients per crashed worker end up 'unknown' (claimed groups plus unrecorded outcomes).
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

from bot.broadcast.ratelimit import RateLimiter, SlidingWindowLimiter
from bot.broadcast.segments import Segment, has_paid, resolve
from bot.clock import Clock
from bot.store.base import Record, Store, StoreError, VersionConflict

log = logging.getLogger(__name__)

JOB_KIND, DELIVERY_KIND = "bjob", "bdelivery"

# Job statuses
SCHEDULED, RUNNING, PAUSED, DONE, CANCELLED = "scheduled", "running", "paused", "done", "cancelled"
JOB_STATUS_LABELS = {SCHEDULED: "待发送", RUNNING: "发送中", PAUSED: "已暂停（接口额度）", DONE: "已完成",
                     CANCELLED: "已取消"}
# Delivery states
PENDING, RETRY, SENDING, SENT, FAILED, HELD, UNKNOWN, DROPPED, SKIPPED = (
    "pending", "retry", "sending", "sent", "failed", "held", "unknown", "cancelled", "skipped")
DELIVERY_STATES = (PENDING, RETRY, SENDING, SENT, FAILED, HELD, UNKNOWN, DROPPED, SKIPPED)
DELIVERY_LABELS = {PENDING: "待发送", RETRY: "等待重试", SENDING: "发送中", SENT: "已送达", FAILED: "失败",
                   HELD: "未发送（超出48小时互动窗口等）", UNKNOWN: "状态未知（发送中断）", DROPPED: "已取消",
                   SKIPPED: "已跳过（发送前已缴费）"}
OPEN_STATES = (PENDING, RETRY, SENDING)


class Sender(Protocol):
    """What a job needs from the WeChat API client (integrations.wechat.api.WeChatAPI).

    The result has .ok, .status ('sent' | 'retry' | 'undeliverable' | 'held' | 'paused'), .errcode, .detail."""

    async def send_text(self, openid: str, text: str) -> Any: ...


@dataclass
class JobSettings:
    rate: float = 20.0  # messages per second across this worker (WeChat's customer-service quota)
    concurrency: int = 8  # sends in flight at once
    max_attempts: int = 5  # per recipient, for 'retry' outcomes and exceptions
    backoff_base: float = 2.0  # seconds; doubles on every attempt
    backoff_max: float = 300.0
    pause_seconds: float = 3600.0  # when the API says 'paused' (daily quota), try again this much later
    page_size: int = 200
    run_lock_ttl: float = 120.0  # the in-process runner's hold on a job; renewed while it works
    status_poll: float = 0.5  # seconds between checks for cancel/pause made elsewhere


class JobError(ValueError):
    """A request about a job that cannot be done (Chinese message)."""


def new_job_id(now: dt.datetime) -> str:
    return now.strftime("B%Y%m%d%H%M%S") + secrets.token_hex(3).upper()


def delivery_key(job_id: str, openid: str) -> str:
    return f"{job_id}:{openid}"


def delivery_index(data: dict[str, Any]) -> dict[str, str]:
    # openid: what a guardian received, for the application's page (the value never changes, so on
    # Redis it costs one set member per delivery, written once)
    return {"job_id": data["job_id"], "js": f"{data['job_id']}|{data['state']}", "openid": data["openid"]}


def _iso(when: dt.datetime) -> str:
    return when.isoformat(timespec="seconds")


def _log_failure(task: asyncio.Task) -> None:
    """A worker that died of an error (store outage…) is restarted by the next tick; say why it stopped."""
    if not task.cancelled() and task.exception() is not None:
        log.error("broadcast worker %s stopped: %r", task.get_name(), task.exception())


@dataclass
class _Stop:
    """Why a worker stopped spawning sends: the job was cancelled or paused meanwhile."""

    reason: str = ""


@dataclass
class BroadcastJobs:
    """Job records and the in-process worker. One per process; `tick(now)` starts due work."""

    store: Store
    clock: Clock
    sender: Sender | None
    settings: JobSettings = field(default_factory=JobSettings)
    limiter: RateLimiter | None = None
    # Set by a Redis queue (bot.broadcast.redis_queue) to hand jobs to worker processes instead.
    dispatcher: Callable[[str], Awaitable[None]] | None = None
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}")
    _tasks: dict[str, asyncio.Task] = field(default_factory=dict)
    _count_cache: dict[str, tuple[float, dict[str, int]]] = field(default_factory=dict)
    _meta: dict[str, dict[str, Any]] = field(default_factory=dict)  # job id → text and skip rule (never change)

    def __post_init__(self) -> None:
        if self.limiter is None:
            self.limiter = SlidingWindowLimiter(self.settings.rate, start_quiet=True)

    # ----- creating and reading jobs -----------------------------------------------------------
    async def create(self, text: str, segment: Segment, *, send_at: dt.datetime | None = None,
                     created_by: str = "", job_id: str | None = None, kind: str = "broadcast", title: str = "",
                     recipients: list[tuple[str, str | None]] | None = None,
                     skip_paid: Segment | None = None) -> dict[str, Any]:
        """Create a job (and start it unless `send_at` is in the future).

        `recipients` (openid, own text or None) fixes the list now (reminders); otherwise the segment is
        resolved when the job starts. With an explicit `job_id` creation is idempotent: an existing job
        of that id is returned unchanged. `skip_paid` (a segment with scheme and since) re-checks each
        recipient just before sending: a guardian who paid meanwhile is skipped (reminders)."""
        text = (text or "").strip()
        if not text and not recipients:
            raise JobError("消息内容不能为空。")
        if len(text) > 600:
            raise JobError("消息太长了（客服消息最多600字），请精简后再发。")
        now = self.clock.now()
        job_id = job_id or new_job_id(now)
        job = {
            "id": job_id, "kind": kind, "title": title or text[:30], "text": text, "segment": segment.to_dict(),
            "segment_label": segment.describe(), "status": SCHEDULED, "created_at": _iso(now),
            "created_by": created_by, "send_at": _iso(send_at) if send_at else "", "materialized": False,
            "total": 0, "started_at": "", "finished_at": "", "resume_at": "",
            "skip_paid": skip_paid.to_dict() if skip_paid else None,
        }
        if recipients is not None:
            if await self.get(job_id) is not None:
                return await self.get(job_id) or job
            # Deliveries first, then the job: a crash in between leaves no job that could later fall
            # back to resolving its (informational) segment and message the wrong guardians.
            await self._write_deliveries(job_id, recipients)
            job.update(materialized=True, total=await self.store.count(DELIVERY_KIND, job_id=job_id))
        try:
            await self.store.put(JOB_KIND, job_id, job, expected_version=0, index={"status": SCHEDULED})
        except VersionConflict:
            existing = await self.get(job_id)
            assert existing is not None
            return existing
        if send_at is None or send_at <= now:
            await self.dispatch(job_id)
        return job

    async def get(self, job_id: str) -> dict[str, Any] | None:
        rec = await self.store.get(JOB_KIND, job_id)
        return rec.data if rec else None

    async def list(self, limit: int = 50) -> list[dict[str, Any]]:
        jobs = [r.data for _, r in await self.store.query(JOB_KIND)]
        jobs.sort(key=lambda j: j["created_at"], reverse=True)
        return jobs[:limit]

    async def progress(self, job_id: str) -> dict[str, Any]:
        job = await self.get(job_id)
        if job is None:
            raise JobError(f"没有编号为 {job_id} 的群发任务。")
        counts = await self._counts(job)
        total = job.get("total") or sum(counts.values())
        finished = total - sum(counts[s] for s in OPEN_STATES)
        return {
            "id": job_id, "status": job["status"], "status_label": JOB_STATUS_LABELS.get(job["status"], job["status"]),
            "title": job.get("title", ""), "segment_label": job.get("segment_label", ""),
            "total": total, "counts": counts, "finished": finished,
            "percent": round(100 * finished / total, 1) if total else (100.0 if job["status"] == DONE else 0.0),
            "created_at": job.get("created_at", ""), "send_at": job.get("send_at", ""),
            "started_at": job.get("started_at", ""), "finished_at": job.get("finished_at", ""),
            "resume_at": job.get("resume_at", ""), "kind": job.get("kind", "broadcast"),
        }

    async def _counts(self, job: dict[str, Any]) -> dict[str, int]:
        """Recipients per state: the snapshot taken when the job finished, else counted (at most once a
        second per running job: pages poll every second and counting is not free on every backend)."""
        if job["status"] == DONE and job.get("counts"):
            return job["counts"]
        cached = self._count_cache.get(job["id"])
        if job["status"] == RUNNING and cached and time.monotonic() - cached[0] < 1.0:
            return cached[1]
        counts = {state: await self.store.count(DELIVERY_KIND, js=f"{job['id']}|{state}") for state in DELIVERY_STATES}
        self._count_cache[job["id"]] = (time.monotonic(), counts)
        return counts

    async def sent_to(self, openid: str) -> list[dict[str, Any]]:
        """The broadcasts and reminders that reached a guardian: `[{"job_id", "kind", "text", "at"}]`, oldest first."""
        found = []
        for _, rec in await self.store.query(DELIVERY_KIND, openid=openid):
            if rec.data.get("state") != SENT:
                continue
            job = await self.get(rec.data["job_id"])
            found.append({"job_id": rec.data["job_id"], "kind": (job or {}).get("kind", "broadcast"),
                          "text": rec.data.get("text") or (job or {}).get("text", ""),
                          "at": rec.data.get("updated_at", "")})
        return sorted(found, key=lambda d: d["at"])

    async def deliveries(self, job_id: str, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        index = {"js": f"{job_id}|{state}"} if state else {"job_id": job_id}
        return [r.data for _, r in await self.store.query(DELIVERY_KIND, limit=limit, **index)]

    # ----- control ---------------------------------------------------------------------------
    async def cancel(self, job_id: str) -> dict[str, Any]:
        """Stop a job: no new sends start; messages already in flight are recorded as they end.
        Remaining recipients are marked cancelled by the worker (or here, when none runs it)."""
        job = await self.get(job_id)
        if job is None:
            raise JobError(f"没有编号为 {job_id} 的群发任务。")
        if job["status"] in (DONE, CANCELLED):
            return job
        job = await self.update_job(job_id, status=CANCELLED, finished_at=_iso(self.clock.now()))
        task = self._tasks.get(job_id)
        if task is not None and not task.done():
            return job  # the running worker sees the status and drops the rest
        await self._drop_open(job_id)  # CAS per record: a worker elsewhere either claimed it first or skips it
        return job

    async def resend_unknown(self, job_id: str) -> int:
        """Staff decision after a crash: send again to recipients whose delivery is unknown."""
        rows = await self.store.query(DELIVERY_KIND, js=f"{job_id}|{UNKNOWN}")
        for key, rec in rows:
            await self._set_state(key, rec, PENDING, expected=True, resent=True)
        if rows:
            await self.update_job(job_id, status=RUNNING, finished_at="")
            await self.dispatch(job_id)
        return len(rows)

    async def dispatch(self, job_id: str) -> None:
        """Hand a job to the worker: the Redis queue when configured, else an asyncio task here."""
        if self.dispatcher is not None:
            await self.dispatcher(job_id)
            return
        task = self._tasks.get(job_id)
        if task is not None and not task.done():
            return
        task = asyncio.create_task(self.run(job_id), name=f"broadcast-{job_id}")
        task.add_done_callback(_log_failure)
        self._tasks[job_id] = task

    async def tick(self, now: dt.datetime) -> list[str]:
        """Start scheduled jobs that are due, paused jobs whose pause ended, and running jobs nobody
        runs (after a restart). Called every minute by the background loop (via the reminders)."""
        started = []
        for status in (SCHEDULED, PAUSED, RUNNING):
            for _, rec in await self.store.query(JOB_KIND, status=status):
                job = rec.data
                due = job.get("send_at") if status == SCHEDULED else job.get("resume_at")
                if status != RUNNING and due and dt.datetime.fromisoformat(due) > now:
                    continue
                if self.dispatcher is None and job["id"] in self._tasks and not self._tasks[job["id"]].done():
                    continue
                await self.dispatch(job["id"])
                started.append(job["id"])
        return started

    async def wait(self, job_id: str) -> None:
        """Wait for this process's worker on the job (tests, CLI)."""
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.shield(task)

    def finished_here(self, job_id: str) -> bool:
        """True when this process ran a worker for the job and it has ended (done, paused or busy)."""
        task = self._tasks.get(job_id)
        return task is not None and task.done()

    async def stop(self) -> None:
        """Graceful shutdown: cancel the workers; each records its in-flight sends before it ends."""
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ----- the in-process worker ---------------------------------------------------------------
    async def run(self, job_id: str) -> str:
        """Send a job to completion (or until cancelled/paused). Safe to call again after a crash."""
        lock = f"brun:{job_id}"
        token = await self.store.acquire_lock(lock, self.settings.run_lock_ttl)
        if token is None:
            return "busy"  # another process runs it; the lock lapses if that process died
        renewed = time.monotonic()
        try:
            job = await self.start(job_id)
            if job is None or job["status"] != RUNNING:
                return job["status"] if job else "missing"
            # We hold the job's run lock, so any 'sending' record is an orphan of a crashed worker.
            await self.orphans_to_unknown(job_id)
            while True:
                if time.monotonic() - renewed > self.settings.run_lock_ttl / 3:
                    renewed_token = await self._renew_lock(lock, token)
                    if renewed_token is None:
                        return "busy"  # another process took the job over; it carries on
                    token, renewed = renewed_token, time.monotonic()
                page = await self.store.query(DELIVERY_KIND, limit=self._page_size(), js=f"{job_id}|{PENDING}")
                if not page:
                    page = await self._due_retries(job_id)
                    if page is None:
                        break
                    if not page:
                        continue
                stop = await self.send_batch(job_id, page, exclusive=True)  # we hold the run lock
                if stop.reason and stop.reason != CANCELLED:
                    return stop.reason  # paused: tick() resumes it at resume_at
            return await self.finish_if_complete(job_id)
        finally:
            with contextlib.suppress(StoreError):
                await self.store.release_lock(lock, token)

    def _page_size(self) -> int:
        """Small enough that a page is sent well within a third of the run lock's lifetime (it is renewed
        between pages; another process must never find it lapsed while we still send)."""
        by_time = int(self.settings.rate * self.settings.run_lock_ttl / 4)
        return max(1, min(self.settings.page_size, max(by_time, self.settings.concurrency // 2)))

    async def _renew_lock(self, lock: str, token: str) -> str | None:
        """Extend our hold on the job (the store has no extend: release and take again at once)."""
        await self.store.release_lock(lock, token)
        return await self.store.acquire_lock(lock, self.settings.run_lock_ttl)

    async def _due_retries(self, job_id: str) -> list[tuple[str, Record]] | None:
        """Retries whose backoff ended; [] after a short sleep when some are still waiting; None if none."""
        waiting = await self.store.query(DELIVERY_KIND, js=f"{job_id}|{RETRY}")
        if not waiting:
            return None
        now = time.time()
        due = [(k, r) for k, r in waiting if r.data.get("next_at", 0) <= now]
        if due:
            return due[: self._page_size()]
        job = await self.get(job_id)
        if job is None or job["status"] != RUNNING:
            return None
        await asyncio.sleep(min(1.0, max(0.01, min(r.data.get("next_at", 0) for _, r in waiting) - now)))
        return []

    async def start(self, job_id: str) -> dict[str, Any] | None:
        """Mark a job running and write its deliveries (resolving the segment) if not done yet."""
        job = await self.get(job_id)
        if job is None or job["status"] in (DONE, CANCELLED):
            return job
        if not job.get("materialized"):
            openids = await resolve(self.store, Segment.from_dict(job["segment"]), self.clock.now())
            await self._write_deliveries(job_id, [(o, None) for o in openids])
            job = await self.update_job(job_id, materialized=True, total=len(openids))
        if job["status"] != RUNNING:
            job = await self.update_job(job_id, status=RUNNING, resume_at="",
                                         started_at=job.get("started_at") or _iso(self.clock.now()))
        return job

    async def send_batch(self, job_id: str, items: list[tuple[str, Record]], exclusive: bool = False) -> _Stop:
        """Deliver `items` in groups of concurrency/2, two groups in flight. Each group is claimed in one
        store round (`exclusive`: the caller holds the job's run lock, so one unconditional batch write;
        otherwise a compare-and-set per recipient) together with the outcomes of earlier groups, which
        keeps store writes per message low. On cancellation of the calling task the groups already
        claimed still send, and every outcome is recorded before CancelledError propagates."""
        stop = _Stop()
        size = max(1, self.settings.concurrency // 2)
        checked = 0.0
        groups: set[asyncio.Task] = set()
        outcomes: list[tuple[str, dict[str, Any]]] = []
        try:
            for start in range(0, len(items), size):
                if time.monotonic() - checked > self.settings.status_poll:
                    checked = time.monotonic()
                    job = await self.get(job_id)
                    stop.reason = stop.reason or ("" if job and job["status"] == RUNNING else (job or {}).get("status", CANCELLED))
                group = items[start:start + size]
                if stop.reason == CANCELLED:
                    for key, rec in group:
                        await self._set_state(key, rec, DROPPED, expected=True)
                    continue
                if stop.reason:
                    break
                while len(groups) >= 2:
                    done, groups = await asyncio.wait(groups, return_when=asyncio.FIRST_COMPLETED)
                    outcomes += [o for task in done for o in task.result()]
                flush, outcomes = outcomes, []
                groups.add(asyncio.create_task(self._send_group(job_id, group, flush, exclusive, stop)))
            if groups:
                done, groups = await asyncio.wait(groups)
                outcomes += [o for task in done for o in task.result()]
        finally:
            if groups:  # cancelled: the claimed groups finish their sends
                results = await asyncio.shield(asyncio.gather(*groups, return_exceptions=True))
                outcomes += [o for r in results if isinstance(r, list) for o in r]
            if outcomes:
                await asyncio.shield(self._write_deliveries_data(outcomes))
        return stop

    async def _send_group(self, job_id: str, group: list[tuple[str, Record]], flush: list[tuple[str, dict[str, Any]]],
                          exclusive: bool, stop: _Stop) -> list[tuple[str, dict[str, Any]]]:
        """Claim (pending|retry → sending) and send one group; returns the outcomes to record."""
        claims = []
        skip_paid = (await self._job_meta(job_id)).get("skip_paid")
        for key, rec in group:
            if skip_paid and rec.data.get("state") in (PENDING, RETRY) and await has_paid(
                    self.store, rec.data["openid"], Segment.from_dict(skip_paid)):
                await self._set_state(key, rec, SKIPPED, expected=True)
                continue
            if rec.data.get("state") in (PENDING, RETRY):
                claims.append((key, rec, dict(rec.data, state=SENDING, attempts=int(rec.data.get("attempts", 0)) + 1,
                                              claimed_at=time.time(), worker=self.worker_id)))
        claimed: list[tuple[str, dict[str, Any]]] = []
        if exclusive:
            claimed = [(key, data) for key, _, data in claims]
            await self._write_deliveries_data(flush + claimed)
        else:
            if flush:
                await self._write_deliveries_data(flush)
            for key, rec, data in claims:
                try:
                    await self.store.put(DELIVERY_KIND, key, data, expected_version=rec.version, index=delivery_index(data))
                    claimed.append((key, data))
                except VersionConflict:
                    continue  # another worker took it, or it was cancelled
        return list(await asyncio.gather(*(self._send_one(job_id, key, data, stop) for key, data in claimed)))

    async def _send_one(self, job_id: str, key: str, data: dict[str, Any], stop: _Stop) -> tuple[str, dict[str, Any]]:
        text = data.get("text") or (await self._job_text(job_id))
        async with self.limiter.slot():
            if stop.reason:  # paused or cancelled while this one waited for its slot: it was not sent
                state = DROPPED if stop.reason == CANCELLED else PENDING
                return key, dict(data, state=state, attempts=data["attempts"] - 1)
            try:
                result = await self.sender.send_text(data["openid"], text)
                status = str(getattr(result, "status", "") or ("sent" if getattr(result, "ok", False) else "retry"))
                errcode, detail = getattr(result, "errcode", 0), str(getattr(result, "detail", "") or "")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a client bug or network error: retry later
                status, errcode, detail = "retry", None, f"{type(exc).__name__}: {exc}"[:200]
        return key, await self._outcome(job_id, data, status, errcode, detail, stop)

    async def _outcome(self, job_id: str, data: dict[str, Any], status: str, errcode: Any, detail: str,
                       stop: _Stop) -> dict[str, Any]:
        """The delivery record after a send. Written unconditionally: this worker made the call, so its
        outcome is the truth even if a recovery meanwhile marked the record unknown."""
        data = dict(data, errcode=errcode, detail=detail, updated_at=_iso(self.clock.now()))
        if status == "sent":
            data["state"] = SENT
        elif status == "held":
            data["state"] = HELD
        elif status == "undeliverable":
            data["state"] = FAILED
        elif status == "paused":
            data.update(state=PENDING, attempts=data["attempts"] - 1)
            if not stop.reason:
                stop.reason = PAUSED
                resume = self.clock.now() + dt.timedelta(seconds=self.settings.pause_seconds)
                with contextlib.suppress(VersionConflict, JobError):
                    await self.update_job(job_id, status=PAUSED, resume_at=_iso(resume), only_if=RUNNING)
        elif data["attempts"] >= self.settings.max_attempts:
            data["state"] = FAILED
        else:
            delay = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** (data["attempts"] - 1))
            data.update(state=RETRY, next_at=time.time() + delay)
        return data

    async def _write_deliveries_data(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        if items:
            await self.store.put_many(DELIVERY_KIND, [(key, data, delivery_index(data)) for key, data in items])

    async def _job_meta(self, job_id: str) -> dict[str, Any]:
        """The job's unchanging fields (text, skip rule), cached: read once per job, not per message."""
        if job_id not in self._meta:
            job = await self.get(job_id) or {}
            self._meta[job_id] = {"text": job.get("text", ""), "skip_paid": job.get("skip_paid")}
        return self._meta[job_id]

    async def _job_text(self, job_id: str) -> str:
        return (await self._job_meta(job_id))["text"]

    async def finish_if_complete(self, job_id: str) -> str:
        """Mark the job done when no recipient is open any more; returns the job's status."""
        job = await self.get(job_id)
        if job is None:
            return "missing"
        if job["status"] == CANCELLED:
            await self._drop_open(job_id)
            return CANCELLED
        for state in OPEN_STATES:  # called after every chunk: look for one open recipient, don't count them all
            if await self.store.query(DELIVERY_KIND, limit=1, js=f"{job_id}|{state}"):
                return job["status"]
        counts = {state: await self.store.count(DELIVERY_KIND, js=f"{job_id}|{state}") for state in DELIVERY_STATES}
        with contextlib.suppress(VersionConflict, JobError):
            job = await self.update_job(job_id, status=DONE, finished_at=_iso(self.clock.now()), only_if=RUNNING,
                                        counts=counts)
        return job["status"]

    async def orphans_to_unknown(self, job_id: str) -> int:
        """Apply the resume policy to every 'sending' record of a job whose worker is gone."""
        return await self.mark_unknown(await self.store.query(DELIVERY_KIND, js=f"{job_id}|{SENDING}"))

    async def mark_unknown(self, items: list[tuple[str, Record]]) -> int:
        """Resume policy: a send interrupted by a crash may or may not have reached WeChat, so it is
        marked unknown and never resent automatically (staff can: `resend_unknown`)."""
        n = 0
        for key, rec in items:
            if rec.data.get("state") == SENDING and await self._set_state(key, rec, UNKNOWN, expected=True):
                n += 1
        if n:
            log.warning("broadcast: %d deliveries interrupted by a crash marked unknown", n)
        return n

    # ----- helpers -------------------------------------------------------------------------------
    async def _write_deliveries(self, job_id: str, recipients: list[tuple[str, str | None]]) -> None:
        """Write pending deliveries; an existing record (a restart during this step) is left alone."""
        existing = {r.data["openid"] for _, r in await self.store.query(DELIVERY_KIND, job_id=job_id)}
        items = []
        for openid, own_text in recipients:
            if openid in existing:
                continue
            data = {"job_id": job_id, "openid": openid, "state": PENDING, "attempts": 0}
            if own_text:
                data["text"] = own_text
            items.append((delivery_key(job_id, openid), data, delivery_index(data)))
        for start in range(0, len(items), 1000):
            await self.store.put_many(DELIVERY_KIND, items[start:start + 1000])

    async def _drop_open(self, job_id: str) -> None:
        for state in (PENDING, RETRY):
            for key, rec in await self.store.query(DELIVERY_KIND, js=f"{job_id}|{state}"):
                await self._set_state(key, rec, DROPPED, expected=True)

    async def _set_state(self, key: str, rec: Record, state: str, expected: bool, **extra: Any) -> bool:
        data = dict(rec.data, state=state, **extra)
        try:
            await self.store.put(DELIVERY_KIND, key, data, expected_version=rec.version if expected else None,
                                 index=delivery_index(data))
            return True
        except VersionConflict:
            return False

    async def update_job(self, job_id: str, only_if: str | None = None, **changes: Any) -> dict[str, Any]:
        for _attempt in range(10):
            rec = await self.store.get(JOB_KIND, job_id)
            if rec is None:
                raise JobError(f"没有编号为 {job_id} 的群发任务。")
            if only_if is not None and rec.data["status"] != only_if:
                raise JobError(f"任务 {job_id} 当前状态为 {rec.data['status']}")
            data = dict(rec.data, **changes)
            try:
                await self.store.put(JOB_KIND, job_id, data, expected_version=rec.version,
                                     index={"status": data["status"]})
                return data
            except VersionConflict:
                continue
        raise VersionConflict(job_id)
