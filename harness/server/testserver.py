"""The test server a client DUT talks to: HTTPS with mutual TLS on the h11 front end, one served tree, a log.

The harness plays the utility's 2030.5 server (CSIP client procedures). Each client is identified by the
LFDI of the certificate it presents (IEEE 2030.5 §6.3.4); a certificate the run does not know gets 403 and
a finding. Every request is logged with its time on our clock and on the server's (scaled) timeline, the
answer given and the findings about its body (parse, schema, the other edition's shape), so a client-role
case judges what the DUT did from the log. A hostile client (garbage, hostile XML, floods, dropped
connections) costs its own requests and never the server: the h11 front end answers or drops them.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.engine.clock import Clock
from harness.results import FindingRecord
from harness.sep import MEDIA_TYPE_XML
from harness.sep.findings import CHECK, FAILURE, PARSE, WARNING, Finding
from harness.sep.identity import lfdi
from harness.sep.safexml import XMLRejected, local_name, parse_xml
from harness.server.editions import EDITION_2018, NOT_VALIDATED, edition_findings, is_newer_shape
from harness.server.http import HttpRequest, HttpResponse, RunningServer, start_http_server
from harness.server.tree import Outcome, ServedTree

# How many requests the log keeps; a flooding client drops the oldest, never the server.
MAX_LOG = 100_000
UNKNOWN_CLIENT = "unknown"


@dataclass
class LoggedRequest:
    """One request a client made and what the test server answered.

    wall: our clock (Unix s) when it arrived; at: the server's time then (2030.5 TimeType s, scaled by
    --time-scale); client: the name of the identity whose LFDI the certificate carries (UNKNOWN_CLIENT when
    none); kind: the root element of the body, when it parsed.
    """

    seq: int
    wall: float
    at: float
    client: str
    lfdi: str | None
    method: str
    path: str
    target: str
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: bytes
    status: int
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes = b""
    kind: str | None = None
    findings: list[Finding] = field(default_factory=list)
    cipher: str | None = None  # the TLS cipher suite of the connection (OpenSSL name)
    # Where the LFDI came from: "certificate" (the HTTPS peer's), "subject" (native NATS) or "envelope" (tunnel).
    identity_source: str = "certificate"
    # "json": the body came in CUPID's JSON (over NATS) and `body` is the XML it stands for.
    encoding: str = "xml"

    def header(self, name: str) -> str | None:
        """The first value of a request header (case-insensitive), or None."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def summary(self) -> str:
        """One line: server time, method, target, status."""
        return f"{self.method} {self.target} -> {self.status} at {self.at:.0f}"


