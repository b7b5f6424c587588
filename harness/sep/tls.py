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


# How the harness verifies the DUT's certificate: the chain to the CA and the host name (full), the chain
# alone (chain: for a DUT whose certificate does not name the address it is reached at), or nothing (none).
VERIFY_FULL = "full"
VERIFY_CHAIN = "chain"
VERIFY_NONE = "none"
VERIFY_MODES = (VERIFY_FULL, VERIFY_CHAIN, VERIFY_NONE)


def verify_mode(value: bool | str) -> str:
    """The verification mode named by value: full, chain or none; True and False mean full and none.

    Raises ValueError naming what was expected and what was seen.
    """
    if value is True or value is False:
        return VERIFY_FULL if value else VERIFY_NONE
    text = str(value).strip().lower()
    if text in VERIFY_MODES:
        return text
    aliases = {"true": VERIFY_FULL, "yes": VERIFY_FULL, "false": VERIFY_NONE, "no": VERIFY_NONE}
    if text in aliases:
        return aliases[text]
    raise ValueError(f"expected TLS verification full, chain or none (or true/false), saw {value!r}")


def client_context(
    cert: str | Path | None,
    key: str | Path | None,
    ca: str | Path | None,
    *,
    verify: bool | str = True,
) -> ssl.SSLContext:
    """A TLS 1.2 client context presenting cert/key and verifying the server as verify says (see verify_mode).

    full: the chain up to ca (the system store when ca is None) and the host name (RFC 6125); chain: the chain
    only; none: nothing. Raises ValueError for an unknown mode, OSError/ssl.SSLError for unreadable files.
    """
    mode = verify_mode(verify)
    context = _tls12(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    if mode == VERIFY_NONE:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        # check_hostname must be switched off before verify_mode may change; here verify_mode stays required.
        context.check_hostname = mode == VERIFY_FULL
        context.verify_mode = ssl.CERT_REQUIRED
        if ca:
            context.load_verify_locations(cafile=str(ca))
        else:
            context.load_default_certs()
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
