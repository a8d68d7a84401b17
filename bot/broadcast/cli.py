"""Staff commands: `broadcast send|status|list|cancel|worker|reminders` and `roster import`.

    python -m bot broadcast send --segment scheme=sh-child-fund,status=unpaid --text "请在今天内缴费"
    python -m bot broadcast status B20260910100000A1B2C3
    python -m bot broadcast worker            # a Redis queue worker (BOT_BROADCAST_QUEUE)
    python -m bot roster import 名单.xlsx [--good-rows]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import signal
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable

from bot.broadcast.jobs import DELIVERY_LABELS, DONE, JOB_STATUS_LABELS, RUNNING, SCHEDULED, JobError
from bot.broadcast.segments import Segment, SegmentError, count


def register(subparsers: Any) -> None:
    broadcast = subparsers.add_parser("broadcast", help="群发消息、发送进度、自动提醒计划")
    sub = broadcast.add_subparsers(dest="broadcast_command", required=True)
    send = sub.add_parser("send", help="向一个分组群发客服消息（显示进度条）")
    send.add_argument("--segment", default="", help="分组条件，如 scheme=sh-child-fund,status=unpaid,district=浦东新区；空=全部")
    text = send.add_mutually_exclusive_group(required=True)
    text.add_argument("--text", help="消息内容")
    text.add_argument("--text-file", type=Path, help="从文件读取消息内容（UTF-8）")
    send.add_argument("--at", default="", help="定时发送，ISO 时间如 2026-09-20T10:00（北京时间）")
    send.add_argument("--dry-run", action="store_true", help="只统计接收人数，不发送")
    send.add_argument("--no-wait", action="store_true", help="创建任务后立即返回，不等待发送完成")
    send.set_defaults(func=_sync(_send))
    status = sub.add_parser("status", help="查看群发任务的进度")
    status.add_argument("job")
    status.set_defaults(func=_sync(_status))
    listing = sub.add_parser("list", help="列出最近的群发任务")
    listing.set_defaults(func=_sync(_list))
    cancel = sub.add_parser("cancel", help="取消群发任务")
    cancel.add_argument("job")
    cancel.set_defaults(func=_sync(_cancel))
    resume = sub.add_parser("resume", help="继续发送中断的群发任务（服务运行时会自动继续）")
    resume.add_argument("job")
    resume.set_defaults(func=_sync(_resume))
    worker = sub.add_parser("worker", help="运行 Redis 队列发送进程（需要 BOT_BROADCAST_QUEUE 或 --queue）")
    worker.add_argument("--queue", default="", help="Redis 地址，默认取 BOT_BROADCAST_QUEUE")
    worker.add_argument("--prefix", default="", help="键前缀，默认取 BOT_BROADCAST_QUEUE_PREFIX 或 bot:")
    worker.add_argument("--min-idle", type=float, default=60.0, help="多少秒无进展视为发送进程已停止，由其他进程接手")
    worker.set_defaults(func=_sync(_worker))
    reminders = sub.add_parser("reminders", help="列出未来的自动提醒计划")
    reminders.add_argument("--days", type=int, default=30)
    reminders.set_defaults(func=_sync(_reminders))

    roster = subparsers.add_parser("roster", help="导入学校在籍在册名单")
    rsub = roster.add_subparsers(dest="roster_command", required=True)
    imp = rsub.add_parser("import", help="导入 CSV 或 XLSX 名单（先逐行检查）")
    imp.add_argument("file", type=Path)
    imp.add_argument("--good-rows", action="store_true", help="有问题的行跳过，只导入无误的行")
    imp.set_defaults(func=_sync(_roster_import))


def _sync(command: Callable[[argparse.Namespace, Any], Awaitable[int]]) -> Callable[[argparse.Namespace], int]:
    """Run an async command with the bot's services; bad input ends with a Chinese message, not a trace."""
    def run(args: argparse.Namespace) -> int:
        async def main() -> int:
            from bot.config import Settings
            from bot.services import build_services

            services = build_services(Settings.from_env())
            with contextlib.suppress(NotImplementedError):  # SIGTERM stops gracefully: in-flight sends are recorded
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
            try:
                return await command(args, services)
            except asyncio.CancelledError:
                print("\n已中断；用 broadcast resume 任务编号 继续发送。", file=sys.stderr)
                return 130
            except (SegmentError, JobError, ValueError, OSError) as exc:
                print(f"错误：{exc}", file=sys.stderr)
                return 2
            finally:
                await _close(services)
        return asyncio.run(main())
    return run


async def _close(services: Any) -> None:
    jobs = services.extras.get("broadcasts")
    if jobs is not None:
        await jobs.stop()
    for name in ("broadcast_queue", "wechat_api"):
        component = services.extras.get(name)
        if component is not None:
            with contextlib.suppress(Exception):
                await component.close()
    with contextlib.suppress(Exception):
        await services.store.close()


def _install(services: Any):
    from bot.broadcast import install

    return install(services)


