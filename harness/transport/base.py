"""The transport interface: one request in, one exchange (request, response or error, timings) out."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Request:
    """A 2030.5 request as the harness sends it."""

    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    timeout: float | None = None

    @property
    def path(self) -> str:
        """The target on the DUT: the URL's path and query ("/edev?s=0&l=10"), what any transport carries."""
        after = self.url.split("://", 1)[-1]
        slash = after.find("/")
        return after[slash:] if slash >= 0 else "/"

    @classmethod
    def to(cls, base_url: str, method: str, path: str, headers: list[tuple[str, str]] | None = None,
           body: bytes = b"", timeout: float | None = None) -> Request:
        """The request of method + path + headers + body, sent to the DUT at base_url."""
        return cls(method, base_url.rstrip("/") + path, list(headers or ()), body, timeout)


@dataclass(frozen=True)
class Response:
    """A 2030.5 response as the DUT sent it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    http_version: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive), or None."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def header_values(self, name: str) -> list[str]:
        """Every value of a header, in order."""
        wanted = name.lower()
        return [v for k, v in self.headers if k.lower() == wanted]


# Kinds of exchange failure; every kind is a harness-side 'error' unless the engine decides otherwise.
CONNECT = "connect"
TIMEOUT = "timeout"
PROTOCOL = "protocol"
TOO_LARGE = "too-large"
TLS = "tls"
# The request was not sent: its URL is on an origin the user did not name (a DUT-supplied absolute link to
# another host, say), and the harness presents its identity only to origins the user named.
FOREIGN_HOST = "foreign-host"


@dataclass
class Exchange:
    """One request and what came back, kept as evidence."""

    request: Request
    response: Response | None = None
    started: float = field(default_factory=time.time)
    elapsed: float = 0.0
    tls: dict[str, Any] | None = None
    error: str | None = None
    error_kind: str | None = None
    transport: str = "http"
    # Headers as they went on the wire, including those the client library adds (Host, Content-Length).
    sent_headers: list[tuple[str, str]] | None = None

    @property
    def ok(self) -> bool:
        """Whether a complete response came back."""
        return self.response is not None and self.error is None


class Transport(Protocol):
    """Carries requests to the DUT: HTTP(S) now, NATS later, with the same exchange record."""

    name: str

    async def exchange(self, request: Request) -> Exchange:
        """Send the request and return the exchange; never raise for what the DUT did."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
