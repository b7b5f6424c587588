"""Test peers for the pre-flight: certificates made to measure and small TLS servers on 127.0.0.1.

The certificates are issued by a test PKI's CA (harness.pki.make_test_pki, keys beside the certificates),
with the dates and usages a test needs. The servers are real sockets with the standard library's TLS, in a
thread; each counts the connections it accepted, so a test can see that the DUT was reached once.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.pki import CertPair, TestPki, write_private_key


def issue_client(pki: TestPki, name: str, *, days_valid: tuple[int, int] = (-1, 30),
                 usages: tuple[x509.ObjectIdentifier, ...] = (ExtendedKeyUsageOID.CLIENT_AUTH,),
                 digital_signature: bool = True) -> CertPair:
    """A client certificate from pki's CA, valid from now + days_valid[0] to now + days_valid[1] days."""
    ca_cert = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    ca_key = serialization.load_pem_private_key((pki.ca.parent / "ca.key").read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(days=days_valid[0]))
        .not_valid_after(now + dt.timedelta(days=days_valid[1]))
        .add_extension(x509.KeyUsage(digital_signature, False, not digital_signature, False, False, False, False,
                                     False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pair = CertPair(cert=pki.ca.parent / f"{name}.pem", key=pki.ca.parent / f"{name}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    write_private_key(key, pair.key)
    return pair


def foreign_client(directory: Path) -> CertPair:
    """A client certificate from a CA of its own, whose name no test PKI's CA shares (unlike make_test_pki's)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "foreign test CA")])
    now = dt.datetime.now(dt.UTC)
    ca_cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
               .not_valid_after(now + dt.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    (directory / "ca.key").write_bytes(ca_key.private_bytes(serialization.Encoding.PEM,
                                                            serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption()))
    return issue_client(TestPki(ca=directory / "ca.pem", server=CertPair(Path(), Path())), "foreign")


class TlsPeer:
    """A TLS server on 127.0.0.1 that does the handshake with context and closes; it counts connections."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.handshake_errors: list[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            sock.settimeout(5)
            try:
                with self.context.wrap_socket(sock, server_side=True) as tls:
                    tls.recv(1)  # until the client closes
            except (ssl.SSLError, OSError) as exc:
                self.handshake_errors.append(str(exc))
            finally:
                sock.close()

    def __enter__(self) -> TlsPeer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.listener.close()
        self._thread.join(timeout=5)


def server_context_for(pki: TestPki, *, client_ca: Path | None = None,
                       minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2) -> ssl.SSLContext:
    """pki's server certificate; client certificates required and verified against client_ca (default pki's)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = minimum
    context.load_cert_chain(pki.server.cert, pki.server.key)
    context.load_verify_locations(cafile=str(client_ca or pki.ca))
    context.verify_mode = ssl.CERT_REQUIRED
    return context
