"""PostgreSQL trouble with the records in it (BOT_RECORDS), the server on our own redis-server for hot
state — never touching the machine's shared PostgreSQL server itself:

- The database goes away under load (a TCP proxy in front of it is stopped, dropping every connection,
  then started again): turns that need a record are answered 系统繁忙 while a question that needs none
  is answered as usual, the bot recovers by itself, and
  every guardian ends with exactly one correct application; no payment order is made twice.
- kill -9 of the bot while it stores an order and its application's move to 待缴费 (held inside that
  transaction by a trigger of this test's schema): neither half is left.
"""
from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import asyncpg
import pytest

from bench.common import free_port
from bench.guardian import Guardian, seed_store
from bot.pipeline import BUSY_TEXT
from bot.store.postgres import PostgresStore
from tests.conftest import POSTGRES_URL, postgres_schema_url
from tests.faults.conftest import Wire, assert_one_correct_application_each, server_for

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]


class TcpProxy:
    """127.0.0.1:port → the PostgreSQL server, on a thread of its own (the test blocks its own loop while
    a server starts); `stop()` closes the port and cuts every connection, `start()` opens it again."""

    def __init__(self, target_port: int = 5432) -> None:
        self.port, self.target_port = free_port(), target_port
        self.server: asyncio.base_events.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def _call(self, coro) -> None:
        asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def start(self) -> "TcpProxy":
        self._call(self._open())
        return self

    def stop(self) -> None:
        self._call(self._close())

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    async def _open(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def _close(self) -> None:
        if self.server:
            self.server.close()
            self.server = None
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}


def _url_via(port: int, schema: str) -> str:
    base = POSTGRES_URL.replace("127.0.0.1:5432", f"127.0.0.1:{port}")
    return postgres_schema_url(schema, base)


async def test_postgres_outage_under_load_answers_busy_and_loses_nothing(tmp_path, http, private_redis, schema):
    proxy = TcpProxy().start()
    records = _url_via(proxy.port, schema)
    guardians = [Guardian(n, busy_retry=0.3, busy_patience=100) for n in range(6)]
    await seed_store(private_redis.url, tmp_path, range(len(guardians)), records)
    server = server_for(tmp_path, private_redis.url, records_url=records).start()
    try:
        wire = Wire(http, server.base_url)
        asker = wire.line("o-asker", patience=0)
        question = "少儿住院互助基金交多少钱？"
        known_answer = await asker(question)  # the guardian's subscriber record is written now
        assert BUSY_TEXT not in known_answer
        answers_during: list[str] = []

        async def outage_midway() -> None:
            while wire.answered < 30:
                await asyncio.sleep(0.005)
            proxy.stop()
            await asyncio.sleep(1.0)
            answers_during.append(await asker(question))  # needs no record: answered as usual
            await asyncio.sleep(1.5)
            async with http.get(server.base_url + "/healthz") as resp:
                assert resp.status == 503
            proxy.start()

        chaos = asyncio.create_task(outage_midway())
        results = await asyncio.wait_for(asyncio.gather(*(g.enroll(wire.line(g.user_id)) for g in guardians)), 150)
        await chaos
        assert answers_during == [known_answer]  # a question needing no record was answered during the outage
        assert sum(r.busy_replies for r in results) > 0  # the outage was felt by turns needing a record …
        assert set(wire.statuses) == {200}  # … as 系统繁忙 answers, never as HTTP errors
        async with http.get(server.base_url + "/healthz") as resp:
            assert resp.status == 200  # recovered by itself
    finally:
        server.stop()
    await assert_one_correct_application_each(private_redis.url, tmp_path, guardians, results, records)
    store = PostgresStore(postgres_schema_url(schema), 1)
    try:
        apps = [r.data for _, r in await store.query("application")]
        orders = [r.data for _, r in await store.query("order")]
        assert len({o["order_no"] for o in orders}) == len(orders)
        assert all(o["application_id"] in {a["id"] for a in apps} for o in orders)
        for app in apps:  # an application awaiting payment has its created order, and the other way round
            order = next((o for o in orders if o["application_id"] == app["id"]), None)
            assert (app["status"] == "awaiting_payment") == bool(order and order["status"] == "created"), (app, order)
    finally:
        await store.close()
        proxy.close()


HOLD_LOCK = 731_842

_HOLD = """
CREATE FUNCTION hold_for_test() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_advisory_xact_lock_shared({lock}); RETURN NEW; END $$;
CREATE TRIGGER hold_for_test BEFORE INSERT OR UPDATE ON records FOR EACH ROW
WHEN ({condition}) EXECUTE FUNCTION hold_for_test();
"""


@pytest.mark.parametrize("held", ["order created", "application awaiting payment"])
async def test_kill_9_inside_the_order_transaction_leaves_neither_half(tmp_path, http, private_redis, schema, held):
    """The bot is killed while one of the two writes waits inside the transaction — the order's (the
    application's move already made) or the application's. After it, the application is not 待缴费 without
    its order, and no created order stands beside an application that is not awaiting it."""
    records = postgres_schema_url(schema)
    migrate = PostgresStore(records, 1)
    await migrate.migrate()
    await migrate.close()
    condition = ("NEW.kind = 'order' AND NEW.data->>'status' = 'created'" if held == "order created" else
                 "NEW.kind = 'application' AND NEW.data->>'status' = 'awaiting_payment'")
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'SET search_path = "{schema}"')
        await admin.execute(_HOLD.format(lock=HOLD_LOCK, condition=condition))
        await admin.execute("SELECT pg_advisory_lock($1)", HOLD_LOCK)
        guardian = Guardian(0)
        await seed_store(private_redis.url, tmp_path, range(1), records)
        server = server_for(tmp_path, private_redis.url, records_url=records).start()
        try:
            result = await asyncio.wait_for(guardian.enroll(Wire(http, server.base_url).line(guardian.user_id)), 90)
            assert result.completed
            deadline = time.monotonic() + 30
            while not await admin.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1",
                    HOLD_LOCK):
                assert time.monotonic() < deadline, "the bot never reached the held write"
                await asyncio.sleep(0.02)
            server.kill()  # kill -9 while the write waits inside the transaction
        finally:
            server.kill()
        await admin.execute("SELECT pg_advisory_unlock($1)", HOLD_LOCK)
        deadline = time.monotonic() + 10  # the server's session ends when it finds its client gone
        while await admin.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1",
                                   HOLD_LOCK):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        [app] = [_json(r[0]) for r in await admin.fetch("SELECT data::text FROM records WHERE kind = 'application'")]
        orders = [_json(r[0]) for r in await admin.fetch("SELECT data::text FROM records WHERE kind = 'order'")]
    finally:
        await admin.close()
    assert app["status"] == "pre_approved", app["status"]  # not 待缴费 …
    assert all(o["status"] != "created" for o in orders), orders  # … and no created order alone


def _json(text: str) -> dict:
    import json

    return json.loads(text)
