"""Result records: what the engine produces and the report reads (plain data, JSON-ready)."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from typing import Any

PASSED = "passed"
FAILED = "failed"
ERROR = "error"
SKIPPED = "skipped"
NOT_APPLICABLE = "not_applicable"
NOT_RUN = "not_run"
WAIVED = "waived"  # a step verdict only: it failed, and the profile waives it with a reason
VERDICTS = (PASSED, FAILED, ERROR, SKIPPED, NOT_APPLICABLE)

_MAX_EVIDENCE_BODY = 256 * 1024


def body_evidence(body: bytes) -> dict[str, Any]:
    """A body as evidence: text when it is UTF-8, base64 otherwise, truncated beyond 256 KiB."""
    shown = body[:_MAX_EVIDENCE_BODY]
    record: dict[str, Any] = {"length": len(body), "truncated": len(body) > _MAX_EVIDENCE_BODY}
    try:
        record["text"] = shown.decode("utf-8")
    except UnicodeDecodeError:
        record["base64"] = base64.b64encode(shown).decode("ascii")
    return record


@dataclass
class ExchangeRecord:
    """One request/response pair with timing and TLS details.

    http_version is the version on the DUT's status line as it was received ("HTTP/1.1", "HTTP/1.0"); None
    when no response came back (the request itself is always sent as HTTP/1.1).
    """

    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: dict[str, Any]
    started: float
    elapsed_s: float
    status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: dict[str, Any] | None = None
    tls: dict[str, Any] | None = None
    error: str | None = None
    error_kind: str | None = None
    transport: str = "http"
    http_version: str | None = None
    # The raw exchange file, relative to the results directory; set when results.json records the test.
    evidence: str | None = None


@dataclass
class FindingRecord:
    """An observation about a body: kind (parse, schema, check, match, protocol) and severity (failure, warning)."""

    message: str
    line: int | None
    path: str | None
    kind: str
    severity: str = "failure"


# Outcomes of a DUT-side action.
ACTION_DONE = "done"
ACTION_FAILED = "failed"
ACTION_UNMAPPED = "unmapped"


@dataclass
class ActionRecord:
    """One DUT-side action: parameters as carried out, the mapping used, the outcome and what came back."""

    name: str
    params: dict[str, Any]
    mapping: str
    outcome: str
    detail: str = ""
    started: float = 0.0
    duration_s: float = 0.0


@dataclass
class StepRecord:
    """The outcome of one step."""

    index: int
    name: str
    verdict: str
    message: str = ""
    ref: str | None = None
    line: int | None = None
    duration_s: float = 0.0
    expected: dict[str, Any] = field(default_factory=dict)
    observed: dict[str, Any] = field(default_factory=dict)
    mismatches: list[dict[str, str]] = field(default_factory=list)
    findings: list[FindingRecord] = field(default_factory=list)
    exchanges: list[ExchangeRecord] = field(default_factory=list)
    saved: dict[str, Any] = field(default_factory=dict)
    actions: list[ActionRecord] = field(default_factory=list)


@dataclass
class TestRecord:
    """The outcome of one test case against the DUT."""

    __test__ = False  # not a pytest test class despite the name

    id: str
    title: str
    role: str
    verdict: str
    reason: str = ""
    nodeid: str | None = None
    file: str | None = None
    case_sha256: str | None = None
    case_version: str | None = None
    procedure: dict[str, Any] = field(default_factory=dict)
    function_sets: list[str] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    started: float = 0.0
    duration_s: float = 0.0
    actions: list[ActionRecord] = field(default_factory=list)
    waivers: list[dict[str, Any]] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    # Client role: what the test server served and changed and what the DUT did, on the server's timeline
    # (harness.engine.client_runner.timeline); the report draws it. None in the server role.
    timeline: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data."""
        return asdict(self)
