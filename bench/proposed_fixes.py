"""A/B of the hot-spot fixes proposed for other owners' files, applied here by monkeypatching only
(nothing in bot/ is changed): CPU per message of whole enrolments through the real pipeline and
router, in-process (no HTTP), on SQLite — or Redis with --redis-url (use your own redis-server).

    .venv/bin/python -m bench.proposed_fixes --rounds 3
    .venv/bin/python -m bench.proposed_fixes --redis-url redis://127.0.0.1:6390/0

Fixes (see bench/RESULTS.md):
  query   bot/store/sqlite.py SQLiteStore.query: ORDER BY i0.key (not r.key) when filtering on an
          index, so SQLite searches the index instead of scanning every record of the kind
  copy    bot/store/repos.py encrypt_fields/decrypt_fields: one pass that rebuilds containers,
          instead of copy.deepcopy followed by an in-place walk
  recent  bot/pipeline.py RECENT_KEYS 8 → 3 (the replies kept in every session for crash-safe dedup)
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.guardian import Guardian, bench_services, seed_roster

CONVERSATIONS = 40
ROSTER = 10_000  # children in uploaded rosters (a city has hundreds of thousands; lookups scan them without `query`)


def patch(names: set[str]) -> None:
    if "query" in names:
        from bot.store.base import Record
        from bot.store.sqlite import SQLiteStore

        async def query(self, kind, limit=None, **index):
            sql, params = self._select("r.key, r.data, r.version", kind, index)
            sql += " ORDER BY " + ("i0.key" if index else "r.key")  # i0.key = r.key, but searchable
            if limit is not None:
                sql += " LIMIT ?"
                params.append(max(int(limit), 0))
            return [(key, Record(json.loads(data), version)) for key, data, version in self._run(sql, params)]

        SQLiteStore.query = query
    if "copy" in names:
        import bot.store.repos as repos

        def map_secrets(node, fn):
            if isinstance(node, dict):
                return {k: fn(v) if k in repos.SECRET_FIELDS and isinstance(v, str) and v else map_secrets(v, fn)
                        for k, v in node.items()}
            if isinstance(node, list):
                return [map_secrets(item, fn) for item in node]
            return node

        prefix = repos.FieldCipher.PREFIX
        repos.encrypt_fields = lambda data, c: map_secrets(data, lambda v: v if v.startswith(prefix) else c.encrypt(v))
        repos.decrypt_fields = lambda data, c: map_secrets(data, lambda v: c.decrypt(v) if v.startswith(prefix) else v)
    if "recent" in names:
        import bot.pipeline

        bot.pipeline.RECENT_KEYS = 3


async def measure(store_url: str, data_dir: Path) -> tuple[float, int]:
    """CPU ms per message over CONVERSATIONS concurrent enrolments, and a finished session's size."""
    from bot.components import build_router
    from bot.pipeline import Pipeline
    from bot.turn import Incoming

    services = bench_services(store_url, data_dir)
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
    await asyncio.gather(*(enrol(n) for n in range(CONVERSATIONS)))
    cpu_ms = 1000 * (time.process_time() - cpu) / messages
    await pipeline.drain(10)
    session = await services.store.get("session", "o-bench-0000000")
    size = len(json.dumps(session.data, ensure_ascii=False).encode()) if session else 0
    if store_url.startswith("redis"):
        await services.store.clear_prefix()
    await services.store.close()
    return cpu_ms, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fixes", default="none,query,copy,recent,query+copy+recent",
                        help="variants to compare, each a +-joined set of fix names")
    parser.add_argument("--rounds", type=int, default=3, help="each variant runs this many times (median)")
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--one", default="", help=argparse.SUPPRESS)  # internal: run one variant
    args = parser.parse_args()
    if args.one:
        patch(set(args.one.split("+")))
        with tempfile.TemporaryDirectory(prefix="bench-fixes-") as tmp:
            url = args.redis_url or f"sqlite:///{tmp}/bot.db"
            print(json.dumps(asyncio.run(measure(url, Path(tmp)))))
        return 0
    import subprocess

    print(f"{'variant':22} {'CPU ms/msg (median)':>20} {'runs':>24} {'session bytes':>14}")
    for variant in args.fixes.split(","):
        runs = []
        for _ in range(args.rounds):  # a fresh process per run: patches and caches never leak
            out = subprocess.run([sys.executable, "-m", "bench.proposed_fixes", "--one", variant,
                                  "--redis-url", args.redis_url], capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        cpu = [round(r[0], 2) for r in runs]
        print(f"{variant:22} {statistics.median(cpu):20.2f} {str(cpu):>24} {runs[0][1]:14}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
