"""`python -m bot serve --workers N`: N worker processes sharing one listening socket, one per core.

Python runs one core per process, so on a deadline day a bigger machine needs several workers. The
parent binds the socket, forks the workers (each builds its own app, store connection and event
loop after the fork), restarts a worker that dies, and stops them all on SIGTERM/SIGINT. Workers
share state only through the store — a SQLite file (several processes may open it) or Redis —
so sessions, locks, the reply cache and the sweeps' locks work across them unchanged; each
worker's `/metrics` counts its own requests.

Secrets that a single process would make up for itself (a development WECHAT_TOKEN, the admin
token, the data key file) are made once here, before forking, so every worker uses the same ones.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
import traceback
from typing import Any, Callable

log = logging.getLogger("bot.workers")

EARLY_DEATH = 10.0  # a worker that exits by itself this soon after its start is failing to start: give up
RESTART_DELAY = 0.5  # before replacing a worker that died (a crash loop must not spin)


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def supervise(sock: socket.socket, workers: int, run_worker: Callable[[socket.socket], None]) -> int:
    """Fork `workers` processes running `run_worker(sock)`; returns the exit code once all have stopped."""
    children: dict[int, tuple[int, float]] = {}  # pid → (slot, started at)
    stopping = False
    failed = False

    def start(slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                run_worker(sock)
            except BaseException:  # noqa: BLE001 - report, then leave without running the parent's cleanup
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = (slot, time.monotonic())

    def stop(_signum: int = 0, _frame: object = None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for slot in range(workers):
        start(slot)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        slot, started = children.pop(pid, (None, 0.0))
        if slot is None or stopping:
            continue
        code = os.waitstatus_to_exitcode(status)  # negative: killed by that signal
        if code >= 0 and time.monotonic() - started < EARLY_DEATH:
            # It exited by itself right after starting: a broken configuration, not a crash. Restarting
            # would only repeat it, so stop everything and say so.
            print(f"工作进程 {pid} 启动后很快退出（{code}），停止全部进程", file=sys.stderr, flush=True)
            failed = True
            stop()
            continue
        print(f"工作进程 {pid} 意外退出（{code}），重新启动", file=sys.stderr, flush=True)
        time.sleep(RESTART_DELAY)
        if not stopping:
            start(slot)
    sock.close()
    return 1 if failed else 0


def share_process_secrets(settings: Any) -> dict[str, str]:
    """Environment variables that give every worker the secrets `settings` made up for itself."""
    made = {}
    if settings.generated_token:
        made["WECHAT_TOKEN"] = settings.wechat_token
        # A set WECHAT_TOKEN would turn the simulator off by default: keep what this process decided.
        made["BOT_SIMULATOR"] = "1" if settings.simulator else "0"
    if not settings.admin_token_from_env:
        made["BOT_ADMIN_TOKEN"] = settings.admin_token
    return made
