"""Test PKI: a CA, a server certificate and client certificates (ECDSA P-256) for lab and test runs."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class CertPair:
    """A certificate and its private key on disk, both PEM."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class TestPki:
    """Paths of a generated test PKI: the CA certificate, the server pair and the named client pairs.

    ca is the SERCA (IEEE 2030.5 §6.11 root) that issued the server and the client certificates. clients are
    valid device certificates (SERCA -> device); certificates are the COMM-003/COMM-004 profiles of
    CERTIFICATE_PROFILES (longer valid chains and the certificates a server must refuse), each a certificate
    file holding its whole chain, leaf first, as a TLS client sends it.
    """

    __test__ = False  # not a pytest test class despite the name

    ca: Path
    server: CertPair
    clients: dict[str, CertPair] = field(default_factory=dict)
    certificates: dict[str, CertPair] = field(default_factory=dict)

    @property
    def identities(self) -> dict[str, CertPair]:
        """Every client identity by name: the device certificates, then the COMM-003/004 profiles."""
        return {**self.clients, **self.certificates}


# The loopback names the reference server answers on; a server certificate names them all by default.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "csip-harness test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def write_private_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    """Write key to path as unencrypted PKCS#8 PEM, readable by its owner only (mode 0600) from its creation.

    The file is created with O_CREAT|O_EXCL and mode 0600, so there is no moment at which it exists with the
    umask's wider permissions (write-then-chmod would leave one) and the process umask is never changed. An
    existing file or symbolic link at path is removed first rather than written through: its mode could be
    wider, or it could point elsewhere. Raises OSError when the directory cannot be written, or FileExistsError
    when another process creates path between the removal and the creation.
    """
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    handle = os.open(path, flags, 0o600)
    with os.fdopen(handle, "wb") as stream:
        stream.write(data)


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    is_ca: bool,
    server: bool = False,
    hosts: Sequence[str] = LOOPBACK_HOSTS,
    days: int = 825,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if is_ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server and hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName([_san(host) for host in hosts]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_test_pki(
    out_dir: str | Path,
    clients: tuple[str, ...] = ("client", "other", "aggregator"),
    *,
    key_dir: str | Path | None = None,
    server_hosts: Sequence[str] = LOOPBACK_HOSTS,
    profiles: bool = True,
) -> TestPki:
    """Create a CA, a server certificate and the named client certificates (ECDSA P-256, PEM).

    By default the clients are `client` (the device the harness acts as), `other` (a second device) and
    `aggregator`; with profiles (the default) the COMM-003/004 certificates of
    harness.pki_profiles.CERTIFICATE_PROFILES are made too, under the same CA (the SERCA).

    Certificates (`ca.pem`, `server.pem`, `<client>.pem`) go to out_dir; private keys (`ca.key`,
    `server.key`, `<client>.key`, mode 0600, see write_private_key) go to key_dir, or to out_dir when it is
    not given. A run's evidence bundle passes a private key_dir so that no key ever lands in the bundle. The
    server certificate's subjectAltName holds server_hosts (IP addresses or DNS names; loopback by default,
    an empty sequence for none). Raises OSError when a directory cannot be written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keys = Path(key_dir) if key_dir is not None else out
    # Owner-only when we create it; an existing directory is the caller's to secure.
    keys.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _issue("csip-harness test CA", ca_key, _name("csip-harness test CA"), ca_key, is_ca=True)
    (out / "ca.pem").write_bytes(_pem(ca_cert))
    write_private_key(ca_key, keys / "ca.key")

    def leaf(name: str, *, server: bool) -> CertPair:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue(name, key, ca_cert.subject, ca_key, is_ca=False, server=server, hosts=server_hosts)
        pair = CertPair(cert=out / f"{name}.pem", key=keys / f"{name}.key")
        pair.cert.write_bytes(_pem(cert))
        write_private_key(key, pair.key)
        return pair

    server = leaf("server", server=True)
    made = {n: leaf(n, server=False) for n in clients}
    certificates: dict[str, CertPair] = {}
    if profiles:
        from harness.pki_profiles import make_certificate_profiles

        written = make_certificate_profiles(out, keys, ca_cert, ca_key, write_private_key)
        certificates = {name: CertPair(cert=c, key=k) for name, (c, k) in written.items()}
    return TestPki(ca=out / "ca.pem", server=server, clients=made, certificates=certificates)


def make_device_certificates(
    pki: TestPki,
    count: int,
    out_dir: str | Path,
    *,
    key_dir: str | Path | None = None,
    prefix: str = "device",
) -> list[CertPair]:
    """Issue count device certificates from the PKI's CA, each with its own ECDSA P-256 key.

    For a run of many simulated DERs (the reference DER client's --devices N): the CA key is read from beside
    the server's key (where make_test_pki wrote ca.key). Certificates go to out_dir as
    `<prefix>-0001.pem` ..., keys (mode 0600) to key_dir or out_dir. About 1 ms per device on one core.
    Raises OSError when the CA key or a directory cannot be read or written.
    """
    if count < 0:
        raise ValueError(f"expected a device count of at least 0, saw {count}")
    ca_cert = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    ca_key = serialization.load_pem_private_key((pki.server.key.parent / "ca.key").read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("expected the test CA's ECDSA key in ca.key")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keys = Path(key_dir) if key_dir is not None else out
    keys.mkdir(mode=0o700, parents=True, exist_ok=True)
    pairs: list[CertPair] = []
    width = max(4, len(str(count)))
    for number in range(1, count + 1):
        name = f"{prefix}-{number:0{width}d}"
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue(name, key, ca_cert.subject, ca_key, is_ca=False)
        pair = CertPair(cert=out / f"{name}.pem", key=keys / f"{name}.key")
        pair.cert.write_bytes(_pem(cert))
        write_private_key(key, pair.key)
        pairs.append(pair)
    return pairs
