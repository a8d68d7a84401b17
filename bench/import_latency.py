"""Webhook latency while staff import a roster: a guardian must not wait for 49 000 rows.

Starts `python -m bot serve` (SQLite), sends signed questions at a steady pace for a few seconds with
nothing else going on, then again while `POST /admin/api/roster` imports a generated roster (CSV, or XLSX
with --xlsx), and prints the latency of each phase and how long the import took.

    .venv/bin/python -m bench.import_latency                   # 49 000-row CSV
    .venv/bin/python -m bench.import_latency --xlsx --rows 20000

Loopback only (127.0.0.1); every phase is bounded in time. ID numbers are fictional (GB 11643 check digits).
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import itertools
import json
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.common import bot_server, machine, percentile, post_text
from bench.guardian import SCHOOL_CODE, SCHOOL_NAME
from dialogs.validators import generate_id_number

QUESTION = "少儿住院互助基金交多少钱？"
_ids = itertools.count(int(time.time() * 1000) * 1000)


SURNAMES, GIVEN = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高", "明华婷伟芳杰静磊洋艳勇军娜敏强丽涛"


def roster_rows(n: int) -> list[list[str]]:
    start = dt.date(2012, 1, 1)
    return [[SURNAMES[i % 20] + GIVEN[i // 20 % 17] + GIVEN[i // 340 % 17], generate_id_number(start + dt.timedelta(days=i % 4000), "男" if i % 2 else "女",
                                          seq=2 * (i // 4000) + i % 2), f"{i % 6 + 1}年级{i % 9 + 1}班", SCHOOL_CODE, SCHOOL_NAME]
            for i in range(n)]


def roster_file(n: int, xlsx: bool) -> tuple[bytes, str]:
    header = ["姓名", "身份证号", "班级", "学校代码", "学校名称"]
    rows = roster_rows(n)
    if not xlsx:
        return "\r\n".join(",".join(r) for r in [header] + rows).encode("utf-8"), "roster.csv"
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), "roster.xlsx"


async def paced_messages(http: aiohttp.ClientSession, base: str, rate: float, until: asyncio.Future | float,
                         latencies: list[float]) -> None:
    """One question every 1/rate s (each from its own guardian) until `until` is done or the time passes."""
    interval, n = 1.0 / rate, 0
    start = time.perf_counter()
    pending: set[asyncio.Task] = set()

    async def one(user: str, slot: float) -> None:
        status, _reply = await post_text(http, base, user, QUESTION, next(_ids))
        if status == 200:
            latencies.append((time.perf_counter() - slot) * 1000)  # from the slot: queueing counts

    while True:
        if isinstance(until, float) and time.perf_counter() - start >= until:
            break
        if isinstance(until, asyncio.Future) and until.done():
            break
        slot = start + n * interval
        await asyncio.sleep(max(0.0, slot - time.perf_counter()))
        task = asyncio.ensure_future(one(f"o-import-bench-{n}", slot))
        pending.add(task)
        task.add_done_callback(pending.discard)
        n += 1
    if pending:
        await asyncio.wait(pending, timeout=30)


def summary(phase: str, latencies: list[float], **extra) -> dict:
    values = sorted(latencies)
    return {"phase": phase, "messages": len(values), "p50_ms": round(percentile(values, 50), 1),
            "p99_ms": round(percentile(values, 99), 1), "max_ms": round(values[-1], 1) if values else None, **extra}


async def run(args: argparse.Namespace) -> list[dict]:
    data, filename = roster_file(args.rows, args.xlsx)
    results = []
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        server = bot_server(Path(tmp)).start()
        try:
            async with aiohttp.ClientSession() as http:
                await post_text(http, server.base_url, "o-warmup", QUESTION, next(_ids))
                idle: list[float] = []
                await paced_messages(http, server.base_url, args.rate, args.idle_seconds, idle)
                results.append(summary("idle", idle))

                async def upload() -> dict:
                    began = time.perf_counter()
                    async with http.post(server.base_url + "/admin/api/roster", params={"filename": filename},
                                         data=data, headers={"Authorization": "Bearer bench-admin"},
                                         timeout=aiohttp.ClientTimeout(total=args.timeout)) as resp:
                        report = await resp.json()
                    return {"import_s": round(time.perf_counter() - began, 2), "imported": report.get("imported"),
                            "status": resp.status}

                during: list[float] = []
                importing = asyncio.ensure_future(upload())
                await paced_messages(http, server.base_url, args.rate, importing, during)
                outcome = await importing
                results.append(summary(f"during import of {args.rows} rows ({filename}, {len(data) // 1024} KiB)",
                                       during, **outcome))
        finally:
            server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=49_000)
    parser.add_argument("--xlsx", action="store_true")
    parser.add_argument("--rate", type=float, default=20.0, help="questions per second")
    parser.add_argument("--idle-seconds", type=float, default=3.0)
    parser.add_argument("--timeout", type=float, default=300.0, help="longest the import may take")
    args = parser.parse_args()
    print(f"# {machine()}")
    for line in asyncio.run(run(args)):
        print(json.dumps(line, ensure_ascii=False))


if __name__ == "__main__":
    main()
