"""Reject hostile XML before any parser that expands entities sees it.

WeChat never sends a DTD, entities or processing instructions; anything like that (billion laughs,
external entities / XXE) or malformed XML is refused outright.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring


class XmlRejected(ValueError):
    """The body is not the plain XML WeChat sends."""


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
