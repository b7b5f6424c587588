"""Pre-flight: our own client certificate checked locally, and the DUT reached once, before the first case.

IEEE 2030.5 §6.11 (CSIP §5.2.x) runs every exchange over TLS 1.2 with mutual certificate authentication. When
that cannot work, every case would fail the same way, and the error each one shows (an OpenSSL reason such as
WRONG_VERSION_NUMBER or UNEXPECTED_EOF) does not say what to change. The pre-flight finds out once and says
it in one sentence naming the cause and the option that fixes it.

client_certificate_problems judges a certificate the way a TLS server would (validity dates, key usage,
extended key usage); reach_dut makes one TCP connection and one TLS handshake with the run's own
ssl.SSLContext, reading the bytes itself (a memory BIO) so that a plain-HTTP answer is recognised as one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import ssl
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from harness.sep.tls import CIPHERS


def client_certificate_problems(cert: x509.Certificate, now: dt.datetime | None = None) -> list[str]:
    """Why a TLS server would refuse cert as a client certificate, as plain sentences; [] when none.

    Checks the validity period against now (UTC; default the current time), keyUsage (when present it must
    allow digitalSignature: the client signs the handshake, RFC 5246 §7.4.8) and extendedKeyUsage (when
    present it must allow clientAuth or anyExtendedKeyUsage, RFC 5280 §4.2.1.12).
    """
    now = now or dt.datetime.now(dt.UTC)
    problems = []
    if cert.not_valid_after_utc < now:
        problems.append(f"the client certificate expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC, so the "
                        "DUT will refuse it")
    if cert.not_valid_before_utc > now:
        problems.append(f"the client certificate is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} "
                        "UTC (check this machine's clock)")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        pass
    else:
        if not usage.digital_signature:
            problems.append("its keyUsage lacks digitalSignature, which a TLS client certificate needs to sign the "
                            "handshake")
    try:
        purposes = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        pass
    else:
        allowed = {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}
        if not allowed & set(purposes):
            named = ", ".join(getattr(oid, "_name", None) or oid.dotted_string for oid in purposes)
            problems.append(f"its extendedKeyUsage ({named}) does not allow TLS client authentication (clientAuth)")
    return problems


# TLS alerts a server sends when it refuses our certificate (RFC 5246 §7.2.2), as OpenSSL names them, with
# what the alert means for the user.
_CERTIFICATE_ALERTS = {
    "TLSV1_ALERT_UNKNOWN_CA": ("unknown_ca", "it does not trust the CA that issued it; give a certificate issued "
                               "by a CA the DUT trusts, or have the DUT trust our CA"),
    "SSLV3_ALERT_BAD_CERTIFICATE": ("bad_certificate", "it found the certificate unacceptable (its key usage, key "
                                    "type or signature, or a chain it cannot build)"),
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": ("certificate_expired", "it considers the certificate expired or not yet "
                                        "valid; check the certificate's dates and the DUT's clock"),
    "SSLV3_ALERT_CERTIFICATE_REVOKED": ("certificate_revoked", "it has revoked the certificate"),
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE": ("unsupported_certificate", "it does not support this kind of "
                                            "certificate (IEEE 2030.5 devices use ECDSA P-256)"),
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": ("certificate_unknown", "it refused the certificate without saying why"),
    "TLSV1_ALERT_ACCESS_DENIED": ("access_denied", "it accepts the certificate but denies this client access"),
    "TLSV1_ALERT_DECRYPT_ERROR": ("decrypt_error", "a signature did not verify, most often because the "
                                  "certificate comes from a CA that has the name of one the DUT trusts but another "
                                  "key"),
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": ("certificate_required", "it received no client certificate"),
}
_VERSION_REASONS = {"TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE",
                    "WRONG_SSL_VERSION", "VERSION_TOO_LOW", "VERSION_TOO_HIGH", "TLSV1_ALERT_INAPPROPRIATE_FALLBACK"}
_CIPHER_REASONS = {"SSLV3_ALERT_HANDSHAKE_FAILURE", "TLSV1_ALERT_INSUFFICIENT_SECURITY", "NO_SHARED_CIPHER",
                   "NO_CIPHERS_AVAILABLE", "WRONG_CIPHER_RETURNED", "NO_SUITABLE_SIGNATURE_ALGORITHM"}
# verify codes (OpenSSL X509_V_ERR_*) of a certificate that does not name the host it is reached at
_NAME_MISMATCH = {62, 63, 64}
_DATES = {9, 10}


def _names(names: Mapping[str, str], key: str) -> str:
    return names.get(key) or "--csip-" + key.replace("_", "-")


def _verify_failure(exc: ssl.SSLCertVerificationError, host: str, names: Mapping[str, str]) -> str:
    detail = (exc.verify_message or exc.reason or str(exc)).rstrip(".")
    head = f"the DUT's certificate is not trusted ({detail}; CERTIFICATE_VERIFY_FAILED): "
    tls_verify = _names(names, "tls_verify")
    if exc.verify_code in _NAME_MISMATCH:
        return head + (f"it does not name {host}, the host in {_names(names, 'dut')}; reach the DUT by a name its "
                       f"certificate holds, or give {tls_verify} chain to verify the chain but not the name")
    if exc.verify_code in _DATES:
        return head + (f"check the dates of the DUT's certificate and this machine's clock, or give {tls_verify} "
                       "none to skip verification (recorded in the results)")
    return head + (f"give the CA that issued it with {_names(names, 'ca')}, or {tls_verify} none to skip "
                   "verification (recorded in the results)")


def _tls_failure(exc: ssl.SSLError, where: str, received: bytes, names: Mapping[str, str]) -> str:
    reason = exc.reason or ""
    cert = _names(names, "cert")
    if received and not received.startswith((b"\x15", b"\x16")):  # neither an alert nor a handshake record
        if received.startswith(b"HTTP/"):
            status = received.split(b"\r\n", 1)[0].decode("ascii", "replace")
            return (f"the DUT at {where} answered in plain HTTP ({status!r}), not TLS: give its https:// port in "
                    f"{_names(names, 'dut')}, or {_names(names, 'plain_http')} if it speaks plain HTTP only")
        return (f"the DUT at {where} answered with something that is not TLS (first bytes {received[:16]!r}); is "
                f"{_names(names, 'dut')} its HTTPS port?")
    if reason in _CERTIFICATE_ALERTS:
        alert, meaning = _CERTIFICATE_ALERTS[reason]
        return f"the DUT rejected our client certificate ({cert}) with the TLS alert {alert}: {meaning}"
    if reason in _VERSION_REASONS:
        return (f"the DUT refused TLS 1.2 ({reason}): IEEE 2030.5 requires TLS 1.2, the only version the harness "
                "offers, so the DUT must accept it")
    if reason in _CIPHER_REASONS:
        return (f"the DUT refused the TLS handshake ({reason}): most often it accepts none of the cipher suites "
                f"offered ({CIPHERS.replace(':', ', ')}; IEEE 2030.5 requires ECDHE-ECDSA-AES128-CCM8) or not an "
                f"ECDSA P-256 client certificate ({cert})")
    if isinstance(exc, ssl.SSLEOFError) or "EOF" in reason:
        return _closed(where, cert, handshake_messages(received))
    return f"the TLS handshake with the DUT at {where} failed: {reason or exc}"


def _closed(where: str, cert: str, seen: set[int]) -> str:
    """Why the DUT may have closed the handshake without an alert, from the handshake messages it had sent."""
    if _SERVER_HELLO_DONE in seen and _CERTIFICATE_REQUEST in seen:
        return (f"the DUT at {where} asked for our client certificate and, once it had it, closed the connection "
                f"without a TLS alert: it refused the certificate ({cert}); check that the DUT trusts the CA that "
                "issued it and that it is valid")
    if _SERVER_HELLO_DONE in seen:
        return (f"the DUT at {where} closed the TLS connection after the key exchange without an alert, and never "
                f"asked for a client certificate ({cert}); IEEE 2030.5 requires mutual TLS")
    if not seen:
        return (f"the DUT at {where} closed the connection on our TLS 1.2 hello without answering: it accepts "
                f"neither TLS 1.2 nor any cipher suite offered ({CIPHERS.replace(':', ', ')}), or it is not a "
                f"TLS server")
    return f"the DUT at {where} closed the connection during the TLS handshake without a TLS alert"


# TLS 1.2 handshake message types (RFC 5246 §7.4) read from the DUT's plaintext flight.
_CERTIFICATE_REQUEST = 13
_SERVER_HELLO_DONE = 14


def handshake_messages(data: bytes) -> set[int]:
    """The handshake message types in the plaintext TLS records at the start of data (before any
    ChangeCipherSpec); records cut short at the end of data are read as far as they go."""
    handshake = bytearray()
    offset = 0
    while offset + 5 <= len(data):
        kind, length = data[offset], int.from_bytes(data[offset + 3:offset + 5], "big")
        if kind != 22:  # only handshake records carry what we look for; ChangeCipherSpec ends the plaintext
            break
        handshake += data[offset + 5:offset + 5 + length]
        offset += 5 + length
    seen, offset = set(), 0
    while offset + 4 <= len(handshake):
        seen.add(handshake[offset])
        offset += 4 + int.from_bytes(handshake[offset + 1:offset + 4], "big")
    return seen


_KEPT = 65536  # bytes of the DUT's answer kept for diagnosis: its whole plaintext handshake flight


def _handshake(sock: socket.socket, context: ssl.SSLContext, host: str, deadline: float) -> bytes:
    """Do the TLS handshake over sock through memory BIOs; the bytes the DUT sent (up to 64 KiB), for diagnosis.

    An ssl.SSLError raised carries them as its received attribute.
    """
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=host)
    received = b""
    while True:
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            pending = outgoing.read()
            if pending:
                sock.sendall(pending)
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                chunk = sock.recv(16384)
            except ConnectionError:  # a reset while we wait for the DUT's answer: as a close
                chunk = b""
            if len(received) < _KEPT:
                received += chunk[:_KEPT - len(received)]
            if chunk:
                incoming.write(chunk)
            else:
                incoming.write_eof()
            continue
        except ssl.SSLError as exc:
            exc.received = received  # type: ignore[attr-defined]
            raise
        break
    pending = outgoing.read()
    if pending:
        sock.sendall(pending)
    with contextlib.suppress(ssl.SSLError):  # a polite close_notify; the DUT's answer to it is not waited for
        tls.unwrap()
    pending = outgoing.read()
    if pending:
        sock.sendall(pending)
    return received


def reach_dut(url: str, context: ssl.SSLContext | None, *, timeout: float,
              names: Mapping[str, str] | None = None) -> str | None:
    """Reach the DUT at url once; None when it answers TLS with context, else why not, as one sentence.

    One TCP connection to url's host and port and, when context is given (https://), one TLS handshake with
    it: the run's own context, so the same certificate, key, CA, version, ciphers and verification. timeout
    (seconds) bounds the connection and the handshake each, as the transport's connect timeout does. names
    maps option keys (dut, cert, ca, tls_verify, plain_http) to how the user gave them, for the advice.
    """
    names = names or {}
    split = urlsplit(url)
    host = split.hostname or ""
    port = split.port or (443 if split.scheme == "https" else 80)
    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    dut = _names(names, "dut")
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        return (f"nothing is listening at {where}: the connection was refused; check the port in {dut} and that "
                "the DUT is running")
    except TimeoutError:
        return (f"{where} did not accept a connection within {timeout:g} s; check the address in {dut}, the "
                "network and any firewall (the limit is timeouts.connect in the profile)")
    except socket.gaierror as exc:
        return f"the host name {host!r} in {dut} does not resolve ({exc.strerror})"
    except OSError as exc:
        return f"cannot connect to {where} ({exc.strerror or exc}); check the address in {dut} and the network"
    with sock:
        if context is None:
            return None
        try:
            _handshake(sock, context, host, time.monotonic() + timeout)
        except ssl.SSLCertVerificationError as exc:
            return _verify_failure(exc, host, names)
        except ssl.SSLError as exc:
            return _tls_failure(exc, where, getattr(exc, "received", b""), names)
        except TimeoutError:
            return (f"the DUT at {where} accepted the connection but did not answer the TLS handshake within "
                    f"{timeout:g} s; is {dut} its HTTPS port? (a plain-HTTP server waits silently for a request)")
        except OSError as exc:
            return _closed(where, _names(names, "cert"), set()) if isinstance(exc, ConnectionError) else (
                f"the TLS handshake with the DUT at {where} failed: {exc.strerror or exc}")
    return None