async def _send(args: argparse.Namespace, services: Any) -> int:
    segment = Segment.parse(args.segment)
    text = args.text if args.text is not None else args.text_file.read_text(encoding="utf-8")
    recipients = await count(services.store, segment, services.clock.now())
    print(f"分组：{segment.describe()}；接收人数：{recipients}", file=sys.stderr)
    if args.dry_run:
        return 0
    send_at = dt.datetime.fromisoformat(args.at) if args.at else None
    if send_at is not None and send_at.tzinfo is None:
        from bot.clock import SHANGHAI

        send_at = send_at.replace(tzinfo=SHANGHAI)
    jobs, _ = _install(services)
    job = await jobs.create(text, segment, send_at=send_at, created_by="cli")
    print(job["id"])
    if args.no_wait or job["status"] == SCHEDULED and send_at and send_at > services.clock.now():
        print(f"任务 {job['id']} 已创建（{JOB_STATUS_LABELS.get(job['status'], job['status'])}）。", file=sys.stderr)
        return 0
    return await _follow(jobs, job["id"])


async def _follow(jobs: Any, job_id: str) -> int:
    """Print a progress bar until the job ends (the in-process worker sends while we watch)."""
    while True:
        local_worker_ended = jobs.finished_here(job_id)  # read before the progress, so its last state shows
        progress = await jobs.progress(job_id)
        sys.stderr.write("\r" + progress_line(progress))
        sys.stderr.flush()
        if progress["status"] not in (RUNNING, SCHEDULED):
            break
        if local_worker_ended and progress["status"] == RUNNING:
            print("\n任务正由另一个进程发送（若那个进程已异常退出，约2分钟后可再用 broadcast resume 继续）。", file=sys.stderr)
            return 1
        await asyncio.sleep(0.5)
    sys.stderr.write("\n")
    print(_summary(progress))
    return 0 if progress["status"] == DONE else 1


def progress_line(progress: dict[str, Any], width: int = 30) -> str:
    filled = int(width * progress["percent"] / 100)
    counts = progress["counts"]
    return (f"[{'#' * filled}{'.' * (width - filled)}] {progress['percent']:5.1f}% "
            f"{progress['finished']}/{progress['total']}  已送达 {counts.get('sent', 0)}  失败 {counts.get('failed', 0)}")


def _summary(progress: dict[str, Any]) -> str:
    parts = [f"{DELIVERY_LABELS[k]} {v}" for k, v in progress["counts"].items() if v]
    return f"任务 {progress['id']}：{progress['status_label']}，共 {progress['total']} 人" + (
        "；" + "，".join(parts) if parts else "")


async def _status(args: argparse.Namespace, services: Any) -> int:
    jobs, _ = _install(services)
    print(_summary(await jobs.progress(args.job)))
    return 0


async def _list(args: argparse.Namespace, services: Any) -> int:
    jobs, _ = _install(services)
    for job in await jobs.list(limit=30):
        print(f"{job['id']}  {JOB_STATUS_LABELS.get(job['status'], job['status'])}  {job['created_at'][:16]}  "
              f"{job.get('segment_label', '')}  {job.get('title', '')}")
    return 0


async def _cancel(args: argparse.Namespace, services: Any) -> int:
    jobs, _ = _install(services)
    await jobs.cancel(args.job)
    print(_summary(await jobs.progress(args.job)))
    return 0


async def _resume(args: argparse.Namespace, services: Any) -> int:
    jobs, _ = _install(services)
    job = await jobs.get(args.job)
    if job is None:
        raise JobError(f"没有编号为 {args.job} 的群发任务。")
    await jobs.dispatch(args.job)
    return await _follow(jobs, args.job)


async def _worker(args: argparse.Namespace, services: Any) -> int:
    import os

    from bot.broadcast.redis_queue import RedisBroadcastQueue

    url = args.queue or os.environ.get("BOT_BROADCAST_QUEUE", "")
    if not url:
        raise ValueError("请用 --queue 或环境变量 BOT_BROADCAST_QUEUE 指定 Redis 地址。")
    jobs, _ = _install(services)
    queue = services.extras.get("broadcast_queue") or RedisBroadcastQueue.from_url(
        url, jobs, prefix=args.prefix or os.environ.get("BOT_BROADCAST_QUEUE_PREFIX", "bot:"), min_idle=args.min_idle)
    queue.min_idle_ms = int(args.min_idle * 1000)
    services.extras["broadcast_queue"] = queue
    task = asyncio.ensure_future(queue.work())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # graceful: sends in flight finish and are recorded
        loop.add_signal_handler(sig, task.cancel)
    print(f"群发发送进程 {jobs.worker_id} 已启动", file=sys.stderr, flush=True)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    print("群发发送进程已停止", file=sys.stderr, flush=True)
    return 0


async def _reminders(args: argparse.Namespace, services: Any) -> int:
    _, reminders = _install(services)
    for r in reminders.plan(services.clock.now(), days=args.days):
        print(f"{r.fire_at:%Y-%m-%d %H:%M}  {r.scheme_name}  {r.event_name}（{r.event_at:%m月%d日}）提前{r.days_before}天")
    return 0


async def _roster_import(args: argparse.Namespace, services: Any) -> int:
    from bot.roster_import import import_roster, school_names

    report = await import_roster(services.roster, args.file.read_bytes(), args.file.name, services.clock.now(),
                                 schools=school_names(services.settings.policies_dir), import_good_rows=args.good_rows)
    for problem in report.problems:
        print(f"第{problem.line}行  {problem.reason}  {problem.value}", file=sys.stderr)
    print(report.message)
    return 0 if report.ok else (1 if not report.imported else 3)
