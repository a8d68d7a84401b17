"""The fake WeChat API (tests/fakes/wechat_api.py) as its own process, for benchmarks: no rate
limit, no quota; GET /healthz answers when it is ready.

    .venv/bin/python -m bench.fake_api_server --port 8097 --appid wxbenchbroadcast --secret bench-secret
"""
from __future__ import annotations

import argparse

from aiohttp import web

from tests.fakes.wechat_api import FakeWeChatAPI


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8097)
    parser.add_argument("--appid", default="wxbenchbroadcast")
    parser.add_argument("--secret", default="bench-secret")
    args = parser.parse_args()
    fake = FakeWeChatAPI(appid=args.appid, secret=args.secret)
    app = fake.make_app()

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "messages": len(fake.messages)})

    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
