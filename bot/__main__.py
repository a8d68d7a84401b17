"""`python -m bot serve | chat | eval | policy … | menu … | qrcode … | broadcast … | roster … | schools … | db … | records …`."""
from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import re
import sys
import time
from urllib.parse import urlsplit

from bot.config import Settings

# Subsystems that add their own sub-commands through `register(subparsers)`.
COMMAND_MODULES = (
    "bot.rules.cli",
    "integrations.wechat.cli",
    "bot.broadcast.cli",
    "bot.evaluation.cli",
    "bot.store.cli",
    "bot.applications_cli",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="少儿医保参保助手")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="运行微信回调服务、模拟器和管理后台")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=int(os.environ.get("BOT_WORKERS") or 1),
                       help="工作进程数（默认 1；多核机器可设为核数，各进程共享 SQLite 文件或 Redis）")
    serve.set_defaults(func=cmd_serve)
    chat = sub.add_parser("chat", help="在终端里以一位家长的身份和机器人对话")
    chat.add_argument("--user", default="cli-guardian", help="模拟的 OpenID")
    chat.set_defaults(func=cmd_chat)
    schools = sub.add_parser("schools", help="学校名录").add_subparsers(dest="schools_command", required=True)
    school_import = schools.add_parser("import", help="用 CSV 替换学校名录（格式见 policies/schools/README.md）")
    school_import.add_argument("file")
    school_import.set_defaults(func=cmd_schools_import)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.app import create_app, settle_heap
    from bot.logs import setup_logging
    from bot.store.sqlite import WriterLockHeld

    if not os.environ.get("BOT_PUBLIC_URL"):  # links sent to guardians follow the port served
        os.environ["BOT_PUBLIC_URL"] = local_url(args.host, args.port)
    if not _store_ready(Settings.from_env()):
        return 1
    if _payment_setup_refused():
        return 1
    if args.workers > 1:
        return _serve_workers(args)
    setup_logging()
    settings = Settings.from_env()
    started = time.perf_counter()
    try:
        app = create_app(settings, serving="sole")
        settle_heap(app)
    except WriterLockHeld as exc:
        print(f"无法启动：{exc}", file=sys.stderr, flush=True)
        return 1
    print(f"少儿医保参保助手 已就绪（启动 {time.perf_counter() - started:.2f} 秒）", flush=True)
    _print_addresses(args, settings.generated_token and settings.wechat_token,
                     not settings.admin_token_from_env and settings.admin_token)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0


def local_url(host: str, port: int) -> str:
    """The address a browser on this machine opens for `serve --host HOST --port PORT`."""
    host = "127.0.0.1" if host in ("", "0.0.0.0") else "[::1]" if host == "::" else host
    return f"http://[{host}]:{port}" if ":" in host and not host.startswith("[") else f"http://{host}:{port}"


def _store_ready(settings: Settings) -> bool:
    """Migrate the records database; refuse a Redis that would lose records (bot.store.startup)."""
    from bot.store.startup import StartupRefused, check_store

    try:
        notes = asyncio.run(check_store(settings))
    except StartupRefused as exc:
        print(f"无法启动：{exc}", file=sys.stderr, flush=True)
        return False
    for note in notes:
        print(note, flush=True)
    return True


def _payment_setup_refused() -> bool:
    from bot.fulfilment import payment_setup_problem

    problem = payment_setup_problem(Settings.from_env(), os.environ)
    if problem:
        print(problem, file=sys.stderr, flush=True)
    return bool(problem)


