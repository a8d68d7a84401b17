"""The real app (webhook, pipeline, store) with a router that counts turns and takes SLOW_TURN_SECONDS
over each: a turn that a kill -9 can interrupt half-way. Configured like `python -m bot serve`.

    SLOW_TURN_SECONDS=30 BOT_STORE=sqlite:///… python -m tests.faults.slow_server --port 8099
"""
from __future__ import annotations

import argparse
import asyncio
import os

from bench.pipeline_server import CountingRouter
from bot.turn import Reply, Turn


class SlowCountingRouter(CountingRouter):
    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def respond(self, turn: Turn) -> Reply:
        await asyncio.sleep(self.delay)
        return await super().respond(turn)


def main() -> None:
    from aiohttp import web

    from bot.app import create_app
    from bot.config import Settings
    from bot.logs import setup_logging

    parser = argparse.ArgumentParser(description="the app with a slow counting router")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    setup_logging()
    router = SlowCountingRouter(float(os.environ.get("SLOW_TURN_SECONDS") or 0))
    web.run_app(create_app(Settings.from_env(), router=router, background=False), host="127.0.0.1", port=args.port,
                print=None, access_log=None)


if __name__ == "__main__":
    main()
