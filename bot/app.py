"""aiohttp application factory: webhook, health, metrics, simulator, payment and admin pages."""
from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import logging
from typing import Any

from aiohttp import web

from bot.config import Settings
from bot.logs import log_event
from bot.metrics import Metrics
from bot.pipeline import Pipeline
from bot.services import Services, build_services
from bot.store.base import StoreError
from bot.webhook import WeChatWebhook

log = logging.getLogger("bot.app")

SERVICES = web.AppKey("services", Services)
PIPELINE = web.AppKey("pipeline", Pipeline)
BACKGROUND_INTERVAL = 30.0  # seconds between sweeps: payment expiry, reminders, broadcast jobs
SWEEP_LOCK_TTL = 300.0  # longer than any sweep round; a crashed worker's lock frees itself


async def healthz(request: web.Request) -> web.Response:
    """Up or not, for a load balancer: the store's error (file paths, hosts) goes to the log only."""
    try:
        await request.app[SERVICES].store.ping()
    except StoreError as exc:
        log_event(log, "health check: store unavailable", logging.WARNING, error=str(exc))
        return web.json_response({"status": "unavailable"}, status=503)
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text; with BOT_METRICS_TOKEN set, only for `Authorization: Bearer <token>`."""
    token = request.app[SERVICES].settings.metrics_token
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return web.Response(status=401, text="metrics token required",
                                headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return web.Response(text=request.app[PIPELINE].metrics.render(), content_type="text/plain")


def create_app(settings: Settings | None = None, services: Services | None = None, router: Any = None,
               background: bool = True, serving: str = "") -> web.Application:
    """Everything is built here, eagerly: a broken policy pack stops start-up with a clear error.
    `serving`: see `bot.services.open_store` ("sole" for `serve`, "workers" for each of `serve --workers`)."""
    settings = settings or (services.settings if services else Settings.from_env())
    services = services or build_services(settings, serving=serving)
    if router is None:
        from bot.components import build_router

        router = build_router(services)
    from bot.delivery import deliver, flush_pending

    pipeline = Pipeline(services, router, Metrics(), deliver=deliver, on_guardian_message=flush_pending)
    webhook = WeChatWebhook(pipeline, settings.wechat_token, settings.wechat_appid, settings.wechat_aes_key,
                            settings.timestamp_tolerance, settings.max_body_bytes)
    # client_max_size guards every route; the webhook checks its own, smaller limit first.
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app[SERVICES] = services
    app[PIPELINE] = pipeline
    app.router.add_get("/wechat", webhook.get)
    app.router.add_post("/wechat", webhook.post)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    _setup_pages(app, services, settings)
    if background:
        app.cleanup_ctx.append(_background_loop)
    app.on_shutdown.append(_drain)
    app.on_cleanup.append(_close_store)
    return app


def settle_heap(app: web.Application) -> None:
    """For a serving process: once the app is built, what start-up made (the NLU's dictionaries, rule packs,
    compiled patterns: about 270 000 objects) lives as long as the process. `gc.freeze` takes it out of the
    cycle collector's walks; otherwise every full collection walks it all, stopping the loop 50–100 ms
    every few thousand messages. Not for tests: objects frozen are never collected, and a test process
    builds many apps."""
    async def freeze(_app: web.Application) -> None:
        gc.collect()
        gc.freeze()

    app.on_startup.append(freeze)


def _setup_pages(app: web.Application, services: Services, settings: Settings) -> None:
    from bot.web.admin import setup_admin
    from bot.web.payment_routes import setup_payment_routes

    if settings.simulator:
        from bot.web.simulator import setup_simulator

        setup_simulator(app, services)
    setup_payment_routes(app, services)
    setup_admin(app, services)


async def run_sweeps(services: Services) -> list[str]:
    """One round of the periodic sweeps; returns the names of those this process ran. Each sweep runs
    under a store lock, so of several workers sharing a store only one runs a given sweep at a time
    (two retrying the same held message would send it twice); each survives the others' failures."""
    ran = []
    for sweep in list(services.extras.get("sweeps", [])):  # subsystems add theirs at start-up
        name = f"sweep:{sweep.__module__}.{sweep.__qualname__}"
        try:
            token = await services.store.acquire_lock(name, SWEEP_LOCK_TTL)
            if token is None:
                continue  # another worker is on it
            try:
                await sweep(services)
                ran.append(name)
            finally:
                await services.store.release_lock(name, token)
        except Exception:
            log.exception("background sweep failed")
    return ran


async def _background_loop(app: web.Application):
    """Periodic sweeps in-process (the embedded default)."""
    services = app[SERVICES]

    async def loop() -> None:
        while True:
            await run_sweeps(services)
            await asyncio.sleep(BACKGROUND_INTERVAL)

    task = asyncio.ensure_future(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _drain(app: web.Application) -> None:
    await app[PIPELINE].drain(timeout=5.0)


async def _close_store(app: web.Application) -> None:
    with contextlib.suppress(StoreError):
        await app[SERVICES].store.close()
