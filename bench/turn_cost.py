"""CPU per message of whole enrolments through the real pipeline and router, in-process (no HTTP):
what a message costs the bot beyond the webhook. Optionally profiled, to show where it goes.

    .venv/bin/python -m bench.turn_cost --rounds 3
    .venv/bin/python -m bench.turn_cost --profile 25            # cProfile, top 25 by own time
    .venv/bin/python -m bench.turn_cost --redis-url redis://127.0.0.1:6390/0   # your own redis-server

Each round runs in a fresh process (caches never leak between rounds) and prints CPU ms per message
and the stored size of a finished guardian's session.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.guardian import Guardian, bench_services, seed_roster

CONVERSATIONS = 40
ROSTER = 10_000  # children in uploaded rosters


async def measure(store_url: str, data_dir: Path, profiler: cProfile.Profile | None,
                  serving: str = "") -> tuple[float, int]:
    """CPU ms per message over CONVERSATIONS concurrent enrolments, and a finished session's size."""
    from bot.components import build_router
    from bot.pipeline import Pipeline
    from bot.turn import Incoming

    services = bench_services(store_url, data_dir, serving=serving)
    if store_url.startswith("redis"):
        await services.store.clear_prefix()
    await seed_roster(services, range(ROSTER))
    pipeline = Pipeline(services, build_router(services))
    ids = iter(range(10**12, 2 * 10**12))
    messages = 0

    async def enrol(n: int) -> None:
        async def send(text: str) -> str:
            nonlocal messages
            messages += 1
            reply = await pipeline.handle(Incoming(user_id=f"o-bench-{n:07d}", kind="text", text=text,
                                                   msg_id=str(next(ids))))
            return reply.text if reply else ""
        await Guardian(n).enroll(send)

    await enrol(CONVERSATIONS)  # warm caches
    messages, cpu = 0, time.process_time()
    if profiler:
        profiler.enable()
    await asyncio.gather(*(enrol(n) for n in range(CONVERSATIONS)))
    if profiler:
        profiler.disable()
    cpu_ms = 1000 * (time.process_time() - cpu) / messages
    await pipeline.drain(10)
    session = await services.store.get("session", "o-bench-0000000")
    size = len(json.dumps(session.data, ensure_ascii=False).encode()) if session else 0
    if store_url.startswith("redis"):
        await services.store.clear_prefix()
    await services.store.close()
    return cpu_ms, size


def one_round(redis_url: str, profile_top: int, serving: str = "") -> tuple[float, int]:
    profiler = cProfile.Profile() if profile_top else None
    with tempfile.TemporaryDirectory(prefix="bench-turns-") as tmp:
        result = asyncio.run(measure(redis_url or f"sqlite:///{tmp}/bot.db", Path(tmp), profiler, serving))
    if profiler:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(profile_top)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumtime").print_stats(profile_top)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes; the median is printed")
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--shared-sqlite", action="store_true",
                        help="SQLite as `serve --workers` opens it (claims and locks in the file), not as `serve`")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="one profiled round, top N functions")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # internal: one round, JSON out
    args = parser.parse_args()
    if args.profile:
        cpu, size = one_round(args.redis_url, args.profile, _serving(args))
        print(f"profiled: {cpu:.2f} CPU ms/msg (cProfile inflates this), session {size} B")
        return 0
    if args.one:
        print(json.dumps(one_round(args.redis_url, 0, _serving(args))))
        return 0
    runs = []
    for _ in range(args.rounds):
        out = subprocess.run([sys.executable, "-m", "bench.turn_cost", "--one", "--redis-url", args.redis_url]
                             + (["--shared-sqlite"] if args.shared_sqlite else []),
                             capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    cpu = [round(r[0], 2) for r in runs]
    store = "redis" if args.redis_url else "sqlite (as serve --workers)" if args.shared_sqlite else "sqlite (as serve)"
    print(f"store: {store}  CPU ms/msg median {statistics.median(cpu):.2f} "
          f"(runs {cpu})  finished session {runs[0][1]} B")
    return 0


def _serving(args: argparse.Namespace) -> str:
    return "" if args.redis_url else "workers" if args.shared_sqlite else "sole"


if __name__ == "__main__":
    sys.exit(main())
