"""The `/wechat` endpoint: URL check, signature and replay checks, 安全模式, parsing, XML replies."""
from __future__ import annotations

import logging
import secrets
import time

from aiohttp import web
from bot.logs import LogThrottle, log_throttled
from bot.pipeline import Pipeline
from bot.turn import Incoming, Reply
from bot.web.body import BodyTooLarge, read_body
from integrations.wechat.crypto import DecryptError, MessageCrypto
from integrations.wechat.reply import render_article, render_text
from integrations.wechat.safexml import XmlRejected, parse_flat_xml
from integrations.wechat.signature import verify

log = logging.getLogger("bot.webhook")


_MESSAGE_KINDS = ("text", "voice", "image", "location", "link", "video", "shortvideo", "file")


def to_incoming(fields: dict[str, str]) -> Incoming:
    """Map a message's fields, as `parse_flat_xml` read them, to the bot's own `Incoming`: the body is
    parsed once, by the parser that refuses hostile XML. The field names are WeChat's (and wechatpy's)."""
    kind = (fields.get("MsgType") or "").lower()
    msg_id = fields.get("MsgId") or ""
    common = dict(user_id=fields.get("FromUserName") or "", account=fields.get("ToUserName") or "",
                  create_time=int(fields.get("CreateTime") or 0),  # not a number: the sender's fault (400)
                  msg_id=str(int(msg_id)) if msg_id else "")
    if kind == "text":
        return Incoming(kind="text", text=fields.get("Content") or "", **common)
    if kind == "voice":
        return Incoming(kind="voice", text=(fields.get("Recognition") or "").strip(),
                        media_id=fields.get("MediaId") or "", **common)
    if kind == "image":
        return Incoming(kind="image", media_id=fields.get("MediaId") or "", pic_url=fields.get("PicUrl") or "",
                        **common)
    if kind == "event":
        event = (fields.get("Event") or "").lower()
        key = fields.get("EventKey") or ""  # CLICK's key, VIEW's url, SCAN's scene
        if event == "subscribe" and key.startswith("qrscene_"):  # followed by scanning a parameter QR code
            key = key[len("qrscene_"):]
        common["msg_id"] = ""  # events are deduplicated by user + CreateTime
        return Incoming(kind="event", event=event, event_key=key, **common)
    return Incoming(kind=kind if kind in _MESSAGE_KINDS else "other", **common)


class WeChatWebhook:
    def __init__(self, pipeline: Pipeline, token: str, appid: str, aes_key: str = "",
                 timestamp_tolerance: int = 300, max_body_bytes: int = 64 * 1024) -> None:
        self.pipeline = pipeline
        self.token = token
        self.crypto = MessageCrypto(token, aes_key, appid) if aes_key else None
        self.tolerance = timestamp_tolerance
        self.max_body = max_body_bytes
        self.metrics = pipeline.metrics
        self._reject_log = LogThrottle()

    def _reject(self, status: int, reason: str) -> web.Response:
        self.metrics.http_rejections[str(status)] += 1
        log_throttled(log, self._reject_log, "rejected request", status=status, reason=reason)
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
        try:
            body = await read_body(request, self.max_body)
        except BodyTooLarge:
            return self._reject(413, "body too large")
        try:
            # Plain bytes go to expat as they came: decoding them first only to have them encoded again
            # cost a copy each way (expat refuses bad UTF-8 itself).
            xml = self.crypto.decrypt(body, q.get("msg_signature", ""), timestamp, nonce) if self.crypto else body
            fields = parse_flat_xml(xml)  # refuses DTDs, entities and malformed XML
            if not fields.get("FromUserName") or not fields.get("MsgType"):
                raise XmlRejected("missing FromUserName or MsgType")
            incoming = to_incoming(fields)
        except DecryptError:
            return self._reject(403, "invalid msg_signature")
        except Exception as exc:  # XmlRejected, bad UTF-8, a field that is not a number: the sender's fault
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
