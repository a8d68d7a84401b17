"""`serve`'s start-up check and `python -m bot records reindex` give older records their index values."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.config import Settings
from bot.store.repos import Subscribers
from bot.store.sqlite import SQLiteStore
from bot.store.startup import check_store

ROOT = Path(__file__).resolve().parents[2]
KEY = "ab" * 32


async def _old_subscriber(path: Path) -> None:
    store = SQLiteStore(str(path))
    data = {"openid": "o-old", "subscribed": True, "schemes": ["sh-child-fund"], "district": "", "school_code": ""}
    await store.put(Subscribers.KIND, "o-old", data, index={"subscribed": "1"})  # no declared-scheme value yet
    await store.close()


async def _declared(path: Path) -> list[str]:
    store = SQLiteStore(str(path))
    try:
        return await store.query_keys(Subscribers.KIND, **{Subscribers.scheme_field("sh-child-fund"): "1"})
    finally:
        await store.close()


async def test_start_up_reindexes_once(tmp_path):
    path = tmp_path / "bot.db"
    await _old_subscriber(path)
    settings = Settings(store_url=f"sqlite:///{path}", data_key=KEY, data_dir=tmp_path)
    assert any("已为 1 条旧记录补建索引" in note for note in await check_store(settings, env={}))
    assert await _declared(path) == ["o-old"]
    assert not any("补建索引" in note for note in await check_store(settings, env={}))


async def test_records_reindex_command(tmp_path):
    path = tmp_path / "bot.db"
    await _old_subscriber(path)
    env = {**os.environ, "BOT_STORE": f"sqlite:///{path}", "BOT_DATA_KEY": KEY, "BOT_DATA_DIR": str(tmp_path)}
    env.pop("BOT_RECORDS", None)
    done = subprocess.run([sys.executable, "-m", "bot", "records", "reindex"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert "subscriber" in done.stdout and await _declared(path) == ["o-old"]
