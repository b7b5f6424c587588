"""The IEEE 2030.5 certificate profile the reference server applies to a client's chain after the TLS library.

The TLS library checks the path (RFC 5280 §6: signatures, validity, basic constraints, key usage and purpose).
IEEE 2030.5-2018 §6.11 asks more of a device: ECC P-256 keys only; no policy mappings and no name constraints
in the path; no critical extension the profile does not list (the SunSpec COMM-004D..F certificates break
these). A chain that breaks them is refused by closing the connection before any request is read (a TCP
disconnect, which COMM-004 errata 7 accepts as the notice of an invalid certificate).
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID

from harness.pki_profiles import POLICY_MAPPINGS_OID

# Extensions the profile allows to be critical (device: basicConstraints, keyUsage, subjectAltName; CA: the first two).
_CRITICAL_ALLOWED = {ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE, ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                     ExtensionOID.CERTIFICATE_POLICIES}


def profile_problems(chain: Sequence[bytes]) -> list[str]:
    """What in a verified chain (DER certificates, leaf first) breaks the 2030.5 certificate profile; [] if nothing."""
    problems = []
    for depth, der in enumerate(chain):
        cert = x509.load_der_x509_certificate(der)
        where = f"certificate {depth} ({cert.subject.rfc4514_string() or 'empty subject'})"
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            problems.append(f"{where}: key is not ECC secp256r1")
        for extension in cert.extensions:
            if extension.oid == POLICY_MAPPINGS_OID:
                problems.append(f"{where}: policy mappings")
            elif extension.oid == ExtensionOID.NAME_CONSTRAINTS:
                problems.append(f"{where}: name constraints")
            elif extension.critical and extension.oid not in _CRITICAL_ALLOWED:
                problems.append(f"{where}: critical extension {extension.oid.dotted_string} the profile does not list")
    return problems
