"""Time from launching `python -m bot serve` to the first answered message.

Each run launches a fresh process and POSTs a signed text message every 20 ms until one is answered.
The first run uses an empty data directory (cold: jieba builds its dictionary cache); later runs
reuse it (warm: the usual restart).

    .venv/bin/python -m bench.startup --runs 3
"""
from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.common import bot_server, machine, post_text


async def first_answer(base_url: str, timeout: float = 120.0) -> float:
    """Seconds until a message is answered (measured by the caller from launch)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        msg_id = 1
        while time.monotonic() < deadline:
            msg_id += 1
            try:
                status, reply = await post_text(http, base_url, "o-startup", "少儿住院互助基金交多少钱", msg_id)
                if status == 200 and reply:
                    return time.monotonic()
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.02)
    raise TimeoutError("no answer")


async def one_run(data_dir: Path) -> tuple[float, float]:
    """(seconds to first answer, the server's own "启动 X 秒" figure for create_app)."""
    server = bot_server(data_dir, f"sqlite:///{data_dir / 'bot.db'}")
    launched = time.monotonic()
    proc_start = asyncio.create_task(asyncio.to_thread(server.start, 180.0))
    try:
        answered = await first_answer(server.base_url)
        await proc_start
    finally:
        server.stop()
    match = re.search(r"启动 ([0-9.]+) 秒", server.log_tail(100_000))
    return answered - launched, float(match.group(1)) if match else float("nan")


async def main_async(runs: int) -> int:
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')} — {machine()}")
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        results = []
        for n in range(runs):
            total, build = await one_run(Path(tmp))
            label = "cold (empty data dir)" if n == 0 else "warm"
            print(f"run {n + 1} {label:22}: first answer after {total:5.2f} s (create_app {build:.2f} s)")
            results.append(total)
        if len(results) > 1:
            print(f"warm median: {statistics.median(results[1:]):.2f} s")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    sys.exit(asyncio.run(main_async(parser.parse_args().runs)))
