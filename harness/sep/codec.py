"""The body codec seam: how 2030.5 resources are read from and written to bytes, by media type.

IEEE 2030.5 carries its resources as XML (application/sep+xml) and EXI; other transports (CSIP-AUS over
NATS, JSON mappings) carry another representation of the same resources. The engine judges the element tree
a codec reads, so a new representation is a new codec, not a new engine. XML is the one built in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lxml import etree

from harness.sep import MEDIA_TYPE_XML
from harness.sep.safexml import DEFAULT_MAX_BYTES, parse_xml


class Codec(Protocol):
    """Reads and writes 2030.5 resources in one representation."""

    media_type: str

    def parse(self, body: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
        """The resource in body; raises harness.sep.safexml.XMLRejected (or a subclass) for a body refused."""
        ...

    def serialize(self, root: etree._Element) -> bytes:
        """The resource as bytes of this representation."""
        ...


@dataclass(frozen=True)
class XmlCodec:
    """application/sep+xml: hardened parsing (harness.sep.safexml), UTF-8 with an XML declaration."""

    media_type: str = MEDIA_TYPE_XML

    def parse(self, body: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
        """Parse with DOCTYPE, entities and network access refused."""
        return parse_xml(body, max_bytes=max_bytes)

    def serialize(self, root: etree._Element) -> bytes:
        """UTF-8 XML with a declaration."""
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


XML = XmlCodec()
_CODECS: dict[str, Codec] = {MEDIA_TYPE_XML: XML}


def register_codec(codec: Codec) -> None:
    """Make codec the one for its media type."""
    _CODECS[codec.media_type.lower()] = codec


def codec_for(media_type: str | None) -> Codec | None:
    """The codec of a Content-Type value (parameters ignored), or None when none is known."""
    if not media_type:
        return None
    return _CODECS.get(media_type.split(";", 1)[0].strip().lower())
