"""Checks `serve` makes before taking traffic: the records database is migrated, a Redis that holds
records (no BOT_RECORDS) keeps them across a restart, and records written by an earlier version get the
index values segments and the dashboard are counted from (bot.store.reindex).

Redis with its default configuration snapshots now and then (RDB) and loses what was written since the
last snapshot when it stops; with `--save ""` it loses everything. Applications and payments must not
live there without the append-only file, so `serve` refuses to start then, saying what to set.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

from bot.config import Settings

# Set to 1 to serve with a Redis that may lose records (development and tests only).
VOLATILE_OVERRIDE = "BOT_ALLOW_VOLATILE_REDIS"

REDIS_SETTINGS_HELP = (
    "请在 Redis 配置中开启 AOF 持久化：appendonly yes 与 appendfsync everysec"
    "（运行中可执行 redis-cli CONFIG SET appendonly yes 后再 CONFIG REWRITE 写入配置文件），"
    "或设置 BOT_RECORDS=postgresql://… 把申请、订单等记录存入 PostgreSQL。"
    f"仅在开发或测试环境中可设置 {VOLATILE_OVERRIDE}=1 跳过此检查。")


class StartupRefused(Exception):
    """`serve` must not start; the message says why and what to set."""


def redis_persistence_problem(config: Mapping[str, str]) -> str:
    """What is wrong with Redis's persistence settings (CONFIG GET appendonly, appendfsync, save) for
    holding records; "" when the append-only file is on and synced at least every second."""
    if str(config.get("appendonly", "")).lower() != "yes":
        snapshots = (config.get("save") or "").strip()
        kept = f"只有定时快照（save {snapshots}）" if snapshots else "既没有 AOF 也没有快照（save \"\"）"
        return f"Redis 未开启 AOF 持久化（appendonly {config.get('appendonly') or 'no'}），{kept}，重启或宕机会丢失申请和缴费记录。"
    if str(config.get("appendfsync", "")).lower() == "no":
        return "Redis 的 AOF 未按时落盘（appendfsync no），宕机会丢失最近写入的申请和缴费记录。"
    return ""


async def check_store(settings: Settings, env: Mapping[str, str] | None = None) -> list[str]:
    """Run before serving. Returns notes to print; raises StartupRefused when the bot must not start."""
    env = os.environ if env is None else env
    notes: list[str] = []
    if settings.records_url:
        from bot.services import open_records
        from bot.store.base import StoreError

        records = open_records(settings.records_url, settings.records_pool)
        try:
            applied = await records.migrate()  # type: ignore[attr-defined]
        except StoreError as exc:
            raise StartupRefused(f"无法连接记录数据库（BOT_RECORDS）或完成迁移：{exc}") from exc
        finally:
            await records.close()
        if applied:
            notes.append(f"记录数据库已迁移到第 {max(applied)} 版")
    elif settings.store_url.startswith(("redis://", "rediss://")):
        problem = await _redis_problem(settings.store_url)
        if problem:
            if env.get(VOLATILE_OVERRIDE, "") in ("1", "true", "yes"):
                notes.append(f"警告：{problem}（已按 {VOLATILE_OVERRIDE} 继续运行，仅限开发或测试）")
            else:
                raise StartupRefused(f"{problem}\n{REDIS_SETTINGS_HELP}")
    return notes + await _index_records(settings)


async def _index_records(settings: Settings) -> list[str]:
    """Bring the index up to date (bot.store.reindex); a store that cannot be reached now is left for the
    next start (the bot answers 系统繁忙 until it is back, as ever)."""
    from bot.privacy import FieldCipher
    from bot.services import open_store
    from bot.store.base import StoreError
    from bot.store.reindex import ensure_indexed

    store = open_store(settings.store_url, settings.records_url, settings.records_pool)
    try:
        changed = await ensure_indexed(store, FieldCipher.from_setting(settings.data_key, settings.data_dir))
    except StoreError as exc:
        return [f"警告：暂时无法为旧记录补建索引（{exc}），下次启动时再试；也可执行 python -m bot records reindex"]
    finally:
        await store.close()
    if changed and sum(changed.values()):
        return [f"已为 {sum(changed.values())} 条旧记录补建索引（分组与概览据此统计）"]
    return []


async def _redis_problem(url: str) -> str:
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(url, decode_responses=True, socket_connect_timeout=2, socket_timeout=2)
    try:
        config: dict[str, str] = {}
        for name in ("appendonly", "appendfsync", "save"):
            config.update(await client.config_get(name))
    except (RedisError, OSError) as exc:
        return f"无法读取 Redis 的持久化设置（CONFIG GET：{type(exc).__name__}: {exc}），无法确认记录不会丢失。"
    finally:
        await client.aclose()
    return redis_persistence_problem(config)
