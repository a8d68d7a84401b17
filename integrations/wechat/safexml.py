"""The one parser of WeChat's request bodies: flat `<xml>` documents, hostile XML refused.

WeChat never sends a DTD or entities; a body with a DTD (billion laughs, external entities / XXE), an
undefined entity reference or malformed XML is refused outright. The parser is expat with our own
callbacks, called once per message: ElementTree's tree building (behind defusedxml, which guarded
the same way) cost about ten times as much for these few fields.
"""
from __future__ import annotations

import re
from xml.parsers import expat


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
    """Parse `<xml><Field>value</Field>…</xml>` into a dict of its direct children's text; a nested
    element (e.g. ScanCodeInfo) gives its field all the text inside it."""
    fields = _FlatFields()
    parser = expat.ParserCreate()
    parser.buffer_text = True  # one call per run of text, not per line or CDATA piece
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = parser.UnparsedEntityDeclHandler = _refuse_entity
    parser.ExternalEntityRefHandler = _refuse_entity
    parser.StartElementHandler = fields.start
    parser.EndElementHandler = fields.end
    parser.CharacterDataHandler = fields.text
    try:
        parser.Parse(body.encode("utf-8") if isinstance(body, str) else body, True)
    except XmlRejected:  # from our handlers: a DTD or an entity
        raise
    except (expat.ExpatError, ValueError, LookupError) as exc:  # LookupError: an unknown encoding declared
        raise XmlRejected(str(exc) or type(exc).__name__) from exc
    if fields.root != "xml":
        raise XmlRejected("root element is not <xml>")
    return fields.values


def _refuse_dtd(*_args: object) -> None:
    raise XmlRejected("DTD forbidden")


def _refuse_entity(*_args: object) -> None:
    raise XmlRejected("entity declarations and external entities forbidden")


class _FlatFields:
    """expat callbacks collecting the root's direct children's text (a child's own tail and the root's
    loose text are not part of any field)."""
    __slots__ = ("root", "values", "_depth", "_field", "_parts")

    def __init__(self) -> None:
        self.root: str | None = None
        self.values: dict[str, str] = {}
        self._depth = 0
        self._field = ""
        self._parts: list[str] = []

    def start(self, name: str, _attributes: dict) -> None:
        self._depth += 1
        if self._depth == 1:
            self.root = name
        elif self._depth == 2:
            self._field, self._parts = name, []

    def text(self, data: str) -> None:
        if self._depth >= 2:
            self._parts.append(data)

    def end(self, _name: str) -> None:
        if self._depth == 2:
            self.values[self._field] = "".join(self._parts).strip()
        self._depth -= 1
