"""The Redis Streams queue against the real Redis: several workers share a job exactly once, a worker
killed mid-job (task cancelled, or a process SIGKILLed) is taken over, the rate limit is shared."""
from __future__ import annotations

import asyncio
import collections
import os
import signal
import sys
import uuid

import pytest
from redis.asyncio import Redis

from bot.broadcast.jobs import DONE, SENT, UNKNOWN, BroadcastJobs, JobSettings
from bot.broadcast.redis_queue import RedisBroadcastQueue, RedisRateLimiter
from bot.broadcast.segments import Segment
from bot.config import ROOT
from tests.conftest import REDIS_URL
from tests.staff.conftest import APPID, SECRET, add_subscribers, make_sender

pytestmark = pytest.mark.redis


@pytest.fixture
async def redis():
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        await client.ping()
    except Exception as exc:  # noqa: BLE001
        await client.aclose()
        if os.environ.get("CI"):
            pytest.fail(f"Redis not reachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    yield client, prefix
    keys = [k async for k in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def worker(services, sender, redis, prefix, rate=400.0, **options) -> RedisBroadcastQueue:
    jobs = BroadcastJobs(services.store, services.clock, sender, JobSettings(rate=rate, concurrency=8, backoff_base=0.05,
                                                                           status_poll=0.05))
    return RedisBroadcastQueue(redis, jobs, prefix=prefix, chunk_size=50, **options)


async def drain(queues: list[RedisBroadcastQueue], job_id: str, timeout: float = 30.0) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(q.work(stop, block=0.1)) for q in queues]
    try:
        async with asyncio.timeout(timeout):
            while (await queues[0].jobs.get(job_id))["status"] != DONE:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_three_workers_share_a_job_exactly_once(services, fake_api, redis):
    client, prefix = redis
    fake_api.rate_limit = 200  # three workers together must stay under it
    openids = await add_subscribers(services, 600)
    sender = make_sender(services, fake_api.base_url)
    queues = [worker(services, sender, client, prefix, rate=200) for _ in range(3)]
    job = await queues[0].jobs.create("测试群发", Segment(), job_id="R-sh-child-fund:enrollment:20260930:7d")
    await drain(queues, job["id"])
    await sender.close()
    assert collections.Counter(fake_api.recipients) == {o: 1 for o in openids}
    assert not [e for e in fake_api.errors if e[2] == 45011]  # the shared limit held
    claimed_by = collections.Counter(d["worker"] for d in await queues[0].jobs.deliveries(job["id"], limit=1000))
    assert len(claimed_by) == 3  # the work really was shared
    assert await client.xlen(queues[0].stream) == 0  # finished chunks are removed


async def test_cancelled_worker_is_taken_over_without_duplicates(services, fake_api, redis):
    client, prefix = redis
    openids = await add_subscribers(services, 400)
    sender = make_sender(services, fake_api.base_url)
    first = worker(services, sender, client, prefix, rate=200, min_idle=0.5)
    job = await first.jobs.create("测试群发", Segment())
    task = asyncio.create_task(first.work(block=0.1))
    while len(fake_api.messages) < 60:
        await asyncio.sleep(0.01)
    task.cancel()  # the worker dies holding a chunk it has not acknowledged
    await asyncio.gather(task, return_exceptions=True)
    second = worker(services, sender, client, prefix, rate=400, min_idle=0.5)
    await drain([second], job["id"])
    await sender.close()
    assert collections.Counter(fake_api.recipients) == {o: 1 for o in openids}


async def test_shared_rate_limit_holds_across_limiters(redis):
    client, prefix = redis
    limiters = [RedisRateLimiter(client, prefix + "rate", rate=50) for _ in range(3)]
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def take(limiter):
        for _ in range(40):
            async with limiter.slot():
                times.append(loop.time())

    await asyncio.gather(*(take(limiter) for limiter in limiters))
    times.sort()
    window: collections.deque[float] = collections.deque()
    for t in times:
        window.append(t)
        while window[0] <= t - 0.98:  # a little slack for the distance between Redis's clock and ours
            window.popleft()
        assert len(window) <= 50


@pytest.mark.slow
async def test_worker_process_killed_with_sigkill_is_taken_over(services, fake_api, redis, tmp_path):
    """Hard crash: at most the sends in flight in the killed process become 'unknown' (never resent);
    everybody else gets the message exactly once."""
    client, prefix = redis
    openids = await add_subscribers(services, 1500)
    env = dict(os.environ, BOT_STORE=f"sqlite:///{tmp_path / 'bot.db'}", BOT_DATA_KEY="00" * 32,
               BOT_DATA_DIR=str(tmp_path), WECHAT_APPID=APPID, WECHAT_SECRET=SECRET, WECHAT_API_BASE=fake_api.base_url,
               BOT_BROADCAST_QUEUE=REDIS_URL, BOT_BROADCAST_QUEUE_PREFIX=prefix, BOT_BROADCAST_RATE="300",
               BOT_BROADCAST_CONCURRENCY="8", BOT_NOW=services.clock.now().isoformat(), PYTHONPATH=str(ROOT))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "broadcast", "worker", "--min-idle", "1", cwd=str(ROOT), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    sender = make_sender(services, fake_api.base_url)
    producer = worker(services, sender, client, prefix, rate=300, min_idle=1.0)
    try:
        job = await producer.jobs.create("测试群发", Segment())
        async with asyncio.timeout(60):
            while len(fake_api.messages) < 300:
                await asyncio.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        await drain([producer], job["id"], timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await sender.close()
    progress = await producer.jobs.progress(job["id"])
    counts = collections.Counter(fake_api.recipients)
    assert max(counts.values()) == 1  # no duplicate, ever
    assert progress["counts"][SENT] + progress["counts"][UNKNOWN] == len(openids)
    assert progress["counts"][UNKNOWN] <= 16  # only what the killed process had claimed (2 × concurrency)
    sent = {d["openid"] for d in await producer.jobs.deliveries(job["id"], SENT, limit=2000)}
    assert sent <= set(counts)  # everybody marked sent did receive it
    assert set(openids) - set(counts) <= {d["openid"] for d in await producer.jobs.deliveries(job["id"], UNKNOWN)}
