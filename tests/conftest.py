"""Shared fixtures. Store fixtures: `sqlite_store`, `redis_store`, `postgres_store`, and `store_maker` /
`store` (parametrized over every backend — SQLite, Redis, PostgreSQL, and Redis for hot state with
PostgreSQL for records — used by the contract suite in tests/store/).

PostgreSQL tests use BOT_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres) with a
schema of their own (random name), dropped afterwards; skipped when unreachable, failed under `CI`.

Redis tests use BOT_TEST_REDIS_URL (default redis://127.0.0.1:6379/13) with a unique key prefix per
test, removed afterwards. When Redis is unreachable they are skipped — or fail when `CI` is set.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from bot.store.base import Store, StoreError

REDIS_URL = os.environ.get("BOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
POSTGRES_URL = os.environ.get("BOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def postgres_schema_url(schema: str, base: str = POSTGRES_URL) -> str:
    """The test database's URL with the records in `schema` (see bot.store.postgres.split_schema)."""
    return f"{base}{'&' if '?' in base else '?'}schema={schema}"


async def create_pg_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL, timeout=3)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    finally:
        await conn.close()


async def drop_pg_schema(schema: str) -> None:
    import asyncpg

    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


class StoreMaker:
    """Opens (and re-opens, to simulate a restart) one backend's storage for a test."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend = backend
        self.sqlite_path = str(tmp_path / "store" / "bot.db")
        self.redis_prefix = f"test:{uuid.uuid4().hex[:12]}:"
        self.pg_schema = f"test_{uuid.uuid4().hex[:12]}"
        self.pg_created = False
        self.opened: list[Store] = []

    def open(self) -> Store:
        from bot.store.redis import RedisStore

        if self.backend == "sqlite":
            from bot.store.sqlite import SQLiteStore

            store: Store = SQLiteStore(self.sqlite_path)
        elif self.backend == "sqlite-sole":
            from bot.store.sqlite_sole import SoleWriterSQLiteStore

            store = SoleWriterSQLiteStore(self.sqlite_path)
        elif self.backend == "redis":
            store = RedisStore.from_url(REDIS_URL, prefix=self.redis_prefix)
        else:
            from bot.store.postgres import PostgresStore

            store = PostgresStore(postgres_schema_url(self.pg_schema), pool_size=4)
            if self.backend == "redis+postgresql":
                from bot.store.routed import RoutedStore

                store = RoutedStore(RedisStore.from_url(REDIS_URL, prefix=self.redis_prefix), store)
        self.opened.append(store)
        return store

    async def ready(self) -> Store:
        """A new store, checked reachable: Redis or PostgreSQL missing → skip, or fail under CI."""
        if "postgresql" in self.backend and not self.pg_created:
            try:
                await create_pg_schema(self.pg_schema)
            except OSError as exc:
                self._unreachable(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
            self.pg_created = True
        store = self.open()
        try:
            await store.ping()
        except StoreError as exc:
            await store.close()
            self._unreachable(f"{self.backend} not reachable ({REDIS_URL}, {POSTGRES_URL}): {exc}")
        return store

    async def peers(self, n: int) -> list[Store]:
        """Stores for `n` workers, each with its own connection — except a sole-writer SQLite file, which one
        process serves alone (a second opening is refused): its `n` workers are coroutines of that one."""
        if self.backend == "sqlite-sole":
            return [self.opened[-1] if self.opened else await self.ready()] * n
        return [await self.ready() for _ in range(n)]

    @staticmethod
    def _unreachable(message: str) -> None:
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)

    async def cleanup(self) -> None:
        for store in self.opened:
            hot = getattr(store, "hot", store)
            if "redis" in self.backend:
                try:
                    await hot.clear_prefix()  # type: ignore[attr-defined]
                except StoreError:
                    pass
            await store.close()
        if self.pg_created:
            await drop_pg_schema(self.pg_schema)


async def _maker(backend: str, tmp_path: Path):
    maker = StoreMaker(backend, tmp_path)
    yield maker
    await maker.cleanup()


@pytest.fixture(params=["sqlite", "sqlite-sole", pytest.param("redis", marks=pytest.mark.redis),
                        pytest.param("postgresql", marks=pytest.mark.postgres),
                        pytest.param("redis+postgresql", marks=[pytest.mark.redis, pytest.mark.postgres])])
async def store_maker(request, tmp_path):
    async for maker in _maker(request.param, tmp_path):
        yield maker


@pytest.fixture
async def store(store_maker) -> Store:
    return await store_maker.ready()


@pytest.fixture
async def sqlite_store(tmp_path) -> Store:
    async for maker in _maker("sqlite", tmp_path):
        yield await maker.ready()


@pytest.fixture
async def redis_store(tmp_path) -> Store:
    async for maker in _maker("redis", tmp_path):
        yield await maker.ready()


@pytest.fixture
async def schema():
    """The name of a new schema in the test PostgreSQL (random), dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    try:
        await create_pg_schema(name)
    except OSError as exc:
        StoreMaker._unreachable(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    yield name
    await drop_pg_schema(name)


@pytest.fixture
async def postgres_store(tmp_path) -> Store:
    async for maker in _maker("postgresql", tmp_path):
        yield await maker.ready()


CHROMIUM = os.environ.get("BOT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
async def browser():
    """Debian's chromium driven by Playwright (no browser download): skipped without it, failed under CI."""
    if not Path(CHROMIUM).exists():
        message = f"chromium not found at {CHROMIUM}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()
