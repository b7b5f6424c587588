"""Checking one response against a step's expectation; produces mismatches, findings and the view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.cases.matchers import Mismatch, match
from harness.cases.model import ExpectSpec, Step
from harness.results import FindingRecord
from harness.sep import MEDIA_TYPE_XML, NS
from harness.sep.safexml import XMLRejected, parse_xml
from harness.sep.schema import FAILURE, PARSE, WARNING, Finding
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


def _what_came_back(response: Response) -> str:
    """The status with what the body was, as the DUT sent it: "500 with Content-Type text/html (312 bytes)"."""
    content_type = response.header("content-type")
    seen = str(response.status)
    if response.body:
        seen += f" with Content-Type {content_type}" if content_type else " with no Content-Type"
        seen += f" ({len(response.body)} bytes)"
        if media_type(content_type) == MEDIA_TYPE_XML:
            reason = _error_reason(response.body)
            if reason is not None:
                seen += f": Error reasonCode {reason}"
    else:
        seen += " with no body"
    return seen


def _error_reason(body: bytes) -> str | None:
    """The reasonCode of a 2030.5 Error body, if that is what the body is."""
    try:
        root = parse_xml(body)
    except XMLRejected:
        return None
    if root.tag != f"{{{NS}}}Error":
        return None
    code = root.find(f"{{{NS}}}reasonCode")
    return (code.text or "").strip() if code is not None else None


def _header_mismatches(expect: ExpectSpec, response: Response) -> list[Mismatch]:
    out: list[Mismatch] = []
    if expect.content_type:
        seen = media_type(response.header("content-type"))
        if seen != media_type(expect.content_type):
            shown = repr(seen) if seen else "absent"
            out.append(Mismatch("headers.Content-Type", expect.content_type, shown))
    for name, spec in expect.headers.items():
        values = response.header_values(name)
        seen_header: Any = None if not values else (values[0] if len(values) == 1 else ", ".join(values))
        out.extend(match(spec, seen_header, f"headers.{name}"))
    return out


def advisories(should: ExpectSpec, response: Response, view: dict[str, Any] | None) -> list[Finding]:
    """A step's `should:` expectations as warning findings: what the standard asks that the procedure does not.

    Same shape as `expect:` (status, content type, headers, resource), judged against the same response;
    each mismatch is a finding of kind "match" and severity "warning", shown in the report, never failing.
    """
    mismatches: list[Mismatch] = []
    if should.status and response.status not in should.status:
        mismatches.append(Mismatch("status", " or ".join(map(str, should.status)), str(response.status)))
    mismatches.extend(_header_mismatches(should, response))
    if should.resource is not None:
        mismatches.extend(match(should.resource, view, "resource"))
    return [Finding(message=f"should: {m}", line=None, path=m.path, kind="match", severity=WARNING)
            for m in mismatches]


def check_response(
    expect: ExpectSpec, response: Response, schema: Any, *, needs_view: bool, max_body: int
) -> ResponseCheck:
    """Compare a response with an expectation (already substituted) and validate its body.

    A status other than the expected one is reported first, with what came back (content type, size, an
    Error's reasonCode); the body of such an answer is kept as evidence and not judged against the
    expected resource, so an HTML error page reads "status 500 with Content-Type text/html", not as a
    refused DOCTYPE.
    """
    result = ResponseCheck()
    if expect.status and response.status not in expect.status:
        wanted = " or ".join(str(s) for s in expect.status)
        result.mismatches.append(Mismatch("status", wanted, _what_came_back(response)))
        return result
    result.mismatches.extend(_header_mismatches(expect, response))
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
        result.findings.append(Finding(message=str(exc), line=None, path=None, kind=PARSE, severity=FAILURE))
        return result
    result.findings = list(schema.validate(root, expected_root=expect.schema))
    result.view = resource_view(root, schema.list_shape())
    if expect.resource is not None:
        result.mismatches.extend(match(expect.resource, result.view, "resource"))
    return result


# A failure message names at most this many problems, then how many more there were.
MAX_PROBLEMS_IN_MESSAGE = 5


def describe_problems(step: Step, problems: list[Any], label: str | None = None) -> str:
    """The failure message of a step: `step N 'name': problem; problem (and K more)` (label replaces the head)."""
    shown = [str(p) for p in problems[:MAX_PROBLEMS_IN_MESSAGE]]
    more = len(problems) - len(shown)
    tail = f" (and {more} more)" if more > 0 else ""
    return f"{label or f'step {step.index} {step.name!r}'}: " + "; ".join(shown) + tail


def finding_record(f: Any) -> FindingRecord:
    """A schema/parse/check Finding as results.json records it."""
    return FindingRecord(message=f.message, line=f.line, path=f.path, kind=f.kind, severity=f.severity)


def failing_problems(check: ResponseCheck) -> list[Any]:
    """What fails a step: mismatches and failure findings. Warning findings are shown, never counted."""
    problems: list[Any] = list(check.mismatches)
    for f in check.findings:
        if f.severity == FAILURE:
            where = " ".join(part for part in (f.kind, f.path or "", f"line {f.line}" if f.line else "") if part)
            problems.append(Mismatch(where, "a valid 2030.5 resource" if f.kind != "parse" else "an acceptable "
                                     "2030.5 XML body", f.message))
    return problems
