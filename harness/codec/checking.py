"""Judging a JSON answer with the checks written for XML: the engine's side of --encoding json.

A response in CUPID's JSON (``application/sep+json``) is converted to the 2030.5 XML it stands for
(harness.codec.cupid_json); the checks then judge that XML exactly as they judge an XML answer, and every
finding is moved to the JSON member it came from (a JSON pointer). The conversion's own findings (unknown or
pre-2018 members, wrong JSON types) are added. A case's ``content_type: application/sep+xml`` is met by
``application/sep+json`` under this encoding: the same resource in the run's representation.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lxml import etree

from harness.codec.cupid_json import MEDIA_TYPE_JSON, CupidJsonCodec, _nearest, json_to_xml
from harness.sep import MEDIA_TYPE_XML
from harness.sep.findings import Finding
from harness.transport.base import Response


@dataclasses.dataclass
class Decoded:
    """The response the checks judge, the conversion's findings, and XML path -> JSON pointer."""

    response: Response
    findings: list[Finding]
    pointers: dict[str, str]


def for_checks(response: Response, codec: Any, expected_root: str | None) -> Decoded:
    """The XML view of a JSON response under a JSON codec; any other response as it is."""
    content_type = (response.header("content-type") or "").split(";", 1)[0].strip().lower()
    if not isinstance(codec, CupidJsonCodec) or content_type != MEDIA_TYPE_JSON:
        return Decoded(response, [], {})
    headers = [(k, MEDIA_TYPE_XML if k.lower() == "content-type" else v) for k, v in response.headers]
    if not response.body:
        return Decoded(dataclasses.replace(response, headers=headers), [], {})
    conversion = json_to_xml(response.body, codec.structure, expected_root)
    if conversion.result is None:
        # Left as JSON: the checks report the body as not parsing, with the conversion's reason added.
        return Decoded(response, conversion.findings, {})
    body = etree.tostring(conversion.result, encoding="UTF-8")
    return Decoded(dataclasses.replace(response, headers=headers, body=body), conversion.findings,
                   conversion.pointers)


def to_json_paths(findings: list[Finding], pointers: dict[str, str]) -> list[Finding]:
    """findings with their XML paths replaced by the JSON pointer of the member (the XML path kept in the text)."""
    if not pointers:
        return findings
    out = []
    for finding in findings:
        if finding.path and finding.path.startswith("/") and finding.path not in pointers.values():
            pointer = _nearest(pointers, finding.path)
            finding = dataclasses.replace(finding, path=pointer, message=f"{finding.message} (XML {finding.path})")
        out.append(finding)
    return out
