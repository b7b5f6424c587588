"""Private keys: created owner-only (0600) from the first byte, and never inside an evidence bundle."""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.pki import make_test_pki
from harness.pki_profiles import CERTIFICATE_PROFILES
from harness.report.manifest import MANIFEST, verify_manifest, write_manifest

# Every identity the run's PKI makes: the device certificates and the COMM-003/004 profiles.
IDENTITIES = ("client", "other", "aggregator", *CERTIFICATE_PROFILES)
KEY_NAMES = {"ca.key", "server.key", "listener.key", *(f"{name}.key" for name in IDENTITIES)}
CERT_NAMES = {"ca.pem", "server.pem", "listener.pem", "foreign-ca.pem", *(f"{name}.pem" for name in IDENTITIES)}


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path, follow_symlinks=False).st_mode)


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          timeout=timeout, check=False, env={**os.environ, **(env or {})}, start_new_session=True)


def test_keys_are_0600_even_under_a_permissive_umask(tmp_path: Path) -> None:
    # A fresh interpreter with umask 0: a write-then-chmod would create the key 0666 first; certificates
    # show what that umask gives any other new file.
    script = "import os, sys; os.umask(0); from harness.pki import make_test_pki; make_test_pki(sys.argv[1])"
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "pki")], check=True, timeout=60)
    for name in KEY_NAMES:
        assert mode(tmp_path / "pki" / name) == 0o600, name
    for name in CERT_NAMES:
        assert mode(tmp_path / "pki" / name) == 0o666, name


def test_an_existing_key_or_link_is_replaced_not_written_through(tmp_path: Path) -> None:
    out = tmp_path / "pki"
    out.mkdir()
    (out / "client.key").write_text("old, world-readable")
    os.chmod(out / "client.key", 0o644)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not a key")
    (out / "server.key").symlink_to(elsewhere)
    pki = make_test_pki(out, key_dir=out)
    assert mode(pki.clients["client"].key) == 0o600 and mode(pki.server.key) == 0o600
    assert not pki.server.key.is_symlink() and elsewhere.read_text() == "not a key"
    assert pki.clients["client"].key.read_text().startswith("-----BEGIN PRIVATE KEY-----")


def test_keys_can_live_apart_from_certificates(tmp_path: Path) -> None:
    pki = make_test_pki(tmp_path / "certs", key_dir=tmp_path / "keys")
    assert {p.name for p in (tmp_path / "certs").iterdir()} == CERT_NAMES
    assert {p.name for p in (tmp_path / "keys").iterdir()} == KEY_NAMES
    assert mode(tmp_path / "keys") == 0o700 and pki.clients["client"].key.parent == tmp_path / "keys"


def test_pki_and_serve_write_keys_0600(tmp_path: Path) -> None:
    done = cli("pki", "--out", str(tmp_path / "pki"))
    assert done.returncode == 0, done.stderr
    assert {name: mode(tmp_path / "pki" / name) for name in KEY_NAMES} == dict.fromkeys(KEY_NAMES, 0o600)
    serve = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--out", str(tmp_path / "ref")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert serve.stdout is not None
        assert serve.stdout.readline().startswith("reference 2030.5 server: https://"), serve.stderr
        keys = {name: mode(tmp_path / "ref" / "pki" / name) for name in KEY_NAMES}
        assert keys == dict.fromkeys(KEY_NAMES, 0o600)
    finally:
        serve.terminate()
        serve.communicate(timeout=30)


def test_a_reference_run_keeps_its_keys_out_of_the_bundle_and_removes_them(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    out = tmp_path / "out"
    (out / "pki").mkdir(parents=True)
    (out / "pki" / "client.key").write_text("a key an older harness left in the bundle")
    done = cli("run", "--reference", "-k", "CORE-005", "--out", str(out), env={"TMPDIR": str(temporary)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert {p.name for p in (out / "pki").iterdir()} == CERT_NAMES
    assert not [p for p in out.rglob("*.key")]
    manifest = (out / MANIFEST).read_text()
    assert "pki/client.pem" in manifest and ".key" not in manifest and "PRIVATE" not in manifest
    # The private key directory was under TMPDIR and is gone with the run (so is the reference server's).
    assert list(temporary.iterdir()) == []
    assert cli("verify", str(out)).returncode == 0


@pytest.mark.parametrize("when", ["keys made", "cases running"])
def test_a_terminated_reference_run_removes_its_keys(tmp_path: Path, when: str) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", "--reference", "--out", str(out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "TMPDIR": str(temporary)}, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        keys: list[Path] = []
        while time.monotonic() < deadline and not (keys and (when == "keys made" or (out / "results.json").exists())):
            keys = [d for d in temporary.glob("csip-harness-keys-*") if (d / "client.key").is_file()]
            time.sleep(0.01)
        assert keys, f"expected the run's private key directory under TMPDIR once {when}, saw none within 30 s"
        [key_dir] = keys
        assert mode(key_dir) == 0o700 and mode(key_dir / "client.key") == 0o600
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == -signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not key_dir.exists()
    assert not list(temporary.glob("csip-reference-*")), "the reference server was left running"


def test_a_key_put_in_the_bundle_is_never_listed_and_verify_names_it(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "results.json").write_text("{}")
    pki = make_test_pki(tmp_path / "elsewhere")
    (bundle / "identity.pem").write_bytes(pki.clients["client"].key.read_bytes())  # a key under another name
    write_manifest(bundle)
    listed = (bundle / MANIFEST).read_text().splitlines()
    assert len(listed) == 1 and listed[0].endswith("  results.json")
    problems = {p.file: p.problem for p in verify_manifest(bundle)}
    assert set(problems) == {"identity.pem"} and "a private key inside the evidence bundle" in problems["identity.pem"]


def test_a_bundle_from_an_older_harness_that_listed_its_keys_fails_verify_naming_them(tmp_path: Path) -> None:
    pki = make_test_pki(tmp_path / "pki")  # certificates and keys together, as older harnesses left them
    (tmp_path / "results.json").write_text("{}")
    listing = "".join(f"{hashlib.sha256((tmp_path / n).read_bytes()).hexdigest()}  {n}\n"
                      for n in ("pki/ca.pem", "pki/client.key", "results.json"))
    (tmp_path / MANIFEST).write_text(listing)
    problems = {p.file: p.problem for p in verify_manifest(tmp_path)}
    keys = {f"pki/{name}" for name in KEY_NAMES}
    assert set(problems) == keys | {f"pki/{name}" for name in CERT_NAMES - {"ca.pem"}}
    assert all(problems[k].startswith("a private key inside the evidence bundle") for k in keys)
    assert pki.clients["client"].key.exists()
