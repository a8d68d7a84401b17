"""Render passive replies as WeChat XML."""
from __future__ import annotations

import re
import time

from integrations.wechat.safexml import xml_chars

TEXT_LIMIT_BYTES = 2000  # WeChat truncates text replies past about 2 048 bytes


def _cdata(value: str) -> str:
    value = xml_chars(value)
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


_MENU_LINK = re.compile(r'<a href="weixin://bizmsgmenu\?[^"]*">(.*?)</a>', re.S)


def clip_text(text: str, limit: int = TEXT_LIMIT_BYTES) -> str:
    """Keep a reply under WeChat's byte limit without cutting a character (or a link tag) in half.
    Tappable menu links double each option's bytes: a long list first loses the links (the
    guardian can still reply with the number) before anything is cut."""
    if len(text.encode("utf-8")) <= limit:
        return text
    text = _MENU_LINK.sub(r"\1", text)
    if len(text.encode("utf-8")) <= limit:
        return text
    suffix = "…"
    budget = limit - len(suffix.encode("utf-8"))
    out = text.encode("utf-8")[:budget].decode("utf-8", "ignore")
    if out.rfind("<a ") > out.rfind("</a>"):
        out = out[: out.rfind("<a ")]
    return out + suffix


def render_text(to_user: str, from_user: str, text: str, now: int | None = None) -> str:
    now = now or int(time.time())
    return (
        f"<xml><ToUserName>{_cdata(to_user)}</ToUserName><FromUserName>{_cdata(from_user)}</FromUserName>"
        f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(clip_text(xml_chars(text)))}</Content></xml>"
    )


def render_article(to_user: str, from_user: str, title: str, description: str, url: str, image: str = "",
                   now: int | None = None) -> str:
    now = now or int(time.time())
    return (
        f"<xml><ToUserName>{_cdata(to_user)}</ToUserName><FromUserName>{_cdata(from_user)}</FromUserName>"
        f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[news]]></MsgType><ArticleCount>1</ArticleCount>"
        f"<Articles><item><Title>{_cdata(title)}</Title><Description>{_cdata(description)}</Description>"
        f"<PicUrl>{_cdata(image)}</PicUrl><Url>{_cdata(url)}</Url></item></Articles></xml>"
    )
