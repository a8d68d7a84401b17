"""The application's components, built once at start-up and handed to every turn.

Each subsystem (rules, nlu, dialogs, payments, wechat API, broadcasts) is created in
`build_services`; nothing here is global, so tests build as many independent bots as they like.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.clock import Clock
from bot.config import Settings
from bot.privacy import FieldCipher
from bot.store.base import Store
from bot.store.repos import Applications, Handoffs, Roster, SentMessages, Sessions, Subscribers


@dataclass
class Services:
    settings: Settings
    clock: Clock
    store: Store
    cipher: FieldCipher
    sessions: Sessions
    applications: Applications
    subscribers: Subscribers
    roster: Roster
    handoffs: Handoffs
    sent_messages: SentMessages
    # Filled by the subsystems as they are built (see build_services); typed loosely to keep the
    # arrows one-way (bot imports them, they never import this module's users).
    extras: dict[str, Any] = field(default_factory=dict)
    background: set = field(default_factory=set)  # running follow-up tasks (kept to avoid GC)


def open_store(url: str, records_url: str = "", records_pool: int = 10, serving: str = "") -> Store:
    """The store at `url`; with `records_url` (PostgreSQL) the durable records go there instead.
    `serving` is how the process serves guardians from a SQLite file: "sole" (`serve`, one process: the
    turn's claim and lock in memory, grouped commits — bot.store.sqlite_sole), "workers" (one of
    `serve --workers N`), "" (a CLI command, a test)."""
    if records_url:
        from bot.store.routed import RoutedStore

        return RoutedStore(open_store(url, serving=serving), open_records(records_url, records_pool))
    if url.startswith("redis://") or url.startswith("rediss://"):
        from bot.store.redis import RedisStore

        return RedisStore.from_url(url)
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if serving == "sole":
            from bot.store.sqlite_sole import SoleWriterSQLiteStore

            return SoleWriterSQLiteStore(path)
        from bot.store.sqlite import SQLiteStore

        return SQLiteStore(path, writer_lock="shared" if serving == "workers" else "")
    raise ValueError(f"BOT_STORE 不支持的地址: {url!r}（应为 sqlite:///路径 或 redis://主机:端口/库号）")


def open_records(url: str, pool_size: int = 10) -> Store:
    if url.startswith(("postgresql://", "postgres://")):
        from bot.store.postgres import PostgresStore

        return PostgresStore(url, pool_size)
    raise ValueError(f"BOT_RECORDS 不支持的地址: {url!r}（应为 postgresql://用户@主机:端口/库名）")


def build_services(settings: Settings, store: Store | None = None, clock: Clock | None = None,
                   serving: str = "") -> Services:
    store = store or open_store(settings.store_url, settings.records_url, settings.records_pool, serving)
    cipher = FieldCipher.from_setting(settings.data_key, settings.data_dir)
    return Services(
        settings=settings,
        clock=clock or Clock.from_iso(settings.now),
        store=store,
        cipher=cipher,
        sessions=Sessions(store, cipher),
        applications=Applications(store, cipher),
        subscribers=Subscribers(store),
        roster=Roster(store, cipher),
        handoffs=Handoffs(store),
        sent_messages=SentMessages(store),
    )
