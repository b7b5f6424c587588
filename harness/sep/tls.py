"""TLS settings of IEEE 2030.5: TLS 1.2, mutual authentication, TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 offered."""

from __future__ import annotations

import ssl
from pathlib import Path

# The 2030.5 mandatory suite first; the GCM suite keeps common lab tooling able to connect.
CIPHERS = "ECDHE-ECDSA-AES128-CCM8:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"
MANDATORY_CIPHER = "ECDHE-ECDSA-AES128-CCM8"


def _tls12(context: ssl.SSLContext) -> ssl.SSLContext:
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(CIPHERS)
    return context


def client_context(
    cert: str | Path | None,
    key: str | Path | None,
    ca: str | Path | None,
    *,
    verify: bool = True,
) -> ssl.SSLContext:
    """A TLS 1.2 client context presenting cert/key and verifying the server against ca."""
    context = _tls12(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    if verify:
        context.verify_mode = ssl.CERT_REQUIRED
        context.check_hostname = True
        if ca:
            context.load_verify_locations(cafile=str(ca))
        else:
            context.load_default_certs()
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(str(cert), str(key) if key else None)
    return context


def server_context(
    cert: str | Path,
    key: str | Path,
    ca: str | Path | None,
    *,
    require_client_cert: bool = True,
) -> ssl.SSLContext:
    """A TLS 1.2 server context that asks clients for a certificate issued by ca."""
    context = _tls12(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    context.load_cert_chain(str(cert), str(key))
    if ca:
        context.load_verify_locations(cafile=str(ca))
    context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return context
