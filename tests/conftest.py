"""Shared fixtures. Store fixtures: `sqlite_store`, `redis_store`, and `store_maker` / `store`
(parametrized over both backends, used by the contract suite in tests/store/).

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


class StoreMaker:
    """Opens (and re-opens, to simulate a restart) one backend's storage for a test."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend = backend
        self.sqlite_path = str(tmp_path / "store" / "bot.db")
        self.redis_prefix = f"test:{uuid.uuid4().hex[:12]}:"
        self.opened: list[Store] = []

    def open(self) -> Store:
        if self.backend == "sqlite":
            from bot.store.sqlite import SQLiteStore

            store: Store = SQLiteStore(self.sqlite_path)
        else:
            from bot.store.redis import RedisStore

            store = RedisStore.from_url(REDIS_URL, prefix=self.redis_prefix)
        self.opened.append(store)
        return store

    async def ready(self) -> Store:
        """A new store, checked reachable: Redis missing → skip, or fail under CI."""
        store = self.open()
        try:
            await store.ping()
        except StoreError as exc:
            await store.close()
            message = f"Redis not reachable at {REDIS_URL}: {exc}"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        return store

    async def cleanup(self) -> None:
        for store in self.opened:
            if self.backend == "redis":
                try:
                    await store.clear_prefix()  # type: ignore[attr-defined]
                except StoreError:
                    pass
            await store.close()


async def _maker(backend: str, tmp_path: Path):
    maker = StoreMaker(backend, tmp_path)
    yield maker
    await maker.cleanup()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
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
