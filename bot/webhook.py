"""The `/wechat` endpoint: URL check, signature and replay checks, 安全模式, parsing, XML replies."""
from __future__ import annotations

import logging
import secrets
import time

from aiohttp import web
from wechatpy import parse_message

from bot.pipeline import Pipeline
from bot.turn import Incoming, Reply
from integrations.wechat.crypto import DecryptError, MessageCrypto
from integrations.wechat.reply import render_article, render_text
from integrations.wechat.safexml import XmlRejected, parse_flat_xml  # noqa: F401
from integrations.wechat.signature import verify

log = logging.getLogger("bot.webhook")


def to_incoming(xml: str) -> Incoming:
    """Map a parsed wechatpy message or event to the bot's own `Incoming`."""
    msg = parse_message(xml)
    kind = (msg.type or "other").lower()
    common = dict(user_id=msg.source or "", account=msg.target or "", create_time=int(msg.time or 0),
                  msg_id=str(getattr(msg, "id", "") or ""))
    if kind == "text":
        return Incoming(kind="text", text=msg.content or "", **common)
    if kind == "voice":
        return Incoming(kind="voice", text=(msg.recognition or "").strip(), media_id=msg.media_id or "", **common)
    if kind == "image":
        return Incoming(kind="image", media_id=msg.media_id or "", pic_url=msg.image or "", **common)
    if kind == "event":
        event = (msg.event or "").lower()
        key = getattr(msg, "key", None) or getattr(msg, "scene_id", None) or getattr(msg, "url", None) or ""
        if event == "subscribe_scan":  # wechatpy already stripped the qrscene_ prefix
            event = "subscribe"
        common["msg_id"] = ""  # events are deduplicated by user + CreateTime
        return Incoming(kind="event", event=event, event_key=str(key), **common)
    if kind in ("location", "link", "video", "shortvideo", "file"):
        return Incoming(kind=kind, **common)
    return Incoming(kind="other", **common)


class WeChatWebhook:
    def __init__(self, pipeline: Pipeline, token: str, appid: str, aes_key: str = "",
                 timestamp_tolerance: int = 300, max_body_bytes: int = 64 * 1024) -> None:
        self.pipeline = pipeline
        self.token = token
        self.crypto = MessageCrypto(token, aes_key, appid) if aes_key else None
        self.tolerance = timestamp_tolerance
        self.max_body = max_body_bytes
        self.metrics = pipeline.metrics

    def _reject(self, status: int, reason: str) -> web.Response:
        self.metrics.http_rejections[str(status)] += 1
        log.warning("rejected request", extra={"fields": {"status": status, "reason": reason}})
        return web.Response(status=status, text=reason)

    def _fresh(self, timestamp: str) -> bool:
        try:
            return abs(time.time() - int(timestamp)) <= self.tolerance
        except ValueError:
            return False

    async def get(self, request: web.Request) -> web.Response:
        """WeChat's URL check: echo `echostr` when the signature is ours."""
        q = request.query
        if not verify(q.get("signature", ""), self.token, q.get("timestamp", ""), q.get("nonce", "")):
            return self._reject(403, "invalid signature")
        echostr = q.get("echostr", "")
        if self.crypto and q.get("msg_signature"):
            if not verify(q["msg_signature"], self.token, q.get("timestamp", ""), q.get("nonce", ""), echostr):
                return self._reject(403, "invalid signature")
            try:
                echostr = self.crypto.decrypt_echo(echostr)
            except DecryptError:
                return self._reject(400, "undecryptable echostr")
        return web.Response(text=echostr)

    async def post(self, request: web.Request) -> web.Response:
        q = request.query
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        if not verify(q.get("signature", ""), self.token, timestamp, nonce):
            return self._reject(403, "invalid signature")
        if not self._fresh(timestamp):
            return self._reject(403, "stale timestamp")
        if request.content_length is not None and request.content_length > self.max_body:
            return self._reject(413, "body too large")
        body = await request.content.read(self.max_body + 1)
        if len(body) > self.max_body:
            return self._reject(413, "body too large")
        try:
            if self.crypto:
                xml = self.crypto.decrypt(body, q.get("msg_signature", ""), timestamp, nonce)
            else:
                xml = body.decode("utf-8")
            fields = parse_flat_xml(xml)  # refuses DTDs, entities and malformed XML before wechatpy sees it
            if not fields.get("FromUserName") or not fields.get("MsgType"):
                raise XmlRejected("missing FromUserName or MsgType")
            incoming = to_incoming(xml)
        except DecryptError:
            return self._reject(403, "invalid msg_signature")
        except Exception as exc:  # XmlRejected, bad UTF-8, fields wechatpy cannot map: all the sender's fault
            return self._reject(400, f"bad xml: {type(exc).__name__}")
        reply = await self.pipeline.handle(incoming)
        return self._render(incoming, reply, nonce)

    def _render(self, incoming: Incoming, reply: Reply | None, nonce: str) -> web.Response:
        if reply is None or (not reply.text and reply.article is None):
            return web.Response(text="success")
        if reply.article is not None:
            a = reply.article
            xml = render_article(incoming.user_id, incoming.account, a.title, a.description, a.url, a.image)
        else:
            xml = render_text(incoming.user_id, incoming.account, reply.text)
        if self.crypto:
            xml = self.crypto.encrypt(xml, nonce or secrets.token_hex(5))
        return web.Response(text=xml, content_type="application/xml")
