"""Test helper: talk to a running app exactly as WeChat's servers do (signed, optionally encrypted XML)."""
from __future__ import annotations

import itertools
import time

from bot.web.simulator import build_message_xml, read_reply, signed_query
from integrations.wechat.crypto import MessageCrypto

_ids = itertools.count(int(time.time() * 1000))


class WeChatSender:
    def __init__(self, client, token: str, aes: MessageCrypto | None = None) -> None:
        self.client, self.token, self.aes = client, token, aes

    async def post_xml(self, xml: str, **overrides):
        params, body = signed_query(self.token, xml, self.aes)
        params.update(overrides)
        return await self.client.post("/wechat", params=params, data=body.encode("utf-8"))

    async def say(self, user: str, text: str, msg_id: int | None = None) -> str:
        resp = await self.post_xml(build_message_xml(user, text=text, msg_id=msg_id or next(_ids)))
        assert resp.status == 200, await resp.text()
        return read_reply(await resp.text(), self.aes)

    async def event(self, user: str, event: str, key: str = "") -> str:
        resp = await self.post_xml(build_message_xml(user, event=event, key=key, create_time=next(_ids)))
        assert resp.status == 200, await resp.text()
        return read_reply(await resp.text(), self.aes)

    async def image(self, user: str, url: str = "https://example.invalid/photo.jpg") -> str:
        resp = await self.post_xml(build_message_xml(user, kind="image", key=url, msg_id=next(_ids)))
        assert resp.status == 200, await resp.text()
        return read_reply(await resp.text(), self.aes)


def next_msg_id() -> int:
    return next(_ids)


async def in_process_bot(aiohttp_client, tmp_path, now: str):
    """The whole app (webhook and admin API, simulator off) on an embedded SQLite store with WeChat token
    "t", admin token "a" and the bot's clock pinned at `now`: (client, sender, services)."""
    from bot.app import create_app
    from bot.clock import Clock
    from bot.config import Settings
    from bot.services import build_services

    settings = Settings(wechat_token="t", data_dir=tmp_path, store_url=f"sqlite:///{tmp_path}/bot.db",
                        admin_token="a", simulator=False)
    services = build_services(settings, clock=Clock.from_iso(now))
    client = await aiohttp_client(create_app(settings, services, background=False))
    return client, WeChatSender(client, "t"), services
