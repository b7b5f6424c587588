"""LFDI, SFDI and PIN (IEEE 2030.5 §6.3) and the test PKI they are computed from."""

from __future__ import annotations

import hashlib
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from harness.pki import TestPki
from harness.sep.identity import (
    certificate_der,
    check_digit,
    fingerprint,
    has_valid_check_digit,
    lfdi,
    sfdi,
    with_check_digit,
)
from harness.sep.tls import MANDATORY_CIPHER, client_context, server_context

# The worked example of IEEE 2030.5 §6.3.3/6.3.4: a certificate whose SHA-256 fingerprint is
# 3E4F45AB31EDFE5B67E343E5E4562E31984E23E5349E2AD745672ED145EE213A.
EXAMPLE_FINGERPRINT = "3E4F45AB31EDFE5B67E343E5E4562E31984E23E5349E2AD745672ED145EE213A"


def test_the_standard_worked_example() -> None:
    assert EXAMPLE_FINGERPRINT[:40] == "3E4F45AB31EDFE5B67E343E5E4562E31984E23E5"
    assert with_check_digit(int(EXAMPLE_FINGERPRINT[:9], 16)) == 167261211391
    assert check_digit(16726121139) == 1


@pytest.mark.parametrize(("number", "valid"), [(111115, True), (111116, False), (167261211391, True), (0, True)])
def test_check_digit_rule(number: int, valid: bool) -> None:
    assert has_valid_check_digit(number) is valid


def test_identity_of_a_generated_certificate(pki: TestPki) -> None:
    pem = pki.clients["client"].cert.read_bytes()
    der = certificate_der(pem)
    assert certificate_der(pki.clients["client"].cert) == der == certificate_der(der)
    digest = hashlib.sha256(der).hexdigest().upper()
    assert fingerprint(der) == digest and lfdi(der) == digest[:40]
    assert sfdi(der) == int(digest[:9], 16) * 10 + check_digit(int(digest[:9], 16))
    assert has_valid_check_digit(sfdi(der))
    assert lfdi(certificate_der(pki.clients["other"].cert)) != lfdi(der)


def test_garbage_is_not_a_certificate() -> None:
    with pytest.raises(ValueError):
        certificate_der(b"definitely not a certificate")


def test_pki_issues_p256_certificates_for_loopback(pki: TestPki) -> None:
    server = x509.load_pem_x509_certificate(pki.server.cert.read_bytes())
    assert isinstance(server.public_key(), ec.EllipticCurvePublicKey) and server.public_key().curve.name == "secp256r1"
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert oct(pki.clients["client"].key.stat().st_mode & 0o777) == "0o600"


def test_tls_contexts_are_tls12_only_and_offer_ccm8(pki: TestPki) -> None:
    client = client_context(pki.clients["client"].cert, pki.clients["client"].key, pki.ca)
    server = server_context(pki.server.cert, pki.server.key, pki.ca)
    for context in (client, server):
        assert context.minimum_version == context.maximum_version == ssl.TLSVersion.TLSv1_2
        assert MANDATORY_CIPHER in [c["name"] for c in context.get_ciphers()]
    assert client.verify_mode == ssl.CERT_REQUIRED and client.check_hostname
    assert server.verify_mode == ssl.CERT_REQUIRED
