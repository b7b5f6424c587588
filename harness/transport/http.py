"""HTTP(S) transport over httpx: TLS 1.2 with a client certificate, bounded bodies and deadlines."""

from __future__ import annotations

import _ssl
import asyncio
import ssl
import time
from collections.abc import Iterable
from typing import Any

import httpx

from harness.sep.identity import describe_certificate, fingerprint
from harness.transport.base import (
    CONNECT,
    FOREIGN_HOST,
    PROTOCOL,
    TIMEOUT,
    TLS,
    TOO_LARGE,
    Exchange,
    Request,
    Response,
)

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Where the error message tells the user to name another origin.
ALLOW_HINT = "tls: {allowed_origins: [...]} in the DUT profile"


def origin(url: str | httpx.URL) -> str:
    """The origin (RFC 6454) of an absolute http(s) URL as `scheme://host:port`, normalised for comparison.

    Parsed by httpx, the parser that makes the connection, so the origin checked is the host connected to
    (`https://dut:443@other/` is on `other`). The scheme and host are lower-cased, an IDN host is in its
    ASCII (IDNA) form, an IPv6 host is bracketed and the default port (443, 80) is written out.
    Raises ValueError when url is not an absolute http:// or https:// URL with a host.
    """
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"expected an absolute http:// or https:// URL, saw {str(url)!r}: {exc}") from None
    scheme = parsed.scheme.lower()
    host = parsed.raw_host.decode("ascii").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        raise ValueError(f"expected an absolute http:// or https:// URL with a host, saw {str(url)!r}")
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{parsed.port or _DEFAULT_PORTS[scheme]}"


def _peer_chain(ssl_object: Any) -> list[dict[str, str]]:
    """The certificate chain the DUT presented, leaf first (as verified when verification is on)."""
    # Public on SSLObject from Python 3.13; the same methods exist on the underlying object since 3.10.
    inner = getattr(ssl_object, "_sslobj", None)
    for name in ("get_verified_chain", "get_unverified_chain"):
        getter = getattr(ssl_object, name, None) or getattr(inner, name, None)
        if getter is None:
            continue
        try:
            chain = getter() or []
        except (ssl.SSLError, ValueError):
            continue
        if chain:
            return [describe_certificate(_der_of(cert)) for cert in chain]
    return []


def _der_of(cert: Any) -> bytes:
    return cert if isinstance(cert, bytes) else cert.public_bytes(_ssl.ENCODING_DER)


def _tls_details(stream: Any) -> dict[str, Any] | None:
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    peer = ssl_object.getpeercert(binary_form=True)
    return {
        "version": ssl_object.version(),
        "cipher": cipher[0] if cipher else None,
        "peer_certificate_sha256": fingerprint(peer) if peer else None,
        "certificate_chain": _peer_chain(ssl_object),
    }


def exception_detail(exc: BaseException) -> str:
    """The first non-empty text down an exception's chain.

    httpx and httpcore re-raise OS errors with empty messages (a reset becomes ``ReadError('')``);
    the engineer needs the cause underneath, e.g. "[Errno 104] Connection reset by peer".
    """
    node: BaseException | None = exc
    seen: set[int] = set()
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        text = str(node)
        if text:
            return text if node is exc else f"{type(node).__name__}: {text}"
        node = node.__cause__ or node.__context__
    return "no detail"


