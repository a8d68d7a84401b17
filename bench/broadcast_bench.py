"""Recipients per second through the broadcast queue (bot/broadcast/) to the local fake WeChat API
(tests/fakes/wechat_api.py, in its own process, no rate limit, no quota).

Three set-ups, each sending one job to N subscribers with the real API client (integrations.wechat.api):
  sqlite        in-process worker (BroadcastJobs.run) over the SQLite store
  redis         the same worker over the Redis store (our own redis-server)
  redis-stream  the Redis Streams queue (RedisBroadcastQueue) with --workers consumers in this process

    .venv/bin/python -m bench.broadcast_bench --recipients 5000
    .venv/bin/python -m bench.fake_api_server --port 8097        # (started by this script)
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from bench.common import RedisServer, Spawned, free_port, machine
from bench.guardian import bench_services

APPID, SECRET = "wxbenchbroadcast", "bench-secret"


async def add_subscribers(services, n: int) -> None:
    from bot.store.repos import Subscribers

    now = services.clock.now().isoformat(timespec="seconds")
    for start in range(0, n, 1000):
        items = []
        for i in range(start, min(n, start + 1000)):
            data = {"openid": f"o-bc-{i:06d}", "subscribed": True, "first_seen": now, "last_interaction": now,
                    "schemes": ["sh-child-fund"], "district": "黄浦区", "school_code": ""}
            items.append((data["openid"], data, Subscribers.index_of(data)))
        await services.store.put_many(Subscribers.KIND, items)


async def run_job(name: str, url: str, data_dir: Path, api_base: str, n: int, concurrency: int, workers: int) -> dict:
    from bot.broadcast.jobs import DONE, SENT, BroadcastJobs, JobSettings
    from bot.broadcast.segments import Segment
    from integrations.wechat.api import WeChatAPI

    services = bench_services(url, data_dir)
    await add_subscribers(services, n)
    sender = WeChatAPI(services.store, APPID, SECRET, base_url=api_base)
    settings = JobSettings(rate=1_000_000, concurrency=concurrency, page_size=500)
    jobs = BroadcastJobs(services.store, services.clock, sender, settings)
    queues = []
    if name == "redis-stream":
        from bot.broadcast.redis_queue import RedisBroadcastQueue

        queues = [RedisBroadcastQueue.from_url(url, BroadcastJobs(services.store, services.clock, sender, settings),
                                               chunk_size=200, share_rate_limit=False) for _ in range(workers)]
        jobs.dispatcher = queues[0].submit
    started = time.perf_counter()
    cpu = time.process_time()
    job = await jobs.create("【提醒】少儿住院互助基金集中参保将于9月30日截止，请尽快办理。", Segment(scheme="sh-child-fund"))
    if queues:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(q.work(stop, block=0.2)) for q in queues]
        # Poll the job record only (one GET): progress() counts every state, O(recipients) on Redis.
        while (await jobs.get(job["id"]))["status"] != DONE and time.perf_counter() - started < 300:
            await asyncio.sleep(0.2)
        stop.set()
        await asyncio.gather(*tasks)
    else:
        await jobs.wait(job["id"])
    elapsed = time.perf_counter() - started
    progress = await jobs.progress(job["id"])
    for queue in queues:
        await queue.close()
    await sender.close()
    await services.store.close()
    return {"setup": name, "recipients": n, "sent": progress["counts"][SENT], "seconds": round(elapsed, 2),
            "recipients_per_s": round(progress["counts"][SENT] / elapsed, 1),
            "worker_cpu_ms_per_recipient": round(1000 * (time.process_time() - cpu) / max(1, n), 3)}


async def main_async(args: argparse.Namespace) -> int:
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')} — {machine()}")
    print(f"# {args.recipients} recipients, concurrency {args.concurrency}, fake API in its own process, no rate limit")
    port = free_port()
    api = Spawned([sys.executable, "-m", "bench.fake_api_server", "--port", str(port), "--appid", APPID,
                   "--secret", SECRET], port).start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-broadcast-") as tmp:
            tmp = Path(tmp)
            for name in args.only.split(","):
                redis = RedisServer(tmp / f"redis-{name}") if name.startswith("redis") else None
                if redis:
                    if not RedisServer.available():
                        continue
                    redis.start()
                try:
                    url = redis.url if redis else f"sqlite:///{tmp / name / 'bot.db'}"
                    row = await run_job(name, url, tmp / name, api.base_url, args.recipients, args.concurrency,
                                        args.workers)
                    print(f"{row['setup']:13} {row['sent']:6}/{row['recipients']} sent in {row['seconds']:6.2f} s "
                          f"= {row['recipients_per_s']:7.1f} recipients/s "
                          f"(worker CPU {row['worker_cpu_ms_per_recipient']:.2f} ms/recipient)")
                finally:
                    if redis:
                        redis.stop()
    finally:
        api.stop()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32, help="sends in flight per worker")
    parser.add_argument("--workers", type=int, default=2, help="consumers for redis-stream")
    parser.add_argument("--only", default="sqlite,redis,redis-stream")
    sys.exit(asyncio.run(main_async(parser.parse_args())))
