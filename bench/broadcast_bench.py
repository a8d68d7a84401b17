"""Recipients per second through the broadcast queue (bot/broadcast/) to the local fake WeChat API
(tests/fakes/wechat_api.py, in its own process, no rate limit, no quota).

Three set-ups, each sending one job to N subscribers with the real API client (integrations.wechat.api):
  sqlite        in-process worker (BroadcastJobs.run) over the SQLite store
  redis         the same worker over the Redis store (our own redis-server)
  redis-stream  the Redis Streams queue (RedisBroadcastQueue) with --workers consumers in this process

    .venv/bin/python -m bench.broadcast_bench --recipients 5000
    .venv/bin/python -m bench.fake_api_server --port 8097        # (started by this script)

`--segments N` instead times what staff wait for before a send, over N subscribers (a third with
applications in every status, 2 % in the middle of a form): the broadcast page's segment overview
(7 counts), one preview, and resolving the recipients of a send.

    .venv/bin/python -m bench.broadcast_bench --segments 100000 --only sqlite,redis
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


async def add_segment_population(services, n: int) -> None:
    """N subscribers; every third has an application (statuses in turn), every 50th is mid-form."""
    from bot.store.repos import DONE, DRAFT, PAID, PRE_APPROVED, SUBMITTED, Applications

    await add_subscribers(services, n)
    statuses = (SUBMITTED, PRE_APPROVED, PAID, DONE, DRAFT)
    now = services.clock.now()
    apps = services.applications
    for start in range(0, n, 3000):
        app_items, session_items = [], []
        for i in range(start, min(n, start + 3000)):
            openid = f"o-bc-{i:06d}"
            if i % 3 == 0:
                status = statuses[(i // 3) % len(statuses)]
                record = {"id": f"A{i:08d}", "user_id": openid, "scheme": "sh-child-fund", "status": status,
                          "created_at": now.isoformat(), "updated_at": now.isoformat(),
                          "child": {"name": "测试"}, "history": [{"status": status, "at": now.isoformat()}]}
                app_items.append((record["id"], record, apps.index_of(record)))
            elif i % 50 == 1:
                session = {"schema": 1, "enroll": {"form": {"scheme": "sh-child-fund", "state": "child_name",
                                                            "slots": {}}}}
                index = services.sessions.index_of(session) if hasattr(services.sessions, "index_of") else None
                session_items.append((openid, session, index))
        await services.store.put_many(Applications.KIND, app_items)
        await services.store.put_many(services.sessions.KIND, session_items)


async def time_segments(name: str, url: str, data_dir: Path, n: int) -> dict:
    from bot.broadcast.segments import STATUS_FILTERS, Segment, count, resolve
    try:
        from bot.broadcast.segments import overview as segment_overview
    except ImportError:  # before the one-pass overview: one count per status filter, as the page did
        async def segment_overview(store, segment, now):
            return {key: await count(store, Segment(scheme=segment.scheme, status=key), now) for key in STATUS_FILTERS}

    services = bench_services(url, data_dir)
    await add_segment_population(services, n)
    now = services.clock.now()
    figures: dict = {"setup": name, "subscribers": n}
    started = time.perf_counter()
    overview = await segment_overview(services.store, Segment(scheme="sh-child-fund"), now)
    figures["overview_s"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    figures["started"] = await count(services.store, Segment(scheme="sh-child-fund", status="started"), now)
    figures["preview_s"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    figures["recipients"] = len(await resolve(services.store, Segment(scheme="sh-child-fund", status="needs_action"), now))
    figures["resolve_s"] = round(time.perf_counter() - started, 3)
    figures["overview"] = overview
    await services.store.close()
    return figures


async def each_store(names: list[str], tmp: Path):
    """(set-up name, store URL) for each set-up asked for: SQLite in `tmp`, or our own redis-server
    (skipped when the binary is missing), stopped after its turn."""
    for name in names:
        redis = RedisServer(tmp / f"redis-{name}") if name.startswith("redis") else None
        if redis:
            if not RedisServer.available():
                continue
            redis.start()
        try:
            yield name, (redis.url if redis else f"sqlite:///{tmp / name / 'bot.db'}")
        finally:
            if redis:
                redis.stop()


async def segments_main(args: argparse.Namespace) -> int:
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')} — {machine()}")
    print(f"# segment overview (7 counts), one preview (started, not submitted) and a send's recipients, "
          f"{args.segments} subscribers")
    with tempfile.TemporaryDirectory(prefix="bench-segments-") as tmp:
        names = [n for n in args.only.split(",") if n in ("sqlite", "redis")]
        async for name, url in each_store(names, Path(tmp)):
            row = await time_segments(name, url, Path(tmp) / name, args.segments)
            print(f"{row['setup']:7} overview {row['overview_s']:7.3f} s, preview {row['preview_s']:7.3f} s "
                  f"(started: {row['started']}), resolve {row['resolve_s']:7.3f} s ({row['recipients']} recipients)")
            print(f"        counts {row['overview']}")
    return 0


async def main_async(args: argparse.Namespace) -> int:
    if args.segments:
        return await segments_main(args)
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')} — {machine()}")
    print(f"# {args.recipients} recipients, concurrency {args.concurrency}, fake API in its own process, no rate limit")
    port = free_port()
    api = Spawned([sys.executable, "-m", "bench.fake_api_server", "--port", str(port), "--appid", APPID,
                   "--secret", SECRET], port).start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-broadcast-") as tmp:
            async for name, url in each_store(args.only.split(","), Path(tmp)):
                row = await run_job(name, url, Path(tmp) / name, api.base_url, args.recipients, args.concurrency,
                                    args.workers)
                print(f"{row['setup']:13} {row['sent']:6}/{row['recipients']} sent in {row['seconds']:6.2f} s "
                      f"= {row['recipients_per_s']:7.1f} recipients/s "
                      f"(worker CPU {row['worker_cpu_ms_per_recipient']:.2f} ms/recipient)")
    finally:
        api.stop()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32, help="sends in flight per worker")
    parser.add_argument("--workers", type=int, default=2, help="consumers for redis-stream")
    parser.add_argument("--only", default="sqlite,redis,redis-stream")
    parser.add_argument("--segments", type=int, default=0, help="time segment counts over this many subscribers")
    sys.exit(asyncio.run(main_async(parser.parse_args())))