class TestServer:
    """Serves a ServedTree to known clients and logs every request; replace the tree per case with serve().

    clients maps LFDI (40 hex digits, upper-case) -> the identity's name. validator is a SchemaSet (or
    anything with validate(root)). edition is the 2030.5 edition this run speaks (harness.server.editions).
    """

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, tree: ServedTree, clock: Clock, validator: Any, clients: dict[str, str] | None = None,
                 *, edition: str = EDITION_2018, max_body: int = 1_048_576) -> None:
        self.tree = tree
        self.clock = clock
        self.validator = validator
        self.clients = {k.upper(): v for k, v in (clients or {}).items()}
        self.edition = edition
        self.max_body = max_body
        self.log: list[LoggedRequest] = []
        self._seq = 0
        self._arrived = asyncio.Event()
        self._running: RunningServer | None = None
        self.scheme = "https"
        self.overrides: list[Callable[[HttpRequest], HttpResponse | None]] = []
        # The NATS front end (harness.server.nats_front.NatsResponder) when the DUT talks 2030.5 over NATS.
        self.nats: Any = None
        self.nats_url: str | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self, ssl_context: ssl.SSLContext | None, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen (TLS when ssl_context is given: plain HTTP only when asked) and return the base URL."""
        self.scheme = "https" if ssl_context is not None else "http"
        self._running = await start_http_server(self.handle, host, port, ssl_context, self.max_body,
                                                idle_timeout=60.0, on_error=self._protocol_error)
        return self.base_url

    async def start_nats(self, url: str, ssl_context: ssl.SSLContext | None, structure: Any = None,
                         **subjects: Any) -> str:
        """Also answer over NATS via the server at url (both mappings, harness.server.nats_front); returns url.

        subjects: native_subject, tunnel_requests, tunnel_responses of the NatsResponder. Raises OSError or a
        nats error when the NATS server cannot be reached.
        """
        from harness.server.nats_front import NatsResponder

        self.nats = await NatsResponder(self.handle, url, ssl_context=ssl_context, structure=structure,
                                        **subjects).start()
        self.nats_url = url
        return url

    @property
    def over_nats(self) -> bool:
        """Whether the DUT reaches this server over NATS (HTTP- and TLS-specific cases do not apply)."""
        return self.nats is not None

    @property
    def base_url(self) -> str:
        """scheme://127.0.0.1:port of the listening server."""
        assert self._running is not None, "the test server is not started"
        return f"{self.scheme}://127.0.0.1:{self._running.port}"

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self.nats is not None:
            nats_front, self.nats = self.nats, None
            await nats_front.close()
        if self._running is not None:
            await self._running.close()
            self._running = None
            # Let the dropped connections' handlers finish before the loop is closed under them.
            await asyncio.sleep(0.1)

    def now(self) -> float:
        """The server's time (2030.5 TimeType s): the served tree's, which is the run's clock and its offset."""
        return self.tree.now()

    def serve(self, tree: ServedTree) -> None:
        """Serve another tree from now on (a case's own, with no overrides left from the last); the log goes on."""
        self.tree = tree
        self.overrides = []

    # --- requests ----------------------------------------------------------------------------------

    def _protocol_error(self, status: int, reason: str) -> HttpResponse:
        # What h11 could not parse never reaches handle(); it is logged here so a garbage-sending DUT shows.
        self._append(LoggedRequest(seq=0, wall=self.clock.wall(), at=self.now(), client=UNKNOWN_CLIENT,
                                   lfdi=None, method="?", path="?", target="?", query=[], headers=[], body=b"",
                                   status=status, findings=[Finding(message=f"not HTTP/1.1 the server could read: "
                                                                    f"{reason}", line=None, path=None, kind=PARSE)]))
        return HttpResponse(status, [("Content-Type", "text/plain; charset=utf-8")], reason.encode() + b"\n")

    def _identify(self, request: HttpRequest) -> tuple[str, str | None]:
        # Over NATS the LFDI comes from the mapping: the request subject (native, made the NATS TLS certificate's
        # by certificate-mapped users) or the tunnel envelope (the proxy's identity).
        carried = getattr(request, "peer_lfdi", None)
        if carried:
            return self.clients.get(carried.upper(), UNKNOWN_CLIENT), carried.upper()
        if request.peer_cert_der is None:
            return (UNKNOWN_CLIENT if self.scheme == "https" else "plain"), None
        value = lfdi(request.peer_cert_der).upper()
        return self.clients.get(value, UNKNOWN_CLIENT), value

    def _body_findings(self, body: bytes) -> tuple[Any, list[Finding]]:
        try:
            root = parse_xml(body, max_bytes=self.max_body)
        except XMLRejected as exc:
            return None, [Finding(message=str(exc), line=None, path=None, kind=PARSE)]
        findings = edition_findings(root, self.edition)
        if is_newer_shape(root) and self.edition != EDITION_2018:
            findings.append(Finding(message=NOT_VALIDATED, line=None, path=None, kind=CHECK, severity=WARNING))
            return root, findings
        return root, [*self.validator.validate(root), *findings]

    async def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one request from the tree and log it; never raises for what a client sent."""
        client, value = self._identify(request)
        findings: list[Finding] = []
        root = None
        source = getattr(request, "identity_source", "") or "certificate"
        if client == UNKNOWN_CLIENT:
            where = {"subject": "a NATS request subject naming", "envelope": "a tunnel envelope naming"}.get(
                source, "a client presented a certificate with")
            findings.append(Finding(message=f"{where} LFDI {value or '(none)'}, which no identity of this run has: "
                                    "answered 403 (2030.5 §6.3.4)", line=None, path=None, kind="protocol"))
            response = HttpResponse(403)
        else:
            if request.body:
                root, findings = self._body_findings(request.body)
                findings = [*getattr(request, "json_findings", []), *findings]
            response = next((r for r in (o(request) for o in self.overrides) if r is not None), None)
            if response is None:
                response = self._answer(request, root, value)
        self._append(LoggedRequest(
            seq=0, wall=self.clock.wall(), at=self.now(), client=client, cipher=request.cipher, lfdi=value,
            identity_source=source, encoding=getattr(request, "encoding", "xml"),
            method=request.method,
            path=request.path, target=request.target, query=request.query, headers=request.headers,
            body=request.body, status=response.status, response_headers=list(response.headers),
            response_body=response.body, kind=local_name(root) if root is not None else None, findings=findings))
        return response

    def _answer(self, request: HttpRequest, root: Any, viewer: str | None) -> HttpResponse:
        if request.method in ("PUT", "POST") and root is None:
            return HttpResponse(400)
        outcome: Outcome = self.tree.answer(request.method, request.path, request.query, root, request.body, viewer)
        headers = list(outcome.headers)
        if outcome.body:
            headers.insert(0, ("Content-Type", MEDIA_TYPE_XML))
        return HttpResponse(outcome.status, headers, outcome.body)

    def _append(self, entry: LoggedRequest) -> None:
        self._seq += 1
        entry.seq = self._seq
        self.log.append(entry)
        if len(self.log) > MAX_LOG:
            del self.log[: len(self.log) - MAX_LOG]
        self._arrived.set()

    async def wait_beyond(self, seq: int, timeout: float) -> bool:
        """Wait up to timeout real seconds until a request after sequence number seq is logged; False if none."""
        if self._seq > seq:
            return True
        # No await between the check and clear(): a request logged meanwhile cannot be missed (one event loop).
        self._arrived.clear()
        try:
            await asyncio.wait_for(self._arrived.wait(), max(timeout, 0))
        except TimeoutError:
            return self._seq > seq
        return True

    def respond(self, method: str, path: str | None, path_regex: str | None, status: int, times: int = 1) -> None:
        """Answer the next `times` requests with method and path (or a path matching path_regex) with status and
        no body, instead of what the tree says (a case making the server refuse or fail on purpose)."""
        left = [times]

        def override(request: HttpRequest) -> HttpResponse | None:
            if left[0] <= 0 or request.method != method:
                return None
            if (path is not None and request.path != path) or (
                    path_regex is not None and not re.fullmatch(path_regex, request.path)):
                return None
            left[0] -= 1
            return HttpResponse(status)

        self.overrides.append(override)

    def since(self, seq: int) -> list[LoggedRequest]:
        """The logged requests after sequence number seq, oldest first."""
        return [entry for entry in self.log if entry.seq > seq]

    @property
    def last_seq(self) -> int:
        """The sequence number of the last logged request (0: none)."""
        return self._seq


def finding_records(findings: list[Finding]) -> list[FindingRecord]:
    """Findings as result records."""
    return [FindingRecord(message=f.message, line=f.line, path=f.path, kind=f.kind, severity=f.severity)
            for f in findings]


def failures(findings: list[Finding]) -> list[Finding]:
    """The findings that fail what they are about."""
    return [f for f in findings if f.severity == FAILURE]
