"""The chat simulator: a phone-like page that talks to `/wechat` with real signed WeChat XML.

The browser cannot hold the WeChat token, so it posts to `/simulator/send`, which builds the XML a
WeChat server would send, signs it (and encrypts it in 安全模式) and POSTs it over HTTP to this same
server's `/wechat`: every simulated message takes the real webhook path.
"""
from __future__ import annotations

import itertools
import secrets
import time
from pathlib import Path
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web

from bot.services import Services
from bot.web.own_origin import own_origin
from integrations.wechat.crypto import MessageCrypto
from integrations.wechat.safexml import parse_flat_xml, xml_chars
from integrations.wechat.signature import sign

PAGE = Path(__file__).parent / "static" / "simulator.html"
ACCOUNT = "gh_simulator"
MAX_TEXT = 2000


def build_message_xml(user: str, text: str = "", event: str = "", key: str = "", msg_id: int | None = None,
                      create_time: int | None = None, kind: str = "") -> str:
    """The XML WeChat posts for a text message, an image, or an event (subscribe/CLICK/SCAN)."""
    now = create_time or int(time.time())
    head = (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{escape(user)}]]>"
            f"</FromUserName><CreateTime>{now}</CreateTime>")
    if event:
        return head + (f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{escape(event)}]]></Event>"
                       f"<EventKey><![CDATA[{escape(key)}]]></EventKey></xml>")
    if kind == "image":
        return head + (f"<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[{escape(key)}]]></PicUrl>"
                       f"<MediaId><![CDATA[sim-{now}]]></MediaId><MsgId>{msg_id}</MsgId></xml>")
    body = escape(text).replace("]]>", "]]&gt;")
    return head + f"<MsgType><![CDATA[text]]></MsgType><Content>{body}</Content><MsgId>{msg_id}</MsgId></xml>"


def signed_query(token: str, body: str, aes: MessageCrypto | None) -> tuple[dict[str, str], str]:
    timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
    params = {"timestamp": timestamp, "nonce": nonce, "signature": sign(token, timestamp, nonce)}
    if aes is not None:
        envelope = parse_flat_xml(aes.encrypt(body, nonce, timestamp))
        params.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
        body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
    return params, body


def read_reply(xml: str, aes: MessageCrypto | None) -> str:
    if not xml or xml == "success":
        return ""
    if aes is not None:
        outer = parse_flat_xml(xml)
        xml = aes.decrypt_echo(outer["Encrypt"])
    fields = parse_flat_xml(xml)
    if fields.get("MsgType") == "news":
        return fields.get("Articles", "")
    return fields.get("Content", "")


def setup_simulator(app: web.Application, services: Services) -> None:
    settings = services.settings
    aes = MessageCrypto(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid) \
        if settings.wechat_aes_key else None
    counter = itertools.count(int(time.time() * 1000))

    async def page(request: web.Request) -> web.Response:
        return web.FileResponse(PAGE)

    async def send(request: web.Request) -> web.Response:
        # Only JSON: a cross-site form can post text/plain without a preflight, never application/json.
        if request.content_type != "application/json":
            return web.json_response({"error": "请求格式错误：只接受 application/json"}, status=415)
        try:
            data = await request.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return web.json_response({"error": "请求格式错误"}, status=400)
        # What a WeChat client cannot send (control characters, lone surrogates) never reaches the webhook.
        field = lambda name: xml_chars(str(data.get(name) or ""))  # noqa: E731
        user = field("user")[:64]
        if not user:
            return web.json_response({"error": "缺少 user"}, status=400)
        xml = build_message_xml(user, text=field("text")[:MAX_TEXT], event=field("event"), key=field("key"),
                                msg_id=next(counter), kind=field("kind"))
        params, body = signed_query(settings.wechat_token, xml, aes)
        url = own_origin(request) + "/wechat"
        async with aiohttp.ClientSession() as http:
            async with http.post(url, params=params, data=body.encode("utf-8"),
                                 timeout=aiohttp.ClientTimeout(total=10)) as resp:
                raw = await resp.text()
                if resp.status != 200:
                    return web.json_response({"error": f"webhook {resp.status}: {raw}"}, status=502)
        return web.json_response({"reply": read_reply(raw, aes)})

    app.router.add_get("/", page)
    app.router.add_post("/simulator/send", send)
