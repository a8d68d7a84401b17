"""Memory and storage per guardian: bytes per stored session and per application (SQLite file, Redis
used_memory), and the RSS of a `python -m bot serve` process whose store holds 100 000 sessions.

The records are real: one guardian walks the Shanghai form in-process (stopping mid-form for a
session, submitting for an application); copies of those records, under other guardians' keys, fill
the store. Redis is our own redis-server on a free port.

    .venv/bin/python -m bench.memory --sessions 100000
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.common import RedisServer, bot_server, machine, post_text, rss_kib
from bench.guardian import Guardian, bench_services, seed_roster

CHUNK = 1000
APPLICATIONS = 5000


async def sample_records(data_dir: Path) -> tuple[dict, dict]:
    """A mid-form session and a submitted application, exactly as the bot stores them (encrypted)."""
    from bot.components import build_router
    from bot.pipeline import Pipeline
    from bot.turn import Incoming

    services = bench_services(f"sqlite:///{data_dir / 'sample.db'}", data_dir)
    await seed_roster(services, range(2))
    pipeline = Pipeline(services, build_router(services))
    ids = iter(range(10**9, 2 * 10**9))

    def line(user: str):
        async def send(text: str) -> str:
            reply = await pipeline.handle(Incoming(user_id=user, kind="text", text=text, msg_id=str(next(ids))))
            return reply.text if reply else ""
        return send

    mid, done = Guardian(0, max_turns=10), Guardian(1)
    await mid.enroll(line(mid.user_id))
    await done.enroll(line(done.user_id))
    await pipeline.drain(5)
    session = (await services.store.get("session", mid.user_id)).data
    [(_, app)] = await services.store.query("application", user_id=done.user_id)
    await services.store.close()
    return session, app.data


async def fill(store, kind: str, data: dict, n: int, index_of=None) -> float:
    started = time.perf_counter()
    for start in range(0, n, CHUNK):
        items = [(f"o-mem-{i:07d}", data, index_of(i) if index_of else None) for i in range(start, min(n, start + CHUNK))]
        await store.put_many(kind, items)
    return time.perf_counter() - started


def sqlite_bytes(path: Path) -> int:
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages, size, free = (db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "page_size", "freelist_count"))
    db.close()
    return (pages - free) * size


async def measure_store(name: str, url: str, data_dir: Path, session: dict, app: dict, n: int,
                        used: callable) -> dict:
    """Bytes per session and per application in one backend (growth of `used()` / records written)."""
    services = bench_services(url, data_dir)
    store = services.store
    base = used()
    seconds = await fill(store, "session", session, n)
    after_sessions = used()
    app_index = {"user_id": "", "status": app.get("status", "submitted"), "scheme": app.get("scheme", "")}
    await fill(store, "application", app, APPLICATIONS,
               lambda i: dict(app_index, user_id=f"o-mem-{i:07d}", id_hash=f"{i:032x}"))
    after_apps = used()
    await store.close()
    return {"store": name, "sessions": n, "write_s": round(seconds, 1),
            "bytes_per_session": round((after_sessions - base) / n),
            "bytes_per_application": round((after_apps - after_sessions) / APPLICATIONS)}


async def server_rss(data_dir: Path, url: str, users: int) -> int:
    """RSS (KiB) of a bot process on this store after a few messages from existing guardians."""
    server = bot_server(data_dir, url).start(timeout=120)
    try:
        async with aiohttp.ClientSession() as http:
            for i in range(0, users, max(1, users // 20)):
                await post_text(http, server.base_url, f"o-mem-{i:07d}", "进度", 10**12 + i)
                await post_text(http, server.base_url, f"o-mem-{i:07d}", "少儿住院互助基金交多少钱？", 2 * 10**12 + i)
        return rss_kib(server.proc.pid)
    finally:
        server.stop()


async def main_async(args: argparse.Namespace) -> int:
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')} — {machine()}")
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        tmp = Path(tmp)
        session, app = await sample_records(tmp)
        print(f"session JSON as stored: {len(json.dumps(session, ensure_ascii=False).encode())} bytes "
              f"(of which 'recent' replies: {len(json.dumps(session.get('recent', []), ensure_ascii=False).encode())})")
        print(f"application JSON as stored: {len(json.dumps(app, ensure_ascii=False).encode())} bytes")
        empty_dir = tmp / "empty"
        empty_dir.mkdir()
        empty_rss = await server_rss(empty_dir, f"sqlite:///{empty_dir / 'bot.db'}", 0)
        print(f"bot RSS, empty SQLite store: {empty_rss / 1024:.1f} MiB")

        sqlite_dir = tmp / "sqlite"
        sqlite_dir.mkdir()
        db = sqlite_dir / "bot.db"
        url = f"sqlite:///{db}"
        bench_services(url, sqlite_dir)  # creates the schema
        row = await measure_store("sqlite", url, sqlite_dir, session, app, args.sessions, lambda: sqlite_bytes(db))
        print(json.dumps(row))
        rss = await server_rss(sqlite_dir, url, args.sessions)
        print(f"bot RSS, SQLite store with {args.sessions} sessions: {rss / 1024:.1f} MiB "
              f"(file {db.stat().st_size / 2**20:.1f} MiB)")

        if RedisServer.available():
            redis = RedisServer(tmp / "redis").start()
            try:
                row = await measure_store("redis", redis.url, tmp, session, app, args.sessions, redis.used_memory)
                print(json.dumps(row))
                rss = await server_rss(tmp, redis.url, args.sessions)
                print(f"bot RSS, Redis store with {args.sessions} sessions: {rss / 1024:.1f} MiB "
                      f"(redis-server used_memory {redis.used_memory() / 2**20:.1f} MiB)")
            finally:
                redis.stop()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    sys.exit(asyncio.run(main_async(parser.parse_args())))
