"""Fixtures for the staff tools: services over a real SQLite store with a fixed clock, the fake WeChat
API server and a sender talking to it, generated subscribers and fictional ID numbers."""
from __future__ import annotations

import collections
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from bot.clock import SHANGHAI, Clock
from bot.config import Settings
from bot.services import Services, build_services
from bot.store.repos import Subscribers
from bot.store.sqlite import SQLiteStore
from tests.fakes.wechat_api import FakeWeChatAPI

APPID, SECRET = "wxstafftest00001", "staff-secret"
ADMIN_TOKEN = "admin-test-token-123"


def make_services(tmp_path: Path, now: dt.datetime, store=None) -> Services:
    settings = Settings(store_url=f"sqlite:///{tmp_path / 'bot.db'}", admin_token=ADMIN_TOKEN,
                        data_key="00" * 32, data_dir=tmp_path, wechat_appid=APPID, wechat_secret=SECRET)
    return build_services(settings, store=store or SQLiteStore(str(tmp_path / "bot.db")), clock=Clock(now))


@pytest.fixture
def now() -> dt.datetime:
    return dt.datetime(2026, 9, 10, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
async def services(tmp_path, now):
    services = make_services(tmp_path, now)
    yield services
    await services.store.close()


@pytest.fixture
async def fake_api():
    async with FakeWeChatAPI.running(appid=APPID, secret=SECRET) as fake:
        yield fake


def make_sender(services: Services, base_url: str):
    """The real WeChat API client pointed at the fake server."""
    from integrations.wechat.api import WeChatAPI

    return WeChatAPI(services.store, APPID, SECRET, base_url=base_url)


async def add_subscribers(services: Services, n: int, *, prefix: str = "o", district: str = "浦东新区",
                          schemes: list[str] | None = None, school_code: str = "", **extra: Any) -> list[str]:
    """Bulk-write `n` subscribers (openids prefix00000…)."""
    now = services.clock.now().isoformat(timespec="seconds")
    items, openids = [], []
    for i in range(n):
        openid = f"{prefix}{i:05d}"
        data = {"openid": openid, "subscribed": True, "first_seen": now, "last_interaction": now,
                "schemes": schemes or ["sh-child-fund"], "district": district, "school_code": school_code, **extra}
        items.append((openid, data, Subscribers.index_of(data)))
        openids.append(openid)
    for start in range(0, n, 1000):
        await services.store.put_many(Subscribers.KIND, items[start:start + 1000])
    return openids


def most_in_any_window(times: list[float], span: float) -> int:
    """The largest number of `times` inside any `span` seconds (a sliding window, as WeChat counts).
    Times noted after the limiter noted them need a span a little shorter than its window."""
    most, window = 0, collections.deque()
    for t in sorted(times):
        window.append(t)
        while window[0] <= t - span:
            window.popleft()
        most = max(most, len(window))
    return most
