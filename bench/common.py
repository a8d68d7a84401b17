"""Shared helpers for the hand-run benchmarks and the fault tests: processes on free loopback ports,
a private throw-away redis-server, latency statistics and a description of the machine.

Nothing here touches the shared Redis on 6379: every Redis is our own, on a free port, in a temp dir,
with persistence off.
"""
from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BENCH_TOKEN = "bench-token"
BENCH_NOW = "2026-09-10T10:00:00+08:00"  # the Shanghai 少儿住院互助基金 window is open
BENCH_DATA_KEY = "11" * 32  # fixed, so several processes on one store read each other's records


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.02)
    return False


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Spawned:
    """A child process serving HTTP on 127.0.0.1:`port`; ready when `health_path` answers 200."""

    command: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    health_path: str = "/healthz"
    log_path: Path | None = None
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    ready_after: float = 0.0  # seconds from launch to the first healthy answer

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "Spawned":
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(self.command, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
                                     stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.command} exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base_url + self.health_path, timeout=1) as resp:
                    if resp.status == 200:
                        self.ready_after = time.perf_counter() - self.started_at
                        return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.command} did not become ready: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log_tail(self, chars: int = 2000) -> str:
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""


def bot_env(data_dir: Path, store_url: str = "", **extra: str) -> dict[str, str]:
    """Environment for `python -m bot serve` under load: fixed clock, token and data key."""
    env = {"BOT_DATA_DIR": str(data_dir), "WECHAT_TOKEN": BENCH_TOKEN, "BOT_NOW": BENCH_NOW,
           "BOT_DATA_KEY": BENCH_DATA_KEY, "BOT_ADMIN_TOKEN": "bench-admin", "BOT_SIMULATOR": "0",
           # Production settings refuse to start without a payment provider: a hosted checkout that
           # nobody opens (links are only signed, never fetched), so orders cost what they cost for real.
           "PAY_CHECKOUT_URL": "https://cashier.example.invalid/pay", "PAY_CHECKOUT_SECRET": "bench-checkout-secret-00"}
    if store_url:
        env["BOT_STORE"] = store_url
    env.update(extra)
    return env


def bot_server(data_dir: Path, store_url: str = "", port: int | None = None, workers: int = 1, **extra: str) -> Spawned:
    port = port or free_port()
    return Spawned([sys.executable, "-m", "bot", "serve", "--port", str(port), "--workers", str(workers)], port,
                   env=bot_env(data_dir, store_url, BOT_PUBLIC_URL=f"http://127.0.0.1:{port}", **extra),
                   log_path=Path(data_dir) / f"server-{port}.log")


class RedisServer:
    """Our own redis-server on a free port in a temp dir: `--save "" --appendonly no`, or with `appendonly`
    the append-only file synced every second (what `serve` requires of a Redis that holds records)."""

    def __init__(self, workdir: Path, port: int | None = None, appendonly: bool = False) -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.appendonly = appendonly
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "yes" if self.appendonly else "no",
                                      "--appendfsync", "everysec", "--dir", str(self.workdir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for_port(self.port):
            self.stop()
            raise RuntimeError("redis-server did not start")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def used_memory(self) -> int:
        out = subprocess.run(["redis-cli", "-p", str(self.port), "info", "memory"], capture_output=True, text=True)
        for line in out.stdout.splitlines():
            if line.startswith("used_memory:"):
                return int(line.split(":")[1])
        return 0


async def post_text(http, base_url: str, user: str, text: str, msg_id: int, token: str = BENCH_TOKEN) -> tuple[int, str]:
    """POST one signed WeChat text message (aiohttp session `http`); returns (HTTP status, reply text).
    The reply is "" for WeChat's "success" (nothing to say now); aiohttp errors propagate."""
    from bot.web.simulator import build_message_xml, read_reply, signed_query

    params, body = signed_query(token, build_message_xml(user, text=text, msg_id=msg_id), None)
    async with http.post(base_url + "/wechat", params=params, data=body.encode()) as resp:
        raw = await resp.text()
        return resp.status, (read_reply(raw, None) if resp.status == 200 else raw)


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:"))
    load = os.getloadavg()
    return (f"{os.cpu_count()} CPUs ({cpu}), {mem_kib / 1024 / 1024:.1f} GiB RAM, Python {platform.python_version()},"
            f" {platform.system()} {platform.release()}, load average {load[0]:.2f}")


class PostgresSchema:
    """A schema of its own in the local PostgreSQL (BOT_BENCH_POSTGRES_URL), dropped at the end: the
    records database of a Redis + PostgreSQL scenario."""

    BASE = os.environ.get("BOT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

    def __init__(self) -> None:
        import uuid

        self.name = f"bench_{uuid.uuid4().hex[:10]}"

    @property
    def url(self) -> str:
        return f"{self.BASE}{'&' if '?' in self.BASE else '?'}schema={self.name}"

    def _run(self, sql: str) -> None:
        """Runs `sql` on a thread of its own: callers may be inside an event loop already."""
        import asyncio
        import concurrent.futures

        import asyncpg

        async def go() -> None:
            conn = await asyncpg.connect(self.BASE, timeout=3)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, go()).result()

    def start(self) -> "PostgresSchema":
        self._run(f'CREATE SCHEMA "{self.name}"')
        return self

    def stop(self) -> None:
        self._run(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')
