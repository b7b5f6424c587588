"""The client certificates of COMM-003 and COMM-004: longer valid chains and the certificates a server must refuse.

IEEE 2030.5-2018 §6.11 allows manufacturing chains of depth 2, 3 or 4 (SERCA -> device, SERCA -> MICA -> device,
SERCA -> MCA -> MICA -> device), requires ECC P-256 keys, and has a device reject a path with policy mappings,
name constraints or an unrecognised critical extension (RFC 5280 §6 path validation). The SunSpec test-PKI note
builds the invalid COMM-004D..G certificates on the SERCA -> MICA -> device chain. Each profile is written as
`<name>.pem` (leaf first, then every CA up to and including its root, the Certificate message COMM-004 asks
for) and `<name>.key`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

# An extended key usage no standard defines (under the SunSpec test PKI note's example enterprise arc).
UNRECOGNISED_USAGE = ObjectIdentifier("1.3.6.1.4.1.53630.99.1")
_POLICY = ObjectIdentifier("1.3.6.1.4.1.53630.2.1")
_OTHER_POLICY = ObjectIdentifier("1.3.6.1.4.1.53630.2.2")
# RFC 5280 §4.2.1.5 policyMappings; the cryptography package has no builder for it.
POLICY_MAPPINGS_OID = ObjectIdentifier("2.5.29.33")

# name -> (what it is, whether an IEEE 2030.5 server must accept it)
CERTIFICATE_PROFILES: dict[str, tuple[str, bool]] = {
    "dev": ("valid chain of length two: SERCA -> device, sent with the SERCA (COMM-004A)", True),
    "mica-dev": ("valid chain of length three: SERCA -> MICA -> device (COMM-004B)", True),
    "mca-mica-dev": ("valid chain of length four: SERCA -> MCA -> MICA -> device (COMM-004C)", True),
    "mica-eku-critical": ("MICA carrying an extended key usage with an unrecognised value, marked critical "
                          "(COMM-004D)", False),
    "mica-name-constraints": ("MICA carrying a name constraints extension, marked non-critical (COMM-004E)", False),
    "mica-policy-mappings": ("MICA carrying a policy mappings extension, marked non-critical (COMM-004F)", False),
    "self-signed": ("self-signed device certificate, no chain to the SERCA (COMM-004G)", False),
    "wrong-ca": ("device certificate issued by a CA the server does not trust (foreign-ca.pem)", False),
    "expired": ("device certificate whose validity ended yesterday (RFC 5280 §6.1.3)", False),
    "not-yet-valid": ("device certificate valid only from tomorrow (RFC 5280 §6.1.3)", False),
    "wrong-key-usage": ("device certificate whose key usage allows neither signatures nor key agreement", False),
    "wrong-curve": ("device certificate with a secp384r1 key instead of secp256r1 (2030.5 §6.11)", False),
}

_FAR_FUTURE = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)  # 2030.5 device certificates never expire


@dataclass(frozen=True)
class _Ca:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    chain: tuple[x509.Certificate, ...]  # this CA and those above it, up to the root


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "csip-harness test PKI"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
             not_before: dt.datetime, not_after: dt.datetime) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))


def _policy_mappings_der() -> bytes:
    """DER of PolicyMappings ::= SEQUENCE OF SEQUENCE {issuerDomainPolicy, subjectDomainPolicy} (one pair)."""

    def oid(value: ObjectIdentifier) -> bytes:
        arcs = [int(arc) for arc in value.dotted_string.split(".")]
        body = bytearray([40 * arcs[0] + arcs[1]])
        for arc in arcs[2:]:
            chunk = [arc & 0x7F]
            while arc > 0x7F:
                arc >>= 7
                chunk.append(0x80 | (arc & 0x7F))
            body.extend(reversed(chunk))
        return bytes([0x06, len(body)]) + bytes(body)

    pair = oid(_POLICY) + oid(_OTHER_POLICY)
    inner = bytes([0x30, len(pair)]) + pair
    return bytes([0x30, len(inner)]) + inner


def _sub_ca(name: str, parent: _Ca, now: dt.datetime,
            extra: Callable[[x509.CertificateBuilder], x509.CertificateBuilder] | None = None) -> _Ca:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (_builder(name, key, parent.cert.subject, now - dt.timedelta(minutes=5), _FAR_FUTURE)
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                              critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()),
                              critical=False)
               .add_extension(x509.CertificatePolicies([x509.PolicyInformation(_POLICY, None)]), critical=False))
    if extra is not None:
        builder = extra(builder)
    cert = builder.sign(parent.key, hashes.SHA256())
    return _Ca(cert, key, (cert, *parent.chain))


def _device(name: str, issuer: _Ca | None, now: dt.datetime, *, curve: ec.EllipticCurve | None = None,
            not_before: dt.datetime | None = None, not_after: dt.datetime = _FAR_FUTURE,
            usage: x509.KeyUsage | None = None) -> tuple[list[x509.Certificate], ec.EllipticCurvePrivateKey]:
    """A device certificate (leaf) and the chain it is sent with; issuer None makes it self-signed."""
    key = ec.generate_private_key(curve or ec.SECP256R1())
    signer_name = issuer.cert.subject if issuer else _name(name)
    builder = (_builder(name, key, signer_name, not_before or now - dt.timedelta(minutes=5), not_after)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(usage or x509.KeyUsage(True, False, False, False, True, False, False, False, False),
                              critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    return [cert, *(issuer.chain if issuer else ())], key


def make_certificate_profiles(
    out: Path, keys: Path, serca: x509.Certificate, serca_key: ec.EllipticCurvePrivateKey,
    write_key: Callable[[ec.EllipticCurvePrivateKey, Path], None],
) -> dict[str, tuple[Path, Path]]:
    """Write every CERTIFICATE_PROFILES certificate under out (keys under keys, by write_key); name -> (cert, key).

    Also writes foreign-ca.pem, the root of the wrong-ca certificate, which no server of the run trusts.
    """
    now = dt.datetime.now(dt.UTC)
    root = _Ca(serca, serca_key, (serca,))
    mica = _sub_ca("csip-harness test MICA", root, now)
    mca = _sub_ca("csip-harness test MCA", root, now)
    mca_mica = _sub_ca("csip-harness test MICA under MCA", mca, now)
    # The unrecognised usage sits beside clientAuth: a TLS library's purpose check alone lets it through, so
    # only a server applying the 2030.5 certificate profile (no critical extension it does not list) refuses it.
    bad_eku = _sub_ca("csip-harness test MICA (critical EKU)", root, now, lambda b: b.add_extension(
        x509.ExtendedKeyUsage([UNRECOGNISED_USAGE, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=True))
    constrained = _sub_ca("csip-harness test MICA (name constraints)", root, now, lambda b: b.add_extension(
        x509.NameConstraints(permitted_subtrees=[x509.DNSName("constrained.invalid")], excluded_subtrees=None),
        critical=False))
    mapped = _sub_ca("csip-harness test MICA (policy mappings)", root, now, lambda b: b.add_extension(
        x509.UnrecognizedExtension(POLICY_MAPPINGS_OID, _policy_mappings_der()), critical=False))
    foreign_key = ec.generate_private_key(ec.SECP256R1())
    foreign_cert = (_builder("foreign test CA", foreign_key, _name("foreign test CA"), now - dt.timedelta(minutes=5),
                             _FAR_FUTURE)
                    .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                    .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                   critical=True)
                    .sign(foreign_key, hashes.SHA256()))
    foreign = _Ca(foreign_cert, foreign_key, (foreign_cert,))
    (out / "foreign-ca.pem").write_bytes(foreign_cert.public_bytes(serialization.Encoding.PEM))
    day = dt.timedelta(days=1)
    made = {
        "dev": _device("device (dev)", root, now),
        "mica-dev": _device("device (mica-dev)", mica, now),
        "mca-mica-dev": _device("device (mca-mica-dev)", mca_mica, now),
        "mica-eku-critical": _device("device (mica-eku-critical)", bad_eku, now),
        "mica-name-constraints": _device("device (mica-name-constraints)", constrained, now),
        "mica-policy-mappings": _device("device (mica-policy-mappings)", mapped, now),
        "self-signed": _device("device (self-signed)", None, now),
        "wrong-ca": _device("device (wrong-ca)", foreign, now),
        "expired": _device("device (expired)", root, now, not_before=now - 30 * day, not_after=now - day),
        "not-yet-valid": _device("device (not-yet-valid)", root, now, not_before=now + day),
        "wrong-key-usage": _device("device (wrong-key-usage)", root, now,
                                   usage=x509.KeyUsage(False, True, False, False, False, False, False, False, False)),
        "wrong-curve": _device("device (wrong-curve)", root, now, curve=ec.SECP384R1()),
    }
    paths = {}
    for name, (chain, key) in made.items():
        cert_path, key_path = out / f"{name}.pem", keys / f"{name}.key"
        cert_path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
        write_key(key, key_path)
        paths[name] = (cert_path, key_path)
    return paths