def _serve_workers(args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot import workers
    from bot.app import create_app, settle_heap
    from bot.logs import setup_logging
    from bot.privacy import FieldCipher

    settings = Settings.from_env()
    made = workers.share_process_secrets(settings)
    os.environ.update(made)
    FieldCipher.from_setting(settings.data_key, settings.data_dir)  # the key file, made once before forking
    sock = workers.listen(args.host, args.port)

    def run_worker(sock) -> None:
        setup_logging()
        app = create_app(Settings.from_env(), serving="workers")
        settle_heap(app)
        web.run_app(app, sock=sock, print=None, access_log=None)

    print(f"少儿医保参保助手 启动 {args.workers} 个工作进程", flush=True)
    if settings.store_url.startswith("sqlite"):
        # Workers share the file's one write lock, waiting for it inside their event loops.
        print("  提示：SQLite 存储下多个进程共用一把写锁，不会更快；多进程请用 BOT_STORE=redis://…", flush=True)
    _print_addresses(args, made.get("WECHAT_TOKEN"), made.get("BOT_ADMIN_TOKEN"))
    return workers.supervise(sock, args.workers, run_worker)


def _print_addresses(args: argparse.Namespace, made_token: str | None, made_admin_token: str | None) -> None:
    base = f"http://{args.host}:{args.port}"
    print(f"  模拟器:   {base}/", flush=True)
    print(f"  微信回调: {base}/wechat", flush=True)
    print(f"  管理后台: {base}/admin   （登录令牌见 BOT_ADMIN_TOKEN）", flush=True)
    if made_token:
        print(f"  未设置 WECHAT_TOKEN，本次使用开发令牌: {made_token}", flush=True)
    if made_admin_token:
        print(f"  未设置 BOT_ADMIN_TOKEN，本次管理后台令牌: {made_admin_token}", flush=True)


_LINK = re.compile(r'<a\s+href="([^"]*)"\s*>(.*?)</a>', re.S)


def terminal_text(text: str, unserved: str = "") -> str:
    """WeChat renders <a> links; a terminal shows the label (and the address of web links). A link to
    `unserved` — this bot's own pages while no server answers there — says what must run first."""
    def one(m: re.Match) -> str:
        href, label = m.group(1), m.group(2)
        if not href.startswith("http"):
            return label
        if unserved and href.startswith(unserved):
            return f"{label}（{href} ——这是本机网页：请先在另一个终端运行 scripts/run.sh，再在浏览器打开）"
        return f"{label}（{href}）"
    return _LINK.sub(one, text)


async def _unserved(public_url: str) -> str:
    """`public_url` when nothing answers there (the chat's links to our pages would be dead), else ""."""
    parts = urlsplit(public_url)
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 80), 0.5)
    except (OSError, asyncio.TimeoutError):
        return public_url
    writer.close()
    return ""


def cmd_schools_import(args: argparse.Namespace) -> int:
    from dialogs.schools import SchoolImportError, import_csv

    try:
        count = import_csv(args.file)
    except (SchoolImportError, OSError) as exc:
        print(f"导入失败：{exc}", file=sys.stderr)
        return 1
    print(f"已导入 {count} 所学校。重启服务后生效。")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    return asyncio.run(_chat(args.user))


async def _chat(user: str) -> int:
    from bot.components import build_router
    from bot.delivery import outbox as guardian_outbox
    from bot.pipeline import Pipeline
    from bot.services import build_services
    from bot.turn import Incoming

    settings = Settings.from_env()
    services = build_services(settings)
    outbox: list[str] = []

    async def print_later(_services, _openid: str, text: str) -> None:
        outbox.append(text)

    pipeline = Pipeline(services, build_router(services), deliver=print_later)

    async def shown(text: str) -> str:
        return terminal_text(text, await _unserved(settings.public_url) if "<a href" in text else "")
    print("少儿医保参保助手（终端模式）。输入消息后回车；输入 /quit 退出。", flush=True)
    reply = await pipeline.handle(Incoming(user_id=user, kind="event", event="subscribe",
                                           create_time=int(time.time() * 1000)))
    print(f"助手: {terminal_text(reply.text) if reply else ''}\n", flush=True)
    counter = int(time.time() * 1000)
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or line.strip() in ("/quit", "/exit"):
                break
            counter += 1
            reply = await pipeline.handle(Incoming(user_id=user, kind="text", text=line.rstrip("\n"),
                                                   msg_id=str(counter), create_time=int(time.time())))
            print(f"助手: {await shown(reply.text) if reply else '（处理中，结果稍后发送）'}\n", flush=True)
            await pipeline.drain(timeout=5.0)
            outbox.extend(await guardian_outbox(services).take(user))  # pay links, review results
            while outbox:
                print(f"助手（通知）: {await shown(outbox.pop(0))}\n", flush=True)
    finally:
        await pipeline.drain(timeout=5.0)
        await services.store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
