"""Which certificate is the device's, when a file or a proxy header holds several (IEEE 2030.5 §6.3 identity)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from harness.cases.model import DutProfile, Identity
from harness.engine.context import builtin_variables
from harness.pki import TestPki
from harness.sep.identity import (
    AmbiguousCertificates,
    certificate_der,
    fingerprint,
    lfdi,
    load_certificates,
    select_certificate,
    sfdi,
    xfcc_certificates,
)
from harness.session import HarnessSession, RunOptions, SessionConfigError


def _cert(name: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, issuer_key: ec.EllipticCurvePrivateKey,
          *, ca: bool) -> bytes:
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256()))
    return cert.public_bytes(Encoding.PEM)


@pytest.fixture(scope="module")
def three_levels() -> dict[str, bytes]:
    """A device certificate issued by an intermediate CA issued by a root CA (PEM each)."""
    root_key, mid_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "root CA")])
    mid_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intermediate CA")])
    return {"root": _cert("root CA", root_key, root_name, root_key, ca=True),
            "mid": _cert("intermediate CA", mid_key, root_name, root_key, ca=True),
            "leaf": _cert("inverter 42", leaf_key, mid_name, mid_key, ca=False)}


def pems(pki: TestPki) -> dict[str, bytes]:
    return {"client": pki.clients["client"].cert.read_bytes(), "other": pki.clients["other"].cert.read_bytes(),
            "ca": pki.ca.read_bytes()}


def der(pem: bytes) -> bytes:
    return certificate_der(pem)


@pytest.mark.parametrize(
    ("order", "leaf", "index"),
    [
        (["leaf", "mid", "root"], "leaf", 0),  # as TLS stacks want it
        (["root", "mid", "leaf"], "leaf", 2),  # reversed
        (["mid", "leaf", "root"], "leaf", 1),
        (["mid", "root"], "mid", 0),  # a chain of CAs: its leaf is the intermediate
        (["leaf", "leaf", "mid"], "leaf", 0),  # a repeat is not a second leaf
    ],
)
def test_a_chain_in_any_order_resolves_to_its_leaf(three_levels: dict[str, bytes], order: list[str], leaf: str,
                                                   index: int) -> None:
    chosen = select_certificate(load_certificates(b"".join(three_levels[n] for n in order)))
    assert chosen.der == der(three_levels[leaf]) and chosen.index == index and chosen.count == len(order)
    assert chosen.reason == "the leaf of the chain"


def test_unrelated_leaves_are_ambiguous_unless_an_index_says(pki: TestPki, three_levels: dict[str, bytes]) -> None:
    p = pems(pki)
    for bundle in ([p["client"], p["other"]], [p["client"], p["other"], p["ca"]],
                   [p["client"], three_levels["root"]]):  # a CA that did not issue the certificate is no chain
        with pytest.raises(AmbiguousCertificates) as info:
            select_certificate(load_certificates(b"".join(bundle)), where="bundle.pem")
        message = str(info.value)
        assert message.startswith("expected one device certificate in bundle.pem")
        assert f"index 0: CN=client,O=csip-harness test PKI (SHA-256 {fingerprint(der(p['client']))})" in message
        assert "--index N" in message
    chosen = select_certificate(load_certificates(p["client"] + p["other"]), index=1)
    assert chosen.der == der(p["other"]) and chosen.reason == "chosen by index"
    with pytest.raises(ValueError, match=r"expected an index from 0 to 1 \(2 certificates in the source\), saw 2"):
        select_certificate(load_certificates(p["client"] + p["other"]), index=2)


def test_x_forwarded_client_cert_values(pki: TestPki) -> None:
    p = pems(pki)
    client = der(p["client"])
    # nginx's $ssl_client_escaped_cert, and the same with form encoding (space as +).
    assert xfcc_certificates(quote(p["client"].decode(), safe="")) == [client]
    assert xfcc_certificates(quote(p["client"].decode(), safe="").replace("%20", "+")) == [client]
    # Envoy: Cert is the client certificate, Chain the certificate and its issuers; Subject has a comma in quotes.
    element = (f'By=spiffe://lab/dut;Hash=0123abcd;Cert="{quote(p["client"].decode(), safe="")}";'
               f'Chain="{quote((p["client"] + p["ca"]).decode(), safe="")}";Subject="CN=client,O=test";URI=')
    assert xfcc_certificates(element) == [client, client, der(p["ca"])]
    assert select_certificate(xfcc_certificates(element)).der == client
    # Two hops with two different client certificates: not one chain.
    two = element + f',By=spiffe://lab/proxy;Cert="{quote(p["other"].decode(), safe="")}"'
    with pytest.raises(AmbiguousCertificates):
        select_certificate(xfcc_certificates(two))
    assert load_certificates(element.encode()) == xfcc_certificates(element)
    with pytest.raises(ValueError, match=r"saw keys \['By', 'Hash'\]"):
        xfcc_certificates("By=spiffe://x;Hash=00ff")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=60,
                          check=False, env=dict(os.environ))


def test_lfdi_command_names_the_certificate_it_used(pki: TestPki, tmp_path: Path) -> None:
    p = pems(pki)
    client, other = der(p["client"]), der(p["other"])
    chain = tmp_path / "chain.pem"
    chain.write_bytes(p["ca"] + p["client"])
    done = cli("lfdi", str(chain))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"Certificate: index 1 of 2 in {chain} (the leaf of the chain), subject CN=client,O=csip-harness test PKI",
        f"LFDI: {lfdi(client)}", f"SFDI: {sfdi(client)}", f"SHA-256: {fingerprint(client)}"]
    assert len(lfdi(client)) == 40 and lfdi(client) == fingerprint(client)[:40]

    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(p["client"] + p["other"])
    done = cli("lfdi", str(bundle))
    assert done.returncode == 2 and done.stdout == ""
    assert "index 0: CN=client" in done.stderr and "index 1: CN=other" in done.stderr and "--index N" in done.stderr
    done = cli("lfdi", str(bundle), "--index", "1")
    assert done.returncode == 0 and f"LFDI: {lfdi(other)}" in done.stdout
    assert done.stdout.startswith(f"Certificate: index 1 of 2 in {bundle} (chosen by index), subject CN=other,")

    header = f'Hash=00;Cert="{quote(p["client"].decode(), safe="")}";Subject="CN=client"'
    done = cli("lfdi", "--xfcc", header)
    assert done.returncode == 0 and f"LFDI: {lfdi(client)}" in done.stdout
    assert done.stdout.startswith("Certificate: index 0 of 1 in the --xfcc value (the only certificate)")
    forwarded = tmp_path / "xfcc.txt"
    forwarded.write_text(quote(p["other"].decode(), safe="") + "\n")
    done = cli("lfdi", str(forwarded))
    assert done.returncode == 0 and f"SFDI: {sfdi(other)}" in done.stdout

    assert cli("lfdi").returncode == 2
    done = cli("lfdi", str(tmp_path / "missing.pem"))
    assert done.returncode == 2 and "missing.pem" in done.stderr


def test_the_harness_takes_its_own_identity_from_the_leaf(pki: TestPki, tmp_path: Path) -> None:
    p = pems(pki)
    reversed_chain = tmp_path / "ca-then-client.pem"
    reversed_chain.write_bytes(p["ca"] + p["client"])
    profile = DutProfile(role="server", identity=Identity(cert=reversed_chain))
    assert builtin_variables(profile, "https://127.0.0.1:9")["client"]["lfdi"] == lfdi(der(p["client"]))

    bundle = tmp_path / "two-clients.pem"
    bundle.write_bytes(p["client"] + p["other"])
    (tmp_path / "dut.yaml").write_text("role: server\n")
    with pytest.raises(SessionConfigError, match=r"--csip-cert .*two-clients.pem: expected one device "
                                                 r"certificate in .*two-clients.pem"):
        HarnessSession(RunOptions(dut="https://127.0.0.1:9", cert=str(bundle), key=str(pki.clients["client"].key),
                                  ca=str(pki.ca), profile=str(tmp_path / "dut.yaml")))
