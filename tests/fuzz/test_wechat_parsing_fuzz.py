"""Property tests on the XML path: whatever arrives, parsing either yields a message or a clean
rejection (XmlRejected / ValueError), and rendering a reply always gives well-formed, bounded XML."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from bot.web.simulator import build_message_xml
from bot.webhook import to_incoming
from integrations.wechat.reply import TEXT_LIMIT_BYTES, clip_text, render_text
from integrations.wechat.safexml import XmlRejected, parse_flat_xml

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=3000)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_escape_as_unexpected_errors(body):
    try:
        parse_flat_xml(body)
    except XmlRejected:
        pass


@settings(max_examples=300, deadline=None)
@given(texts, texts)
def test_any_text_round_trips_through_message_xml(user, text):
    user = user[:60] or "u"
    xml = build_message_xml(user, text=text, msg_id=1)
    try:
        fields = parse_flat_xml(xml)
    except XmlRejected:
        # Only characters XML 1.0 cannot carry (control characters) may be refused.
        assert any(ord(c) < 0x20 and c not in "\t\n\r" or c in "\ufffe\uffff" for c in user + text)
        return
    incoming = to_incoming(fields)
    assert incoming.kind == "text"
    assert fields["MsgType"] == "text"


@settings(max_examples=300, deadline=None)
@given(texts)
def test_rendered_reply_is_well_formed_and_under_the_byte_limit(text):
    text = "".join(c for c in text if c >= " " or c in "\n\t")  # XML parsers normalise \r, so leave it out
    clipped = clip_text(text)
    assert len(clipped.encode("utf-8")) <= TEXT_LIMIT_BYTES
    fields = parse_flat_xml(render_text("openid", "gh_x", text))
    assert fields["Content"] == clipped.strip()


def test_a_long_option_list_keeps_every_option_by_dropping_the_links():
    options = "\n".join(f'{i}. <a href="weixin://bizmsgmenu?msgmenucontent=选项{i}很长很长很长很长很长很长很长很长&msgmenuid={i}">'
                        f"选项{i}很长很长很长很长很长很长很长很长</a>" for i in range(1, 16))
    clipped = clip_text("请选择：\n" + options)
    assert "15. 选项15" in clipped and "<a " not in clipped and not clipped.endswith("…")
    short = '1. <a href="weixin://bizmsgmenu?msgmenucontent=是&msgmenuid=1">是</a>'
    assert clip_text(short) == short  # links kept when they fit
