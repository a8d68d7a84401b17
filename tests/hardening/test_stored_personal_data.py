"""Issue 15 item 2: after a child is enrolled through the real webhook, nothing on disk (SQLite file,
WAL, SHM) or in Redis holds the child's ID number, the guardian's phone, or the birth date in any
common format — the confirmation page (masked ID's last four, birth date, district) lived in the
reply cache and the session's recent replies, enough to rebuild the ID without the key. The SQLite
files are readable by their owner only."""
from __future__ import annotations

import datetime as dt
import os
import stat
import uuid

import pytest

from bot.app import create_app
from bot.clock import Clock
from bot.config import Settings
from bot.services import build_services
from dialogs.validators import generate_id_number
from tests.conftest import REDIS_URL
from tests.wechat_client import WeChatSender

BIRTH = dt.date(2015, 3, 7)
CHILD_ID = generate_id_number(BIRTH, "男", seq=517)
PHONE = "17612342353"
SCHOOL = ("3101010001", "黄浦区北京东路小学")


def secrets_to_find() -> dict[str, list[bytes]]:
    d = BIRTH
    dates = {f"{d:%Y-%m-%d}", f"{d:%Y%m%d}", f"{d.year}年{d.month}月{d.day}日", f"{d:%Y年%m月%d日}", f"{d:%Y/%m/%d}",
             f"{d.year}/{d.month}/{d.day}", f"{d:%Y.%m.%d}", f"{d.year}-{d.month}-{d.day}"}
    return {"ID": [CHILD_ID.encode(), CHILD_ID[-8:].encode()], "phone": [PHONE.encode()],
            **{f"birth date {f}": [f.encode("utf-8")] for f in dates}}


def leaks(blob: bytes) -> list[str]:
    # SQLite may store text as UTF-8 only (our schema); JSON may escape non-ASCII, so look for both.
    found = []
    for label, needles in secrets_to_find().items():
        for needle in needles:
            escaped = needle.decode("utf-8").encode("unicode_escape").replace(b"\\u", b"\\u")
            if needle in blob or escaped in blob:
                found.append(label)
    return sorted(set(found))


async def enrol(sender: WeChatSender, services) -> None:
    await services.roster.replace_school(*SCHOOL, [{"name": "韩小明", "id_number": CHILD_ID, "class_name": "三(2)班"}],
                                         services.clock.now())
    user = "o-privacy-1"
    menu = await sender.say(user, "我要参保")
    option = next(line for line in menu.split("msgmenucontent=")[1:] if "少儿住院互助基金" in line).split('"')[0]
    from urllib.parse import unquote

    await sender.say(user, unquote(option))
    confirm = ""
    for text in ("同意", "韩小明", "1", CHILD_ID, "是", "静安", "联航路4号", "1", "否", "黄浦", "北京东路", "韩大明", PHONE):
        confirm = await sender.say(user, text)
    assert "参保信息确认" in confirm and f"{BIRTH.year}" in confirm  # the page shows the birth date
    assert "已提交" in await sender.say(user, "确认提交")
    await sender.say(user, "进度")


def make_settings(tmp_path, store_url: str) -> Settings:
    return Settings(wechat_token="t", data_dir=tmp_path, store_url=store_url, admin_token="a", simulator=False)


async def test_sqlite_files_hold_no_plain_personal_data_and_are_private(aiohttp_client, tmp_path):
    db = tmp_path / "bot.db"
    settings = make_settings(tmp_path, f"sqlite:///{db}")
    services = build_services(settings, clock=Clock.from_iso("2026-09-10T10:00:00+08:00"))
    client = await aiohttp_client(create_app(settings, services, background=False))
    await enrol(WeChatSender(client, "t"), services)
    files = [p for p in (db, tmp_path / "bot.db-wal", tmp_path / "bot.db-shm") if p.exists()]
    assert db in files and len(files) == 3  # WAL mode: the log and its index exist while the store is open
    for path in files:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
        assert leaks(path.read_bytes()) == [], path


@pytest.mark.redis
async def test_redis_keys_hold_no_plain_personal_data(aiohttp_client, tmp_path, redis_store):
    from bot.store.redis import RedisStore

    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    store = RedisStore.from_url(REDIS_URL, prefix=prefix)
    try:
        settings = make_settings(tmp_path, REDIS_URL)
        services = build_services(settings, store=store, clock=Clock.from_iso("2026-09-10T10:00:00+08:00"))
        client = await aiohttp_client(create_app(settings, services, background=False))
        await enrol(WeChatSender(client, "t"), services)
        found: dict[str, list[str]] = {}
        redis = store._redis
        async for key in redis.scan_iter(match=prefix + "*", count=1000):
            kind = await redis.type(key)
            if kind == "hash":
                values = list((await redis.hgetall(key)).values())
            elif kind == "string":
                values = [await redis.get(key)]
            elif kind == "set":
                values = list(await redis.smembers(key))
            elif kind == "zset":
                values = list(await redis.zrange(key, 0, -1))
            elif kind == "stream":
                values = [str(e) for e in await redis.xrange(key)]
            else:
                values = [str(await redis.lrange(key, 0, -1))]
            blob = (key + "\n" + "\n".join(map(str, values))).encode("utf-8")
            if leaks(blob):
                found[key] = leaks(blob)
        assert found == {}
    finally:
        await store.clear_prefix()
        await store.close()
