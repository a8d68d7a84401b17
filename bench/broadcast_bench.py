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
(7 counts), one preview, resolving the recipients of a send, and the admin dashboard's figures.

    .venv/bin/python -m bench.broadcast_bench --segments 100000 --only sqlite,redis,redis+postgresql
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from bench.common import PostgresSchema, RedisServer, Spawned, free_port, machine
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


async def time_segments(name: str, url: str, data_dir: Path, n: int, records_url: str = "") -> dict:
    import bot.web.admin.dashboard  # noqa: F401  # imported before the clock starts (it pulls in the conversation)

    services = bench_services(url, data_dir, records_url)
    reindex = await _start_up(services)
    await add_segment_population(services, n)
    figures: dict = {"setup": name, "subscribers": n}
    await _time_steps(services, figures)
    records = getattr(services.store, "records", None)
    if hasattr(records, "analyze"):  # PostgreSQL's statistics still describe the empty tables: again once current
        await records.analyze()
        figures["analyzed"] = await _time_steps(services, {})
    if reindex:
        figures["upgrade"] = await reindex(services)
    await services.store.close()
    return figures


async def _time_steps(services, figures: dict) -> dict:
    from bot.broadcast.segments import STATUS_FILTERS, Segment, count, resolve
    try:
        from bot.broadcast.segments import overview as segment_overview
    except ImportError:  # before the one-pass overview: one count per status filter, as the page did
        async def segment_overview(store, segment, now):
            return {key: await count(store, Segment(scheme=segment.scheme, status=key), now) for key in STATUS_FILTERS}

    now = services.clock.now()
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
    started = time.perf_counter()
    stats = await dashboard_stats(services)
    figures["dashboard_s"] = round(time.perf_counter() - started, 3)
    figures["funnel"] = [f["count"] for f in stats["funnel"]]
    return figures


async def _start_up(services):
    """What `serve` does to the store at start-up (Redis's index layout, the index values of older
    records); returns a function timing the upgrade of applications indexed before their funnel stage
    was (None before that upgrade existed)."""
    try:
        from bot.store.reindex import ensure_indexed
    except ImportError:
        return None
    await ensure_indexed(services.store, services.cipher)

    async def upgrade(services) -> dict:
        from bot.store.repos import Applications

        store, after = services.store, ""
        while page := await store.export(Applications.KIND, after):  # as stored before `reached` was indexed
            await store.reindex(Applications.KIND, [(r.key, r.version, {f: v for f, v in r.index.items() if f != "reached"})
                                                    for r in page])
            after = page[-1].key
        started = time.perf_counter()
        changed = await ensure_indexed(store, services.cipher, force=True)
        return {"reindex_s": round(time.perf_counter() - started, 3), "reindexed": sum(changed.values())}
    return upgrade


async def dashboard_stats(services) -> dict:
    """The admin dashboard's figures (tiles, funnel, applications by scheme and status, open forms)."""
    from types import SimpleNamespace

    from bot.web.admin.dashboard import DashboardViews

    ctx = SimpleNamespace(store=services.store, services=services,
                          scheme_ids=lambda: ["sh-child-fund", "sh-resident-student", "bj-child-student",
                                              "nb-civil-servant-children", "xc-hfut-college"])
    return await DashboardViews(ctx).stats()


async def each_store(names: list[str], tmp: Path):
    """(set-up name, store URL, records URL) for each set-up asked for: SQLite in `tmp`, or our own
    redis-server (skipped when the binary is missing), with the records in a PostgreSQL schema of their
    own for `redis+postgresql`; each stopped (dropped) after its turn."""
    for name in names:
        redis = RedisServer(tmp / f"redis-{name}") if name.startswith("redis") else None
        records = PostgresSchema() if name.endswith("postgresql") else None
        if redis:
            if not RedisServer.available():
                continue
            redis.start()
        try:
            if records:
                records.start()
            yield name, (redis.url if redis else f"sqlite:///{tmp / name / 'bot.db'}"), (records.url if records else "")
        finally:
            if redis:
                redis.stop()
            if records:
                records.stop()


async def segments_main(args: argparse.Namespace) -> int:
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')} — {machine()}")
    print(f"# segment overview (7 counts), one preview (started, not submitted) and a send's recipients, "
          f"{args.segments} subscribers")
    with tempfile.TemporaryDirectory(prefix="bench-segments-") as tmp:
        names = [n for n in args.only.split(",") if n in ("sqlite", "redis", "redis+postgresql")]
        async for name, url, records_url in each_store(names, Path(tmp)):
            row = await time_segments(name, url, Path(tmp) / name, args.segments, records_url)
            print(f"{row['setup']:7} overview {row['overview_s']:7.3f} s, preview {row['preview_s']:7.3f} s "
                  f"(started: {row['started']}), resolve {row['resolve_s']:7.3f} s ({row['recipients']} recipients), "
                  f"dashboard {row['dashboard_s']:7.3f} s")
            print(f"        counts {row['overview']}, funnel {row['funnel']}")
            if "analyzed" in row:
                again = row["analyzed"]
                print(f"        after ANALYZE: overview {again['overview_s']:.3f} s, preview {again['preview_s']:.3f} s, "
                      f"resolve {again['resolve_s']:.3f} s, dashboard {again['dashboard_s']:.3f} s")
            if "upgrade" in row:
                print(f"        start-up re-index of {row['upgrade']['reindexed']} applications stored without their "
                      f"funnel stage: {row['upgrade']['reindex_s']:.3f} s")
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
            async for name, url, _records in each_store(args.only.split(","), Path(tmp)):
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
