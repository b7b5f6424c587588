"""Device identity (IEEE 2030.5 §6.3): LFDI, SFDI and PIN from a device certificate."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding


def certificate_der(source: bytes | str | Path) -> bytes:
    """Return the DER bytes of a certificate given as a PEM/DER file path or PEM/DER bytes."""
    data = Path(source).read_bytes() if isinstance(source, str | Path) else source
    if b"-----BEGIN CERTIFICATE-----" in data:
        return x509.load_pem_x509_certificate(data).public_bytes(Encoding.DER)
    x509.load_der_x509_certificate(data)  # raises ValueError on garbage
    return data


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
