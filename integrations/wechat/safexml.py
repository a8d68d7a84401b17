"""Reject hostile XML before any parser that expands entities sees it.

WeChat never sends a DTD, entities or processing instructions; anything like that (billion laughs,
external entities / XXE) or malformed XML is refused outright.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring


class XmlRejected(ValueError):
    """The body is not the plain XML WeChat sends."""


# Characters XML 1.0 cannot carry, not even in CDATA: control characters, U+FFFE/U+FFFF, and lone
# surrogates (which cannot even be encoded as UTF-8).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_chars(text: str) -> str:
    """`text` without the characters XML cannot carry: what we put into XML we build ourselves (replies,
    the simulator's messages), where text typed anywhere could otherwise make the whole document
    unreadable — or fail to encode."""
    return _NOT_XML.sub("", text)


def parse_flat_xml(body: bytes | str) -> dict[str, str]:
    """Parse `<xml><Field>value</Field>…</xml>` into a dict of its direct children's text."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ET.ParseError, ValueError, UnicodeError) as exc:
        raise XmlRejected(str(exc) or type(exc).__name__) from exc
    if root.tag != "xml":
        raise XmlRejected("root element is not <xml>")
    fields: dict[str, str] = {}
    for child in root:
        # Nested elements (e.g. ScanCodeInfo) are kept as their inner text only.
        fields[child.tag] = (child.text or "").strip() if len(child) == 0 else "".join(child.itertext()).strip()
    return fields
