"""Issue 15 item 10: /metrics can require a token (BOT_METRICS_TOKEN); /healthz says unavailable without
the store's error text (paths, hosts); the lines about refused requests are rate limited while the
metrics still count every refusal."""
from __future__ import annotations

import logging

from bot.app import create_app
from bot.clock import Clock
from bot.config import Settings
from bot.services import build_services
from bot.store.base import StoreError
from bot.web.simulator import build_message_xml
from tests.e2e.test_webhook_protocol import CountingRouter, bot, make_settings  # noqa: F401 - the fixture
from tests.wechat_client import next_msg_id


async def test_metrics_token(aiohttp_client, tmp_path):
    settings = make_settings(tmp_path, metrics_token="s3cret-metrics")
    client = await aiohttp_client(create_app(settings, build_services(settings, clock=Clock()),
                                             router=CountingRouter(), background=False))
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 401
    ok = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"})
    assert ok.status == 200 and "bot_messages_total" in await ok.text()


def test_metrics_token_from_the_environment():
    assert Settings.from_env({"BOT_METRICS_TOKEN": "abc"}).metrics_token == "abc"
    assert Settings.from_env({}).metrics_token == ""


async def test_healthz_hides_the_store_error(bot, caplog):  # noqa: F811
    client, _sender, _router, services = bot

    async def broken_ping():
        raise StoreError("无法打开数据库 /srv/secret/path/bot.db: disk I/O error at redis://10.1.2.3:6379")

    services.store.ping = broken_ping
    resp = await client.get("/healthz")
    assert resp.status == 503
    text = await resp.text()
    assert "unavailable" in text and "/srv/secret" not in text and "10.1.2.3" not in text
    [line] = [r for r in caplog.records if r.getMessage() == "health check: store unavailable"]
    assert "/srv/secret" in line.fields["error"]  # the operator still finds it in the log


async def test_refused_request_lines_are_rate_limited(bot, caplog):  # noqa: F811
    client, sender, _router, _services = bot
    caplog.set_level(logging.WARNING, logger="bot.webhook")
    for _ in range(60):
        resp = await sender.post_xml(build_message_xml("u1", text="x", msg_id=next_msg_id()), signature="f" * 40)
        assert resp.status == 403
    lines = [r for r in caplog.records if r.name == "bot.webhook" and r.getMessage() == "rejected request"]
    assert 0 < len(lines) <= 25
    metrics = await (await client.get("/metrics")).text()
    assert 'bot_http_rejections_total{status="403"} 60' in metrics
