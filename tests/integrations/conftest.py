"""Fixtures for the integration tests: a bot (services + fulfilment) on a real SQLite store with a fixed
clock, and its payment routes on a local HTTP server (checkout links point at it)."""
from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import ROOT
from bot.fulfilment import Fulfilment
from bot.rules import RuleEngine
from bot.web.payment_routes import setup_payment_routes
from tests.integrations.harness import Bot, make_services


@pytest.fixture(scope="session")
def engine() -> RuleEngine:
    return RuleEngine.load(ROOT / "policies")


@pytest.fixture
async def bot(tmp_path, store, engine) -> Bot:
    """On both store backends (SQLite, and Redis when reachable): the loop must hold on either."""
    services = make_services(tmp_path, store)
    fulfilment = Fulfilment(services, engine, env={})
    services.extras.update(engine=engine, fulfilment=fulfilment)
    return Bot(services, fulfilment)


@pytest.fixture
async def http_for():
    """Starts the payment routes of a bot on a real local HTTP server."""
    clients: list[TestClient] = []

    async def start(bot: Bot) -> TestClient:
        app = web.Application()
        setup_payment_routes(app, bot.services)
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def http(bot, http_for) -> TestClient:
    """The bot's payment routes over HTTP; checkout links point at this server."""
    client = await http_for(bot)
    bot.fulfilment.payments.public_url = str(client.make_url("")).rstrip("/")
    return client
