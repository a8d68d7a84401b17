"""The bot's HTTP stack and exactly-once pipeline with a trivial router: isolates what the webhook,
dedup, locks and session storage cost, apart from the conversation (rules, NLU, dialogs).

Configured like `python -m bot serve` (same environment variables, same JSON logging):

    BOT_STORE=redis://127.0.0.1:6390/0 WECHAT_TOKEN=bench-token python -m bench.pipeline_server --port 8098
"""
from __future__ import annotations

import argparse

from bot.turn import Reply, Turn


class CountingRouter:
    """Counts the guardian's turns in the session and echoes: one session read and write per message."""

    async def respond(self, turn: Turn) -> Reply:
        count = turn.session.get("count", 0) + 1
        turn.session["count"] = count
        return Reply(text=f"第{count}条：{turn.incoming.text}")


def main() -> None:
    from aiohttp import web

    from bot.app import create_app
    from bot.config import Settings
    from bot.logs import setup_logging

    parser = argparse.ArgumentParser(description="webhook + pipeline with a counting router")
    parser.add_argument("--port", type=int, default=8098)
    args = parser.parse_args()
    setup_logging()
    app = create_app(Settings.from_env(), router=CountingRouter(), background=False, serving="sole")
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
