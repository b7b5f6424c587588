"""Signed evidence through the real CLI: `sign DIR --key` writes a detached signature over MANIFEST.sha256 and
`verify DIR --pubkey` checks files and signature, so a bundle altered and re-sealed with a regenerated manifest
is caught; the private key never appears in any output."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from harness.report.manifest import write_manifest

from .conftest import Bundle, run_cli


def _keys(tmp_path: Path, kind: str) -> tuple[Path, Path, bytes]:
    private = ed25519.Ed25519PrivateKey.generate() if kind == "ed25519" else ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    key, pub = tmp_path / f"lab-{kind}.key", tmp_path / f"lab-{kind}.pub"
    key.write_bytes(pem)
    pub.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo))
    raw = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key, pub, raw


def _secret_shown(output: str, key: Path, raw: bytes) -> bool:
    body = "".join(key.read_text().splitlines()[1:-1])
    return body[:40] in output.replace("\n", "") or base64.b64encode(raw).decode()[:40] in output


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa"])
def test_sign_then_verify_and_a_regenerated_manifest_is_caught(failed_bundle: Bundle, tmp_path: Path,
                                                               kind: str) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(failed_bundle.out, bundle)
    key, pub, raw = _keys(tmp_path, kind)
    outputs = []

    signed = run_cli("sign", str(bundle), "--key", str(key))
    outputs.append(signed.stdout + signed.stderr)
    assert signed.returncode == 0, signed.stdout + signed.stderr
    algorithm = "ed25519" if kind == "ed25519" else "ecdsa-sha256"
    assert "MANIFEST.sha256.sig" in signed.stdout and algorithm in signed.stdout
    ok = run_cli("verify", str(bundle), "--pubkey", str(pub))
    outputs.append(ok.stdout + ok.stderr)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "and its signature verifies" in ok.stdout
    plain = run_cli("verify", str(bundle))  # the signature is outside the manifest, and said to be unchecked
    assert plain.returncode == 0 and "was not checked: give --pubkey" in plain.stdout

    # Someone changes a verdict and seals the bundle again: the manifest matches the files, the signature does not.
    results = bundle / "results.json"
    results.write_text(results.read_text().replace('"verdict": "failed"', '"verdict": "passed"'))
    write_manifest(bundle)
    assert run_cli("verify", str(bundle)).returncode == 0  # hashes alone cannot tell
    caught = run_cli("verify", str(bundle), "--pubkey", str(pub))
    outputs.append(caught.stdout + caught.stderr)
    assert caught.returncode == 1, caught.stdout
    assert "MANIFEST.sha256: does not match its signature MANIFEST.sha256.sig" in caught.stdout
    assert "written again after it was signed" in caught.stdout and "FAILED: 1 problem(s)" in caught.stdout
    assert not any(_secret_shown(output, key, raw) for output in outputs)
    assert not _secret_shown((bundle / "MANIFEST.sha256.sig").read_text(), key, raw)


def test_a_changed_file_is_caught_and_an_altered_bundle_is_not_signed(failed_bundle: Bundle, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(failed_bundle.out, bundle)
    key, pub, _ = _keys(tmp_path, "ed25519")
    assert run_cli("sign", str(bundle), "--key", str(key)).returncode == 0
    (bundle / "csip-summary.csv").write_text("procedure\r\n")
    changed = run_cli("verify", str(bundle), "--pubkey", str(pub))
    assert changed.returncode == 1 and "csip-summary.csv: changed" in changed.stdout
    refused = run_cli("sign", str(bundle), "--key", str(key))
    assert refused.returncode == 1 and "not signed" in refused.stderr


def test_the_wrong_key_and_unusable_keys_are_named_without_a_traceback(failed_bundle: Bundle, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(failed_bundle.out, bundle)
    key, _, raw = _keys(tmp_path, "ed25519")
    (tmp_path / "other").mkdir()
    _, other_pub, _ = _keys(tmp_path / "other", "ecdsa")
    assert run_cli("sign", str(bundle), "--key", str(key)).returncode == 0
    wrong = run_cli("verify", str(bundle), "--pubkey", str(other_pub))
    assert wrong.returncode == 1 and "expected the signer's public key" in wrong.stdout
    rsa_key = tmp_path / "rsa.key"
    rsa_key.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    for args, expected in ((["sign", str(bundle), "--key", str(rsa_key)], "expected an Ed25519 or EC private key"),
                           (["sign", str(bundle), "--key", str(tmp_path / "none.key")], "saw no such file"),
                           (["verify", str(bundle), "--pubkey", str(key)], "saw a private key"),
                           (["sign", str(bundle), "--key", str(bundle / "report.html")], "saw no PEM private key")):
        done = run_cli(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert expected in done.stderr and "Traceback" not in done.stderr
        assert not _secret_shown(done.stdout + done.stderr, key, raw)
