"""What a run over NATS needs beside the transport: its settings from options and profile, the transport
factory the registry uses for nats:// and tls:// addresses, and the cases that test HTTP or TLS itself.

Profile keys (all optional)::

    encoding: json                 # xml (default) or json: CUPID's dialect (docs/json-mapping.md)
    nats:
      mapping: interstore          # native (default) or interstore
      request_subject: ieee2030.server.{lfdi}
      tunnel_requests: ieee2030.requests
      tunnel_responses: ieee2030.responses
      settle: 0                    # seconds to keep listening for a flood after the first answer
      jetstream: false             # native requests stored in JetStream (docs/nats-mapping.md)

Options (--transport, --nats-mapping, --encoding; ini csip_transport, csip_nats_mapping, csip_encoding)
override the profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.transport.base import Transport
from harness.transport.nats import MAPPINGS, NatsMapping, NatsTransport

NATS_SCHEMES = ("nats", "tls")
ENCODINGS = ("xml", "json")

# Server cases that test HTTP or TLS itself: over NATS there is no TLS handshake with the DUT, no HTTP
# connection, Host header or plain-HTTP listener to test, so they are not applicable (never failed).
HTTP_TLS_CASES: dict[str, str] = {
    "COMM-003": "it tests the TLS 1.2 handshake, cipher suite and certificates of the HTTPS connection",
    "CORE-001": "it tests HTTP/1.1 requests themselves (request line, Host, Content-Length framing)",
    "CORE-002": "it tests HTTP itself: the plain-HTTP 301 redirect to TLS, Host header handling and HTTP errors "
                "of the connection",
}
for _suffix in "ABCDEFG":
    HTTP_TLS_CASES[f"COMM-004{_suffix}"] = ("it tests certificate validation in the TLS handshake (the client "
                                            "certificate chain the server must accept or refuse)")

# Client cases that test the client's HTTPS/TLS itself: over NATS the DER makes no TLS session with the test
# server (its NATS TLS is with the NATS server, a Go TLS stack that offers no CCM suites), so not applicable.
CLIENT_HTTP_TLS_CASES: dict[str, str] = {
    "COMM-003": "it tests the client's TLS 1.2 session with the 2030.5 server (TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 "
                "and the certificate it presents), and over NATS there is none: the DER's TLS is with the NATS "
                "server",
}


def is_nats_address(url: str | None) -> bool:
    """Whether url is a NATS server address (nats:// or tls://)."""
    return bool(url) and str(url).split("://", 1)[0].lower() in NATS_SCHEMES


@dataclass(frozen=True)
class NatsSettings:
    """A run's NATS mapping and body encoding."""

    mapping: NatsMapping
    encoding: str


def run_settings(raw_profile: dict[str, Any], mapping: str | None, encoding: str | None) -> NatsSettings:
    """The settings from the options (mapping, encoding; None: not given) over the profile's keys.

    Raises ValueError naming the key and what was expected when a value is not one of the allowed ones.
    """
    section = raw_profile.get("nats") or {}
    if not isinstance(section, dict):
        raise ValueError(f"nats in the profile: expected a mapping of settings, saw {section!r}")
    chosen_encoding = str(encoding or raw_profile.get("encoding") or "xml")
    if chosen_encoding not in ENCODINGS:
        raise ValueError(f"encoding: expected one of {', '.join(ENCODINGS)}, saw {chosen_encoding!r}")
    mode = str(mapping or section.get("mapping") or "native")
    if mode not in MAPPINGS:
        raise ValueError(f"nats mapping: expected one of {', '.join(MAPPINGS)}, saw {mode!r}")
    fields = {key: section[key] for key in ("request_subject", "tunnel_requests", "tunnel_responses", "settle",
                                                      "jetstream")
              if key in section}
    return NatsSettings(NatsMapping(mode, **fields), chosen_encoding)


def nats_factory(tls_context: Any, *, base_url: str = "", nats_mapping: NatsMapping | None = None, lfdi: str = "",
                 sfdi: str = "", connect_timeout: float = 5.0, read_timeout: float = 10.0, max_body: int = 1_048_576,
                 **_: Any) -> Transport:
    """The transport registry's factory for nats:// and tls:// DUT addresses (harness.transport.registry)."""
    return NatsTransport(base_url, nats_mapping, ssl_context=tls_context, lfdi=lfdi, sfdi=sfdi, timeout=read_timeout,
                         connect_timeout=connect_timeout, max_body=max_body)


def nats_metadata(mapping: NatsMapping, server: str) -> dict[str, Any]:
    """results.json run.nats: the mapping, its subjects, and where the DUT takes the client's identity from."""
    tls = server.lower().startswith("tls://")
    if mapping.mode == "native":
        subjects = {"request_subject": mapping.request_subject}
        identity = ("the LFDI of the harness's NATS TLS client certificate, in the request subject (the NATS "
                    "server maps the certificate to a user allowed only that subject)" if tls else
                    "the LFDI in the request subject, unauthenticated (plain NATS: no client certificate)")
    else:
        subjects = {"tunnel_requests": mapping.tunnel_requests, "tunnel_responses": mapping.tunnel_responses}
        identity = ("the envelope's lfdi/sfdi (the tunnel proxy's identity, standing for every device behind it; "
                    "the harness puts its own client certificate's there)")
    return {"mapping": mapping.mode, **subjects, "identity": identity}