def _classify(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return TIMEOUT
    text = str(exc)
    if isinstance(exc, httpx.ConnectError):
        return TLS if ("SSL" in text or "certificate" in text.lower()) else CONNECT
    return PROTOCOL


_CHECKED_KEPT = 4096  # allowed URLs remembered; the memo is dropped whole when full


class HttpTransport:
    """Sends 2030.5 requests over HTTP/1.1, HTTPS with mutual TLS when a context is given.

    Only to the allowed origins: the caller names them (the DUT's base URL, its plain-HTTP URL, any the
    profile lists), and a request for any other origin is never sent, neither connection nor client
    certificate: its exchange comes back with error_kind "foreign-host" and a message naming the URL, why it
    was not followed and how to allow it. Raises ValueError when an allowed origin is not an http(s) URL.
    """

    name = "http"

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None,
        *,
        allowed_origins: Iterable[str],
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        total_timeout: float = 30.0,
        max_body: int = 1_048_576,
    ) -> None:
        self._allowed = frozenset(origin(url) for url in allowed_origins)
        # URLs whose origin was found allowed, parsed: most exchanges of a run repeat a few URLs.
        self._checked: dict[str, httpx.URL] = {}
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout
        self.max_body = max_body
        self._tls_cache: tuple[Any, dict[str, Any] | None] | None = None
        self._client = httpx.AsyncClient(
            verify=ssl_context if ssl_context is not None else True,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            follow_redirects=False,
            trust_env=False,
            headers={"Accept-Encoding": "identity", "User-Agent": "csip-harness"},
        )

    def _tls_for(self, stream: Any) -> dict[str, Any] | None:
        """TLS details of a connection, computed once per connection: asking the stream for them
        builds all its extra attributes, which costs a measurable part of a keep-alive exchange."""
        if stream is None:
            return None
        if self._tls_cache is None or self._tls_cache[0] is not stream:
            self._tls_cache = (stream, _tls_details(stream))
        details = self._tls_cache[1]
        return {**details, "certificate_chain": list(details["certificate_chain"])} if details is not None else None

    @property
    def allowed_origins(self) -> list[str]:
        """The origins requests may go to, normalised (see origin()), sorted."""
        return sorted(self._allowed)

    def refusal(self, url: str) -> str | None:
        """Why a request for url is not sent (its origin is not one allowed, see the class), or None."""
        return self._refusal(url)[1]

    def _refusal(self, url: str) -> tuple[httpx.URL | None, str | None]:
        """The parsed URL when its origin is allowed, else None and why the request is not sent."""
        parsed = self._checked.get(url)
        if parsed is not None:
            return parsed, None  # a URL already sent once: parsing it again would give the same answer
        allowed = ", ".join(self.allowed_origins) or "none"
        try:
            parsed = httpx.URL(url)
            target = origin(parsed)
        except (ValueError, httpx.InvalidURL) as exc:
            return None, (f"{FOREIGN_HOST} refused: {url!r} was not requested: {exc}; requests go only to the "
                          f"origins named for this run ({allowed})")
        if target in self._allowed:
            if len(self._checked) >= _CHECKED_KEPT:
                self._checked.clear()
            self._checked[url] = parsed
            return parsed, None
        return None, (f"{FOREIGN_HOST} refused: {url} was not requested: its origin {target} is not one named for "
                      f"this run ({allowed}), and the harness connects, and presents its client certificate, "
                      f"only to origins the user named. If the DUT really serves this resource there, name the "
                      f"origin with {ALLOW_HINT.replace('...', repr(target))}")

    async def _send(self, url: httpx.URL, request: Request, exchange: Exchange) -> None:
        # The URL already parsed for the origin check is the one sent: no second parse can disagree with it.
        async with self._client.stream(
            request.method, url, headers=request.headers, content=request.body or None
        ) as response:
            exchange.sent_headers = list(response.request.headers.multi_items())
            exchange.tls = self._tls_for(response.extensions.get("network_stream"))
            body = bytearray()
            async for chunk in response.aiter_raw():
                body.extend(chunk)
                if len(body) > self.max_body:
                    exchange.response = Response(response.status_code, list(response.headers.multi_items()), b"",
                                                 http_version=response.http_version)
                    exchange.error = (
                        f"expected a body of at most {self.max_body} bytes, "
                        f"saw more than {len(body)} bytes; reading stopped"
                    )
                    exchange.error_kind = TOO_LARGE
                    return
            exchange.response = Response(
                status=response.status_code,
                headers=list(response.headers.multi_items()),
                body=bytes(body),
                http_version=response.http_version,
            )

    async def exchange(self, request: Request) -> Exchange:
        """Send one request; failures of the DUT or the network become the exchange's error."""
        exchange = Exchange(request=request, started=time.time())
        url, refusal = self._refusal(request.url)
        if url is None:
            exchange.error, exchange.error_kind = refusal, FOREIGN_HOST
            return exchange
        clock = time.perf_counter()
        deadline = request.timeout or self.total_timeout
        try:
            async with asyncio.timeout(deadline):
                await self._send(url, request, exchange)
        except TimeoutError:
            exchange.error = f"expected a complete response within {deadline} s, saw none in time"
            exchange.error_kind = TIMEOUT
        except httpx.TimeoutException as exc:
            # httpx's own timeouts carry no text; say which limit the DUT missed.
            if isinstance(exc, httpx.ConnectTimeout):
                limit = f"a connection (TCP and TLS handshake) within {self.connect_timeout} s"
            elif isinstance(exc, httpx.WriteTimeout):
                limit = f"the DUT to accept the request within {self.read_timeout} s (write timeout)"
            else:
                limit = f"the next bytes of the response within {self.read_timeout} s (read timeout)"
            exchange.error = f"timeout failure: expected {limit}, saw none ({type(exc).__name__})"
            exchange.error_kind = TIMEOUT
        except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
            kind = _classify(exc)
            exchange.error = f"{kind} failure: {type(exc).__name__}: {exception_detail(exc)}"
            exchange.error_kind = kind
        exchange.elapsed = time.perf_counter() - clock
        if exchange.error and exchange.error_kind != TOO_LARGE:
            exchange.response = None
        return exchange

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()
