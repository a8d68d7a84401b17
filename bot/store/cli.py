"""Operator commands for the records database.

    python -m bot db migrate       # bring the BOT_RECORDS database's schema up to date (serve does it too)
    python -m bot records copy     # copy the records of a Redis-only or SQLite deployment (BOT_STORE) to BOT_RECORDS
    python -m bot records reindex  # give older records the index values segments and the dashboard count on
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.config import Settings


def register(subparsers: Any) -> None:
    db = subparsers.add_parser("db", help="记录数据库（BOT_RECORDS）").add_subparsers(dest="db_command", required=True)
    migrate = db.add_parser("migrate", help="把记录数据库的表结构升级到最新版本")
    migrate.set_defaults(func=lambda args: asyncio.run(_migrate(args)))
    records = subparsers.add_parser("records", help="申请、订单等记录").add_subparsers(dest="records_command",
                                                                                   required=True)
    copy = records.add_parser("copy", help="把 Redis 或 SQLite（BOT_STORE）中的记录复制到 PostgreSQL（BOT_RECORDS）；可重复执行")
    copy.add_argument("--from", dest="source", default="", help="redis://… 或 sqlite:///…（默认 BOT_STORE）")
    copy.add_argument("--to", dest="target", default="", help="PostgreSQL 地址（默认 BOT_RECORDS）")
    copy.add_argument("--prefix", default="bot:", help="机器人在 Redis 中的键前缀（默认 bot:）")
    copy.set_defaults(func=lambda args: asyncio.run(_copy(args)))
    reindex = records.add_parser("reindex", help="为旧记录补建索引（serve 启动时也会自动执行一次）；可重复执行")
    reindex.set_defaults(func=lambda args: asyncio.run(_reindex(args)))


def _records_url(given: str = "") -> str:
    url = given or Settings.from_env().records_url
    if not url:
        raise SystemExit("请设置 BOT_RECORDS=postgresql://用户@主机:端口/库名")
    return url


async def _migrate(args: argparse.Namespace) -> int:
    from bot.services import open_records
    from bot.store.base import StoreError
    from bot.store.pg_schema import MIGRATIONS

    store = open_records(_records_url(), 1)
    try:
        applied = await store.migrate()  # type: ignore[attr-defined]
    except StoreError as exc:
        print(f"迁移失败：{exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    latest = MIGRATIONS[-1][0]
    print(f"已执行迁移 {', '.join(map(str, applied))}；当前为第 {latest} 版" if applied else f"已是最新（第 {latest} 版）")
    return 0


async def _copy(args: argparse.Namespace) -> int:
    from bot.store.base import StoreError
    from bot.store.postgres import PostgresStore
    from bot.store.records_copy import copy_records

    source_url = args.source or Settings.from_env().store_url
    if source_url.startswith(("redis://", "rediss://")):
        from bot.store.redis import RedisStore

        source = RedisStore.from_url(source_url, args.prefix)
    elif source_url.startswith("sqlite:///"):
        from bot.store.sqlite import SQLiteStore

        source = SQLiteStore(source_url[len("sqlite:///"):])
    else:
        print("请用 --from redis://… 或 sqlite:///…（或 BOT_STORE）指定来源", file=sys.stderr)
        return 1
    target = PostgresStore(_records_url(args.target), 2)

    def progress(kind: str, seen: int, written: int) -> None:
        print(f"\r  {kind}: 已读取 {seen}，新写入 {written}", end="", flush=True)

    try:
        report = await copy_records(source, target, progress=progress)
    except StoreError as exc:
        print(f"\n复制中断：{exc}\n可直接重新执行本命令，已复制的记录不会重复写入。", file=sys.stderr)
        return 1
    finally:
        await source.close()
        await target.close()
    print()
    for kind, (in_source, in_target, written) in sorted(report.items()):
        mark = "✓" if in_source == in_target else "✗ 数量不一致"
        print(f"{kind:<16} 来源 {in_source:>8}  PostgreSQL {in_target:>8}  本次写入 {written:>8}  {mark}")
    if any(a != b for a, b, _ in report.values()):
        print("数量不一致：复制期间机器人可能仍在写入。请停止服务后重新执行本命令。", file=sys.stderr)
        return 1
    print("复制完成，数量一致。设置 BOT_RECORDS 后重启服务即可。")
    return 0


async def _reindex(args: argparse.Namespace) -> int:
    from bot.privacy import FieldCipher
    from bot.services import open_store
    from bot.store.base import StoreError
    from bot.store.reindex import ensure_indexed

    settings = Settings.from_env()
    store = open_store(settings.store_url, settings.records_url, settings.records_pool)
    try:
        changed = await ensure_indexed(store, FieldCipher.from_setting(settings.data_key, settings.data_dir), force=True)
    except StoreError as exc:
        print(f"补建索引中断：{exc}\n可直接重新执行本命令。", file=sys.stderr)
        return 1
    finally:
        await store.close()
    for kind, n in (changed or {}).items():
        print(f"{kind:<16} 补建 {n:>8}")
    return 0
