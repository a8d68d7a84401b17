"""The bare baseline the bot is measured against: aiohttp + wechatpy, nothing else.

It verifies the signature, parses the XML with wechatpy and echoes the text back as a WeChat text
reply — the least any WeChat webhook on this stack must do. No store, no session, no logging.

    python -m bench.baseline_server --port 8099 --token bench-token
"""
from __future__ import annotations

import argparse

from aiohttp import web
from wechatpy import parse_message
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature


def make_app(token: str) -> web.Application:
    async def wechat(request: web.Request) -> web.Response:
        q = request.query
        try:
            check_signature(token, q.get("signature", ""), q.get("timestamp", ""), q.get("nonce", ""))
        except InvalidSignatureException:
            return web.Response(status=403, text="invalid signature")
        try:
            msg = parse_message(await request.text())
        except Exception:
            return web.Response(status=400, text="bad xml")
        text = getattr(msg, "content", "") or msg.type
        return web.Response(text=TextReply(message=msg, content=text).render(), content_type="application/xml")

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/wechat", wechat)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="aiohttp + wechatpy echo server (benchmark baseline)")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--token", default="bench-token")
    args = parser.parse_args()
    web.run_app(make_app(args.token), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
