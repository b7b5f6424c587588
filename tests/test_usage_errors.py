"""Usage errors: one line naming the option as the user typed it, before anything runs.

`csip-harness run` exits 2 before pytest's banner; plain pytest stops with its own usage error (exit 4)
before collection. Every test here runs the real command in a subprocess.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from harness.pki import TestPki, make_test_pki
from harness.reference.process import ReferenceProcess

from .tls_peers import issue_client

CASE = Path(__file__).resolve().parent.parent / "testcases" / "server" / "CORE-005.yaml"


@pytest.fixture(scope="module")
def usage_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """A PKI of this module's own: the certificates below are issued by its CA."""
    pki = make_test_pki(tmp_path_factory.mktemp("usage-pki"))
    issue_client(pki, "expired", days_valid=(-30, -1))
    issue_client(pki, "future", days_valid=(10, 30))
    issue_client(pki, "server-only", usages=(ExtendedKeyUsageOID.SERVER_AUTH,))
    issue_client(pki, "no-signature", digital_signature=False)
    return pki


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=60, check=False, start_new_session=True)


def identity(pki: TestPki, name: str = "client") -> list[str]:
    directory = pki.ca.parent
    return ["--cert", str(directory / f"{name}.pem"), "--key", str(directory / f"{name}.key"), "--ca", str(pki.ca)]


