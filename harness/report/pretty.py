"""Bodies and values as a reader wants them: XML indented, JSON indented, long text cut with a note."""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

from harness.sep.safexml import XMLRejected, parse_xml

# The report shows this much of a body; the raw evidence file keeps all that was recorded.
SHOWN_BODY = 64 * 1024


def pretty_text(text: str) -> str:
    """XML or JSON text indented when it parses; anything else as it came."""
    stripped = text.lstrip()
    if stripped.startswith("<"):
        try:
            root = parse_xml(text.encode("utf-8"))
        except XMLRejected:
            return text
        return etree.tostring(root, pretty_print=True, encoding="unicode").rstrip("\n")
    if stripped.startswith(("{", "[")):
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            return text
    return text


def pretty_body(body: dict[str, Any] | None) -> str:
    """A recorded body (text or base64) ready to show, cut at SHOWN_BODY characters."""
    if not body or not body.get("length"):
        return ""
    if "text" not in body:
        shown = body.get("base64", "")
        prefix = f"[{body['length']} bytes, not UTF-8; base64]\n"
    else:
        shown = pretty_text(body["text"])
        prefix = ""
    notes = []
    if len(shown) > SHOWN_BODY:
        shown = shown[:SHOWN_BODY]
        notes.append(f"[shown: the first {SHOWN_BODY} characters; the evidence file has the rest]")
    if body.get("truncated"):
        notes.append(f"[the DUT sent {body['length']} bytes; the record keeps the first part]")
    return prefix + shown + "".join("\n" + note for note in notes)


def pretty_value(value: Any) -> str:
    """A JSON-ready value (expected or observed resource) as indented JSON."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=False)
