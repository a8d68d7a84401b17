"""`python -m bot db migrate`, `python -m bot records copy` and the Redis persistence check of `serve`."""
from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from bench.common import RedisServer
from bot.store.base import ExportedRecord
from bot.store.pg_schema import MIGRATIONS
from bot.store.postgres import PostgresStore
from bot.store.records_copy import copy_records
from bot.store.redis import RedisStore
from bot.store.startup import redis_persistence_problem
from tests.server_process import ServerProcess
from tests.conftest import POSTGRES_URL, REDIS_URL, _maker, postgres_schema_url

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres


def _bot(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


async def _versions(schema: str) -> list[int]:
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        return [r[0] for r in await conn.fetch(f'SELECT version FROM "{schema}".schema_migrations ORDER BY 1')]
    finally:
        await conn.close()


async def test_db_migrate_runs_forward_once(schema):
    url = postgres_schema_url(schema)
    first = _bot("db", "migrate", BOT_RECORDS=url)
    assert first.returncode == 0, first.stderr
    assert await _versions(schema) == [m[0] for m in MIGRATIONS]
    again = _bot("db", "migrate", BOT_RECORDS=url)
    assert again.returncode == 0 and "已是最新" in again.stdout
    assert _bot("db", "migrate", BOT_RECORDS="").returncode != 0  # says what to set


async def test_migrations_are_forward_only_and_serialised(schema):
    """Several workers starting at once: each migration runs exactly once."""
    import asyncio

    stores = [PostgresStore(postgres_schema_url(schema), 1, run_migrations=False) for _ in range(4)]
    applied = await asyncio.gather(*(s.migrate() for s in stores))
    assert sorted(v for a in applied for v in a) == [m[0] for m in MIGRATIONS]
    for s in stores:
        await s.close()


async def test_one_order_per_order_number(schema):
    from bot.store.base import VersionConflict

    store = PostgresStore(postgres_schema_url(schema), 2)
    await store.put("order", "A1", {"order_no": "N1"})
    with pytest.raises(VersionConflict):
        await store.put("order", "A2", {"order_no": "N1"})
    await store.close()


async def test_index_values_left_twice_for_a_field_are_made_one(schema, monkeypatch):
    """Before migration 3 a write racing another could leave a record with two values of one field."""
    from bot.store import pg_schema

    store = PostgresStore(postgres_schema_url(schema), 2, run_migrations=False)
    monkeypatch.setattr(pg_schema, "MIGRATIONS", MIGRATIONS[:2])
    await store.migrate()
    async with store._conn() as conn:  # as the earlier version's writes left it
        await conn.execute("INSERT INTO records VALUES ('application', 'A1', '{}', 1, NULL)")
        await conn.execute("INSERT INTO record_index VALUES ('application', 'reached', 'submitted', 'A1'), "
                           "('application', 'reached', 'paid', 'A1'), ('application', 'status', 'paid', 'A1')")
    monkeypatch.setattr(pg_schema, "MIGRATIONS", MIGRATIONS)
    assert await store.migrate() == [3]
    assert await store.query_index("application", ("reached", "status")) == [("A1", {"reached": "paid", "status": "paid"})]
    await store.put("application", "A1", {}, index={"reached": "paid", "status": "done"})
    assert await store.count("application", reached="submitted") == 0 and await store.count("application", status="done") == 1
    await store.close()


@pytest.mark.redis
async def test_records_copy_is_idempotent_resumable_and_counted(tmp_path, schema):
    async for maker in _maker("redis", tmp_path):
        redis: RedisStore = await maker.ready()
        for n in range(1203):
            await redis.put("application", f"A{n:05d}", {"n": n}, index={"status": "submitted", "user_id": f"u{n % 7}"})
        await redis.put("application", "A00001", {"n": 1, "paid": True}, index={"status": "paid", "user_id": "u1"})
        await redis.put("order", "A00001", {"order_no": "N1"}, index={"order_no": "N1"})
        await redis.put("session", "u1", {"step": 3}, ttl=600)  # hot: stays in Redis
        target = PostgresStore(postgres_schema_url(schema), 2)

        # Interrupted after the first batch: the next run carries on and writes only what is missing.
        first = await target.import_records("application", await redis.export("application", "", 500))
        assert first == 500
        report = await copy_records(redis, target, batch=300)
        assert report["application"] == (1203, 1203, 703) and report["order"] == (1, 1, 1)
        assert "session" not in report and await target.get("session", "u1") is None
        assert (await target.get("application", "A00001")).data == {"n": 1, "paid": True}
        assert (await target.get("application", "A00001")).version == 2  # versions carried over
        assert [k for k, _ in await target.query("application", status="paid")] == ["A00001"]
        assert await target.count("application", user_id="u3") == await redis.count("application", user_id="u3")
        again = await copy_records(redis, target)
        assert again["application"] == (1203, 1203, 0)  # nothing written twice

        # A record changed in Redis since the copy is brought up to date.
        await redis.put("application", "A00002", {"n": 2, "paid": True}, index={"status": "paid", "user_id": "u2"})
        assert (await copy_records(redis, target))["application"][2] == 1
        assert await target.count("application", status="paid") == 2
        await target.close()

        await redis.put("handoff", "u1:1", {"text": "转人工"}, index={"status": "open"})
        cli = _bot("records", "copy", "--prefix", maker.redis_prefix, BOT_STORE=REDIS_URL,
                   BOT_RECORDS=postgres_schema_url(schema))
        assert cli.returncode == 0, cli.stderr
        assert "数量一致" in cli.stdout and "handoff" in cli.stdout
        target = PostgresStore(postgres_schema_url(schema), 1)
        assert await target.count("handoff", status="open") == 1 and await target.count("application") == 1203
        await target.close()


def test_redis_persistence_settings():
    assert "AOF" in redis_persistence_problem({"appendonly": "no", "save": ""})
    assert "save 3600 1" in redis_persistence_problem({"appendonly": "no", "save": "3600 1"})
    assert "appendfsync no" in redis_persistence_problem({"appendonly": "yes", "appendfsync": "no"})
    assert redis_persistence_problem({"appendonly": "yes", "appendfsync": "everysec", "save": ""}) == ""


@pytest.mark.redis
def test_serve_refuses_a_redis_that_would_lose_records(tmp_path):
    """The test Redis runs with --save "" --appendonly no: serve says what to set instead of starting."""
    env = dict(BOT_STORE=REDIS_URL, BOT_DATA_DIR=str(tmp_path), BOT_DATA_KEY="00" * 32, BOT_RECORDS="")
    proc = subprocess.run([sys.executable, "-m", "bot", "serve", "--port", "1"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**{k: v for k, v in os.environ.items()
                                                         if k != "BOT_ALLOW_VOLATILE_REDIS"}, **env})
    assert proc.returncode == 1
    assert "appendonly yes" in proc.stderr and "BOT_RECORDS" in proc.stderr and "BOT_ALLOW_VOLATILE_REDIS" in proc.stderr


@pytest.mark.redis
@pytest.mark.skipif(not RedisServer.available(), reason="needs the redis-server binary")
def test_serve_starts_on_a_redis_with_aof_and_with_records_in_postgresql(tmp_path, schema):
    """Redis with appendonly yes is accepted as it is; a Redis without persistence is fine when PostgreSQL
    holds the records (it keeps only what may be lost); the override starts a volatile one for development."""
    durable, volatile = RedisServer(tmp_path / "aof", appendonly=True).start(), RedisServer(tmp_path / "plain").start()
    try:
        for store_env in ({"BOT_STORE": durable.url},
                          {"BOT_STORE": volatile.url, "BOT_RECORDS": postgres_schema_url(schema)},
                          {"BOT_STORE": volatile.url, "BOT_ALLOW_VOLATILE_REDIS": "1"}):
            server = ServerProcess(tmp_path / "data", env=store_env).start()
            try:
                status, _body = asyncio.run(_health(server.base_url))
                assert status == 200, (store_env, server.log())
                assert ("警告" in server.log()) == ("BOT_ALLOW_VOLATILE_REDIS" in store_env)
            finally:
                server.stop()
    finally:
        durable.stop()
        volatile.stop()


async def _health(base_url: str) -> tuple[int, str]:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(base_url + "/healthz") as resp:
        return resp.status, await resp.text()


async def test_records_copy_from_sqlite(tmp_path, schema):
    """The one-machine default moves too: `records copy --from sqlite:///…`."""
    from bot.store.sqlite import SQLiteStore

    path = tmp_path / "bot.db"
    sqlite = SQLiteStore(str(path))
    await sqlite.put_many("roster", [(f"S1:{n:04d}", {"n": n}, {"school_code": "S1"}) for n in range(1203)])
    await sqlite.put("application", "A1", {"status": "paid"}, index={"status": "paid", "user_id": "u1"})
    await sqlite.put("application", "A1", {"status": "done"}, index={"status": "done", "user_id": "u1"})
    await sqlite.put("session", "u1", {"step": 1}, ttl=600)
    await sqlite.close()
    written = []
    for _run in range(2):
        cli = _bot("records", "copy", "--from", f"sqlite:///{path}", BOT_RECORDS=postgres_schema_url(schema))
        assert cli.returncode == 0, cli.stderr
        assert "数量一致" in cli.stdout
        written.append(sorted(int(n) for n in re.findall(r"本次写入\s+(\d+)", cli.stdout)))
    assert written == [[1, 1203], [0, 0]]  # the second run finds everything copied
    target = PostgresStore(postgres_schema_url(schema), 1)
    try:
        assert await target.count("roster", school_code="S1") == 1203
        assert (await target.get("application", "A1")).version == 2
        assert [k for k, _ in await target.query("application", status="done")] == ["A1"]
        assert await target.get("session", "u1") is None  # hot state stays where it was
    finally:
        await target.close()
