"""The webhook's XML parser: WeChat's flat bodies read exactly as ElementTree (behind defusedxml) read
them before, and hostile or malformed XML refused."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from hypothesis import given, settings, strategies as st

from integrations.wechat.safexml import XmlRejected, parse_flat_xml


def reference(body: bytes) -> dict[str, str] | None:
    """The parser this one replaced (None: refused). It let an unknown declared encoding escape as a
    LookupError (the webhook still answered 400); ours refuses it as XmlRejected."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ET.ParseError, ValueError, LookupError):
        return None
    if root.tag != "xml":
        return None
    return {child.tag: "".join(child.itertext()).strip() for child in root}


def ours(body: bytes) -> dict[str, str] | None:
    try:
        return parse_flat_xml(body)
    except XmlRejected:
        return None


TEXT_MESSAGE = ("<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o-1]]></FromUserName>"
                "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                "<Content><![CDATA[ 我要参保 <b>&amp; ]]></Content><MsgId>1234567890123456</MsgId></xml>")


def test_a_text_message():
    assert parse_flat_xml(TEXT_MESSAGE) == {"ToUserName": "gh_1", "FromUserName": "o-1", "CreateTime": "1700000000",
                                            "MsgType": "text", "Content": "我要参保 <b>&amp;", "MsgId": "1234567890123456"}


def test_nested_elements_give_their_field_all_the_text_inside():
    body = ("<xml>loose<Event>scancode_push</Event>tail<ScanCodeInfo><ScanType>qrcode</ScanType>"
            "<ScanResult>1</ScanResult>x</ScanCodeInfo><Empty/><Event>LAST</Event></xml>")
    fields = parse_flat_xml(body)
    assert fields == {"Event": "LAST", "ScanCodeInfo": "qrcode1x", "Empty": ""}
    assert fields == reference(body.encode())


@pytest.mark.parametrize("body", [
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><xml><A>&lol2;</A></xml>',
    '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><A>&xxe;</A></xml>',
    '<!DOCTYPE xml SYSTEM "http://example.com/x.dtd"><xml><A>1</A></xml>',
    "<!DOCTYPE xml><xml/>",
    "<xml><A>&undefined;</A></xml>",
    "<notxml><A>1</A></notxml>",
    "<xml><A>1</A></xml><xml/>",
    "<xml><A>1</xml>",
    "",
    "\x00",
    b"<xml><A>\xff\xfe</A></xml>",
    '<?xml version="1.0" encoding="no-such-encoding"?><xml/>',
])
def test_hostile_or_malformed_bodies_are_refused(body):
    with pytest.raises(XmlRejected):
        parse_flat_xml(body)
    assert reference(body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")) is None


def test_a_lone_surrogate_in_a_str_body_is_refused():
    with pytest.raises(XmlRejected):
        parse_flat_xml("<xml><A>\ud800</A></xml>")


_names = st.sampled_from(["xml", "A", "Content", "MsgType", "ScanCodeInfo", "x"])
_texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@st.composite
def documents(draw) -> bytes:
    """Mostly well-formed element trees with text, CDATA and entity references, sometimes cut short."""
    def element(depth: int) -> str:
        name = draw(_names)
        parts = []
        for _ in range(draw(st.integers(0, 3 if depth < 3 else 0))):
            parts.append(draw(st.one_of(
                _texts.map(lambda t: t.replace("&", "&amp;").replace("<", "&lt;")),
                _texts.map(lambda t: f"<![CDATA[{t.replace(']]>', '')}]]>"),
                st.sampled_from(["&amp;", "&lt;", "&#20013;", "&bogus;", "<?pi x?>", "<!-- c -->"]),
                st.just(None).map(lambda _: element(depth + 1)),
            )))
        return f"<{name}>{''.join(parts)}</{name}>"
    doc = draw(st.sampled_from(["", '<?xml version="1.0" encoding="UTF-8"?>'])) + element(0)
    data = doc.encode("utf-8", "surrogatepass")
    return data[:draw(st.integers(0, len(data)))] if draw(st.booleans()) else data


@settings(max_examples=400, deadline=None)
@given(documents())
def test_reads_every_body_as_the_replaced_parser_did(body):
    assert ours(body) == reference(body)