def assert_usage_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 2, nothing on stdout (no pytest banner), one line on stderr holding every word, no traceback."""
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


# Each row: the arguments after `run --out OUT` (given the PKI's directory), and what the line must say.
Args = Callable[[TestPki], list[str]]
CLI_CASES: dict[str, tuple[Args, tuple[str, ...]]] = {
    "no cert": (lambda p: ["--dut", "https://127.0.0.1:9"], ("--cert: expected the client certificate", "saw none")),
    "no key": (lambda p: ["--dut", "https://127.0.0.1:9", "--cert", str(p.ca.parent / "client.pem")],
               ("--key: expected the client private key",)),
    "missing cert file": (lambda p: ["--dut", "https://127.0.0.1:9", "--cert", "nope.pem", "--key", "nope.key"],
                          ("--cert nope.pem: expected a client certificate (PEM), saw no such file",)),
    "key of another certificate": (
        lambda p: ["--dut", "https://127.0.0.1:9", "--cert", str(p.ca.parent / "client.pem"),
                   "--key", str(p.ca.parent / "other.key")],
        ("--key ", "other.key: expected the private key of the certificate", "saw the key of another certificate")),
    "key and cert swapped": (
        lambda p: ["--dut", "https://127.0.0.1:9", "--cert", str(p.ca.parent / "client.key"),
                   "--key", str(p.ca.parent / "client.pem")],
        ("--cert ", "client.key: expected a PEM or DER certificate, saw a private key")),
    "malformed key": (
        lambda p: ["--dut", "https://127.0.0.1:9", "--cert", str(p.ca.parent / "client.pem"),
                   "--key", str(p.ca.parent / "ca.pem")],
        ("--key ", "ca.pem: expected a PEM private key, saw a certificate")),
    "malformed CA": (lambda p: [*identity(p)[:4], "--dut", "https://127.0.0.1:9", "--ca", str(CASE)],
                     ("--ca ", "CORE-005.yaml: expected one or more PEM CA certificates, saw no PEM block")),
    "unreadable cert": (lambda p: ["--dut", "https://127.0.0.1:9", "--cert", str(p.ca.parent), "--key", "k"],
                        ("--cert ", "expected a client certificate (PEM), saw a directory")),
    "expired cert": (lambda p: ["--dut", "https://127.0.0.1:9", *identity(p, "expired")],
                     ("--cert ", "expired.pem: the client certificate expired on ", "give a valid client certificate "
                      "with --cert")),
    "not yet valid cert": (lambda p: ["--dut", "https://127.0.0.1:9", *identity(p, "future")],
                           ("future.pem: the client certificate is not valid before ", "clock")),
    "server certificate as client": (
        lambda p: ["--dut", "https://127.0.0.1:9", *identity(p, "server-only")],
        ("server-only.pem: its extendedKeyUsage (serverAuth) does not allow TLS client authentication (clientAuth)",)),
    "no digitalSignature": (lambda p: ["--dut", "https://127.0.0.1:9", *identity(p, "no-signature")],
                            ("no-signature.pem: its keyUsage lacks digitalSignature",)),
    "missing profile": (lambda p: ["--dut", "https://127.0.0.1:9", *identity(p), "--profile", "nope.yaml"],
                        ("--profile nope.yaml: expected a DUT profile (YAML), saw no such file",)),
    "no scheme": (lambda p: ["--dut", "127.0.0.1:34463", *identity(p)],
                  ("--dut 127.0.0.1:34463: expected an address with its scheme, e.g. https://127.0.0.1:34463",)),
    "bad port": (lambda p: ["--dut", "https://127.0.0.1:84x3", *identity(p)],
                 ("--dut https://127.0.0.1:84x3: expected a port number from 1 to 65535", "saw '84x3'")),
    "port out of range": (lambda p: ["--dut", "https://127.0.0.1:70000", *identity(p)], ("saw '70000'",)),
    "no host": (lambda p: ["--dut", "https://:8443", *identity(p)],
                ("--dut https://:8443: expected a host name or IP address after https://, saw none",)),
    "unsupported scheme": (lambda p: ["--dut", "ftp://127.0.0.1:21", *identity(p)],
                           ("expected an https:// (or nats://, tls:// for NATS) address, saw the scheme 'ftp://'",)),
    "plain http not asked for": (lambda p: ["--dut", "http://127.0.0.1:8080", *identity(p)],
                                 ("--dut http://127.0.0.1:8080: expected https://", "add --plain-http")),
    "bad http url": (lambda p: ["--dut", "https://127.0.0.1:9", *identity(p), "--http-url", "https://x:1"],
                     ("--http-url https://x:1: expected the plain-HTTP address http://HOST[:PORT]",)),
    "bad var": (lambda p: ["--dut", "https://127.0.0.1:9", *identity(p), "--var", "x"],
                ("--var: expected NAME=VALUE",)),
    "missing cases": (lambda p: ["--reference", "--cases", "nowhere"],
                      ("--cases nowhere: expected a test-case file or directory, saw no such file",)),
    "no dut": (lambda p: [], ("give --dut https://HOST:PORT", "--reference")),
    "bad listener address": (lambda p: ["--dut", "https://127.0.0.1:9", *identity(p), "--listener", "nonsense"],
                             ("--listener nonsense: expected HOST:PORT to listen on, e.g. 0.0.0.0:8444",)),
    "listener url over plain http": (
        lambda p: ["--dut", "https://127.0.0.1:9", *identity(p), "--listener-url", "http://10.0.0.7:8444"],
        ("--listener-url http://10.0.0.7:8444: expected https:// (IEEE 2030.5 runs over TLS)",)),
    "missing listener certificate": (
        lambda p: ["--dut", "https://127.0.0.1:9", *identity(p), "--listener-cert", "nope.pem"],
        ("--listener-cert nope.pem: expected the notification listener's cert (PEM), saw no such file",)),
    "nats transport to an https address": (
        lambda p: ["--dut", "https://127.0.0.1:9", *identity(p), "--transport", "nats"],
        ("--transport nats: expected a nats:// or tls:// DUT address (a NATS server), saw 'https://127.0.0.1:9'",)),
    "nats address without a host": (lambda p: ["--dut", "nats://:4222", *identity(p)],
                                    ("expected a nats:// or tls:// address with a host, saw 'nats://:4222'",)),
}


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_each_usage_error_of_run_is_one_line_exit_2_naming_the_option_as_typed(
    name: str, usage_pki: TestPki, tmp_path: Path
) -> None:
    args, words = CLI_CASES[name]
    out = tmp_path / "out"
    done = cli("run", "--out", str(out), *args(usage_pki), cwd=tmp_path)
    assert_usage_error(done, *words)
    assert not out.exists()  # refused before anything ran: no evidence folder either


def test_a_broken_profile_names_the_option_and_the_file_and_line(usage_pki: TestPki, tmp_path: Path) -> None:
    profile = tmp_path / "dut.yaml"
    profile.write_text("role: server\ncapabilities: [time, edev-lst]\n")
    done = cli("run", "--dut", "https://127.0.0.1:9", *identity(usage_pki), "--profile", str(profile))
    assert_usage_error(done, f"--profile: {profile}:2: capabilities: unknown capability 'edev-lst'; did you mean "
                             "'edev-list'?")
    profile.write_text("role: server\ntitle: [unclosed\n")
    assert_usage_error(cli("run", "--reference", "--profile", str(profile)), f"--profile: {profile}:2:")


def test_values_from_the_profile_are_named_by_their_key_file_and_line(usage_pki: TestPki, tmp_path: Path) -> None:
    profile = tmp_path / "dut.yaml"
    profile.write_text(f"role: server\nbase_url: https://127.0.0.1:9\nidentity:\n  cert: missing.pem\n"
                       f"  key: {usage_pki.ca.parent / 'client.key'}\n")
    done = cli("run", "--dut", "https://127.0.0.1:9", "--profile", str(profile))
    assert_usage_error(done, f"identity.cert in {profile}:4 {tmp_path / 'missing.pem'}: expected a client "
                             "certificate (PEM), saw no such file")
    profile.write_text(f"role: server\nbase_url: https://127.0.0.1:9\nidentity:\n"
                       f"  cert: {usage_pki.ca.parent / 'client.pem'}\n  key: {usage_pki.ca.parent / 'client.key'}\n"
                       "listener:\n  address: 10.0.0.7\n")
    done = cli("run", "--dut", "https://127.0.0.1:9", "--profile", str(profile))
    assert_usage_error(done, f"listener.address in {profile}:7 10.0.0.7: expected HOST:PORT to listen on")
    profile.write_text("role: server\nbase_url: http://127.0.0.1:9\n")
    done = cli("run", "--dut", "http://127.0.0.1:9", "--profile", str(profile))
    assert_usage_error(done, "add --plain-http (or tls: {plain_http: true} in the profile)")
    # The profile may ask for plain HTTP itself; the run then goes ahead (and its pre-flight finds no listener).
    profile.write_text("role: server\nbase_url: http://127.0.0.1:9\ntls: {plain_http: true}\n")
    done = cli("run", "--profile", str(profile), "--dut", "http://127.0.0.1:9", "--cases", str(CASE),
               "--out", str(tmp_path / "out"))
    assert done.returncode == 1 and "pre-flight: nothing is listening at 127.0.0.1:9" in done.stdout, done.stdout


def pytest_run(tmp_path: Path, *args: str, ini: str = "") -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\n" + ini)
    return subprocess.run([sys.executable, "-m", "pytest", str(CASE), "-c", str(tmp_path / "pytest.ini"),
                           "-p", "no:cacheprovider", *args], capture_output=True, text=True, cwd=tmp_path,
                          timeout=60, check=False, env={k: v for k, v in os.environ.items()
                                                        if k != "CSIP_HARNESS_OPTION_STYLE"})


def assert_pytest_usage_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    """pytest's usage error (exit 4), before its banner and collection, with one csip-harness line."""
    assert done.returncode == 4, done.stdout + done.stderr
    assert "test session starts" not in done.stdout and "Traceback" not in done.stderr
    line = next(line for line in done.stderr.splitlines() if "csip-harness:" in line)
    assert line.startswith("ERROR: csip-harness: ")
    for word in words:
        assert word in line, (word, line)


