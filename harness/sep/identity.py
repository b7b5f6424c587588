"""Device identity (IEEE 2030.5 §6.3): LFDI, SFDI and PIN from a device certificate.

A certificate source may hold several certificates: a PEM bundle (a device certificate with the CAs that
issued it, as TLS stacks load it), or the value of an `x-forwarded-client-cert` header that a TLS-terminating
proxy forwards (a bare URL-encoded PEM, or XFCC elements `Hash=…;Cert="…";Chain="…";Subject="…"`). The device
certificate is then the leaf of the chain they form; unrelated leaves are ambiguous and need an index.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

_PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
# A URL-encoded PEM certificate (x-forwarded-client-cert, nginx $ssl_client_escaped_cert): the BEGIN line with
# its space encoded as %20 or, by form encoding, as +.
_ENCODED_PEM = re.compile(r"-----BEGIN(%20|\+)CERTIFICATE-----", re.IGNORECASE)
_FORM_SPACE = re.compile(r"-----(BEGIN|END)\+CERTIFICATE-----")
_XFCC_CERT_KEYS = ("cert", "chain")


class AmbiguousCertificates(ValueError):
    """A source holds several certificates that are not one chain: which one is the device's is not known."""


@dataclass(frozen=True)
class SelectedCertificate:
    """The certificate chosen from a source: its DER bytes, where it was (0-based index of count), why.

    reason is "the only certificate", "the leaf of the chain" or "chosen by index".
    """

    der: bytes
    index: int
    count: int
    reason: str

    @property
    def subject(self) -> str:
        """The certificate's subject, RFC 4514."""
        return x509.load_der_x509_certificate(self.der).subject.rfc4514_string()


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    """text split at separator, except inside double-quoted values (where \\" is a quote, as in XFCC)."""
    parts, current, quoted, escaped = [], [], False, False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _unquote_value(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def _decoded_pem(value: str) -> bytes:
    return _FORM_SPACE.sub(lambda m: f"-----{m.group(1)} CERTIFICATE-----", unquote(value)).encode("ascii", "replace")


def xfcc_certificates(value: str) -> list[bytes]:
    """The DER certificates of an x-forwarded-client-cert value, in order.

    value is a bare URL-encoded PEM (one certificate or a chain), or comma-separated XFCC elements of
    `key=value` pairs separated by `;` whose `Cert` (the client certificate) and `Chain` (it and its issuers)
    hold URL-encoded PEM. Raises ValueError when it holds no certificate, naming what it saw.
    """
    bare = _unquote_value(value)
    if unquote(bare).lstrip().startswith("-----BEGIN"):
        pems = [_decoded_pem(bare)]
    else:
        pems = []
        for element in _split_outside_quotes(value, ","):
            for pair in _split_outside_quotes(element, ";"):
                key, separator, text = pair.partition("=")
                if separator and key.strip().lower() in _XFCC_CERT_KEYS:
                    pems.append(_decoded_pem(_unquote_value(text)))
    if not pems:
        keys = sorted({p.partition("=")[0].strip() for e in _split_outside_quotes(value, ",")
                       for p in _split_outside_quotes(e, ";") if "=" in p})
        raise ValueError("expected an x-forwarded-client-cert value holding a URL-encoded PEM certificate "
                         f"(bare, or in Cert=\"…\" or Chain=\"…\"), saw keys {keys or 'none'}")
    certificates: list[bytes] = []
    for pem in pems:
        certificates += [c.public_bytes(Encoding.DER) for c in x509.load_pem_x509_certificates(pem)]
    return certificates


def load_certificates(data: bytes) -> list[bytes]:
    """Every certificate in data, as DER, in the order they appear.

    data is PEM (one certificate or a bundle; other blocks such as keys are skipped), one DER certificate,
    or an x-forwarded-client-cert value (see xfcc_certificates). Raises ValueError when it holds none.
    """
    if _PEM_CERTIFICATE in data:
        return [c.public_bytes(Encoding.DER) for c in x509.load_pem_x509_certificates(data)]
    text = data.decode("latin-1")
    if _ENCODED_PEM.search(text) or re.search(r"(^|[;,\s])(cert|chain)=", text, re.IGNORECASE):
        try:
            return xfcc_certificates(text.strip())
        except ValueError:
            try:  # a DER certificate whose bytes happen to read "cert=" somewhere
                x509.load_der_x509_certificate(data)
            except ValueError:
                pass
            else:
                return [data]
            raise
    x509.load_der_x509_certificate(data)  # raises ValueError on garbage
    return [data]


def _issued(parent: x509.Certificate, child: x509.Certificate) -> bool:
    """Whether parent signed child (its subject is child's issuer and its key verifies child's signature)."""
    if parent is child or child.issuer != parent.subject:
        return False
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _describe(index: int, cert: x509.Certificate, der: bytes) -> str:
    return f"index {index}: {cert.subject.rfc4514_string()} (SHA-256 {fingerprint(der)})"


def select_certificate(certificates: list[bytes], *, index: int | None = None,
                       where: str = "the source") -> SelectedCertificate:
    """The device certificate among certificates (DER, in source order).

    With index, that one (0-based). Otherwise the only one, or the leaf of the chain they form: the one
    certificate that issued none of the others, when every other is among its issuers (a device certificate
    with its CAs, in any order; repeats are ignored). Raises AmbiguousCertificates when they are not one chain
    (several unrelated leaves), listing each with its index, subject and SHA-256; ValueError when there are
    none or index is out of range. where names the source in messages (a file, "--xfcc").
    """
    count = len(certificates)
    if count == 0:
        raise ValueError(f"expected a certificate in {where}, saw none")
    if index is not None:
        if not 0 <= index < count:
            raise ValueError(f"expected an index from 0 to {count - 1} ({count} certificates in {where}), "
                             f"saw {index}")
        return SelectedCertificate(certificates[index], index, count, "chosen by index")
    first: dict[bytes, int] = {}
    for position, der in enumerate(certificates):
        first.setdefault(der, position)
    if len(first) == 1:
        return SelectedCertificate(certificates[0], 0, count, "the only certificate")
    parsed = {der: x509.load_der_x509_certificate(der) for der in first}
    leaves = [der for der in first if not any(_issued(parsed[der], parsed[other]) for other in first)]
    if len(leaves) == 1:
        leaf = leaves[0]
        issuers, frontier = {leaf}, [leaf]
        while frontier:
            child = frontier.pop()
            for der in first:
                if der not in issuers and _issued(parsed[der], parsed[child]):
                    issuers.add(der)
                    frontier.append(der)
        if issuers == set(first):
            return SelectedCertificate(leaf, first[leaf], count, "the leaf of the chain")
    listed = "; ".join(_describe(first[der], parsed[der], der) for der in first)
    raise AmbiguousCertificates(
        f"expected one device certificate in {where} (alone, or as the leaf of the chain of CAs that issued it), "
        f"saw {count} certificates that are not one chain ({len(leaves)} of them issued none of the others): "
        f"{listed}; say which to use by its index (csip-harness lfdi --index N), or keep only the device "
        "certificate and its issuers in the file")


def certificate_der(source: bytes | str | Path) -> bytes:
    """The DER bytes of the device certificate in a file path or bytes (see load_certificates).

    Several certificates resolve to the leaf of their chain (select_certificate). Raises OSError when the
    file cannot be read, AmbiguousCertificates when it holds unrelated leaves, ValueError when it holds none.
    """
    where = str(source) if isinstance(source, str | Path) else "the certificate bytes"
    data = Path(source).read_bytes() if isinstance(source, str | Path) else source
    return select_certificate(load_certificates(data), where=where).der


def fingerprint(der: bytes) -> str:
    """SHA-256 fingerprint of a DER certificate, as 64 upper-case hex digits."""
    return hashlib.sha256(der).hexdigest().upper()


def lfdi(der: bytes) -> str:
    """Long-form device identifier: the first 160 bits of the fingerprint, 40 hex digits."""
    return fingerprint(der)[:40]


def check_digit(value: int) -> int:
    """The digit that makes the sum of all decimal digits of value and itself a multiple of 10."""
    return (10 - sum(int(d) for d in str(value)) % 10) % 10


def with_check_digit(value: int) -> int:
    """Append the 2030.5 sum-of-digits check digit to value."""
    return value * 10 + check_digit(value)


def has_valid_check_digit(number: int) -> bool:
    """Whether the last decimal digit of number is the check digit of the others."""
    return number >= 0 and sum(int(d) for d in str(number)) % 10 == 0


def sfdi(der: bytes) -> int:
    """Short-form device identifier: the first 36 bits of the fingerprint in decimal plus a check digit."""
    return with_check_digit(int(fingerprint(der)[:9], 16))


def describe_certificate(der: bytes) -> dict[str, str]:
    """What a lab reads off a certificate: subject, issuer, validity, key, signature and SHA-256."""
    cert = x509.load_der_x509_certificate(der)
    key = cert.public_key()
    curve = getattr(getattr(key, "curve", None), "name", None)
    size = getattr(key, "key_size", None)
    signature = cert.signature_algorithm_oid._name  # the OID's registered name, e.g. ecdsa-with-SHA256
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "X"),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "key": f"{type(key).__name__.removeprefix('_').replace('PublicKey', '')} {curve or size or ''}".strip(),
        "signature": signature,
        "sha256": fingerprint(der),
    }
