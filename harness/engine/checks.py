"""Checking one response against a step's expectation; produces mismatches, findings and the view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.cases.matchers import Mismatch, match
from harness.cases.model import ExpectSpec
from harness.sep import MEDIA_TYPE_XML
from harness.sep.safexml import XMLRejected, parse_xml
from harness.sep.view import resource_view
from harness.transport.base import Response


@dataclass
class ResponseCheck:
    """The outcome of checking one response."""

    mismatches: list[Mismatch] = field(default_factory=list)
    findings: list[Any] = field(default_factory=list)
    view: dict[str, Any] | None = None


def media_type(value: str | None) -> str | None:
    """The media type of a Content-Type value, lower-case, without parameters."""
    return value.split(";", 1)[0].strip().lower() if value else None


def _wants_xml(expect: ExpectSpec, response: Response, needs_view: bool) -> bool:
    if not response.body:
        return bool(expect.schema or expect.resource is not None or needs_view)
    return bool(expect.schema or expect.resource is not None or needs_view) or (
        media_type(response.header("content-type")) == MEDIA_TYPE_XML
    )


def check_response(
    expect: ExpectSpec, response: Response, schema: Any, *, needs_view: bool, max_body: int
) -> ResponseCheck:
    """Compare a response with an expectation (already substituted) and validate its body."""
    result = ResponseCheck()
    if expect.status and response.status not in expect.status:
        wanted = " or ".join(str(s) for s in expect.status)
        result.mismatches.append(Mismatch("status", wanted, str(response.status)))
    if expect.content_type:
        seen = media_type(response.header("content-type"))
        if seen != media_type(expect.content_type):
            shown = repr(seen) if seen else "absent"
            result.mismatches.append(Mismatch("headers.Content-Type", expect.content_type, shown))
    for name, spec in expect.headers.items():
        values = response.header_values(name)
        seen_header: Any = None if not values else (values[0] if len(values) == 1 else ", ".join(values))
        result.mismatches.extend(match(spec, seen_header, f"headers.{name}"))
    if expect.body == "empty" and response.body:
        result.mismatches.append(Mismatch("body", "an empty body", f"{len(response.body)} bytes"))
    if expect.body == "present" and not response.body:
        result.mismatches.append(Mismatch("body", "a body", "an empty body"))
    if not _wants_xml(expect, response, needs_view):
        return result
    if not response.body:
        result.mismatches.append(Mismatch("body", f"a {expect.schema or '2030.5'} resource", "an empty body"))
        return result
    try:
        root = parse_xml(response.body, max_bytes=max_body)
    except XMLRejected as exc:
        result.mismatches.append(Mismatch("body", "a well-formed, safe 2030.5 XML resource", str(exc)))
        return result
    result.findings = list(schema.validate(root, expected_root=expect.schema))
    result.view = resource_view(root)
    if expect.resource is not None:
        result.mismatches.extend(match(expect.resource, result.view, "resource"))
    return result