@pytest.mark.long_run
def test_under_pytest_the_pytest_option_and_the_ini_key_are_named(usage_pki: TestPki, tmp_path: Path) -> None:
    directory = usage_pki.ca.parent
    done = pytest_run(tmp_path, "--csip-dut", "https://127.0.0.1:9", "--csip-cert", "nope.pem",
                      "--csip-key", str(directory / "client.key"))
    assert_pytest_usage_error(done, "--csip-cert nope.pem: expected a client certificate (PEM), saw no such file")
    done = pytest_run(tmp_path, ini=f"csip_dut = https://127.0.0.1:9\ncsip_cert = nope.pem\n"
                                    f"csip_key = {directory / 'client.key'}\n")
    assert_pytest_usage_error(done, f"csip_cert in pytest.ini {tmp_path / 'nope.pem'}: expected a client "
                                    "certificate (PEM), saw no such file")
    # The command line wins over the ini file, and is named as such.
    done = pytest_run(tmp_path, "--csip-cert", str(directory / "expired.pem"), "--csip-key",
                      str(directory / "expired.key"), ini="csip_dut = https://127.0.0.1:9\ncsip_cert = nope.pem\n")
    assert_pytest_usage_error(done, "--csip-cert ", "expired.pem: the client certificate expired on ")
    done = pytest_run(tmp_path, "--csip-dut", "https://127.0.0.1:9", "--csip-cert", str(directory / "client.pem"),
                      "--csip-key", str(directory / "client.key"), "--csip-tls-verify", "sometimes")
    assert_pytest_usage_error(done, "--csip-tls-verify: expected TLS verification full, chain or none")
    done = pytest_run(tmp_path, "--csip-dut", "localhost:8443")
    assert_pytest_usage_error(done, "--csip-dut localhost:8443: expected an address with its scheme, e.g. "
                                    "https://localhost:8443")
    done = pytest_run(tmp_path, "--csip-dut", "http://127.0.0.1:9")
    assert_pytest_usage_error(done, "add --csip-plain-http")


def test_plain_http_runs_when_asked_for(reference_server: ReferenceProcess, tmp_path: Path) -> None:
    """--plain-http lets an http:// DUT through: the case talks plain HTTP; with no listener, the pre-flight says so."""
    case = tmp_path / "testcases" / "LAB-001.yaml"
    case.parent.mkdir()
    case.write_text('id: LAB-001\ntitle: DeviceCapability\nversion: "1"\nrole: server\nprocedure: {doc: lab, '
                    'version: "1"}\nsteps:\n  - name: GET dcap\n    request: {method: GET, path: /dcap}\n'
                    '    expect: {status: 200}\n')
    out = tmp_path / "out"
    done = cli("run", "--dut", reference_server.http_url, "--plain-http", "--cases", str(case), "--out", str(out))
    assert done.returncode in (0, 1) and "pre-flight" not in done.stdout, done.stdout + done.stderr
    test = json.loads((out / "results.json").read_text())["tests"][0]
    exchanges = [exchange for step in test["steps"] for exchange in step["exchanges"]]
    assert exchanges and all(exchange["url"].startswith(reference_server.http_url) for exchange in exchanges)
    assert exchanges[0]["status"] is not None and exchanges[0]["tls"] is None

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = cli("run", "--dut", f"http://127.0.0.1:{port}", "--plain-http", "--cases", str(CASE), "--out",
               str(tmp_path / "closed"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"pre-flight: nothing is listening at 127.0.0.1:{port}" in done.stdout
