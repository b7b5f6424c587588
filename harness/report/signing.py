"""A detached signature over MANIFEST.sha256: the lab vouches for the whole evidence bundle with one key.

`csip-harness sign DIR --key lab.key` writes DIR/MANIFEST.sha256.sig; `csip-harness verify DIR --pubkey lab.pub`
checks every file against the manifest and the manifest against the signature, so a bundle whose files were
changed and whose manifest was then written again is caught too. Ed25519 keys sign the manifest's bytes;
ECDSA keys (P-256, P-384, P-521) sign their SHA-256 (the signature is DER). The signature file is text:

    csip-harness signature v1
    algorithm: ed25519 | ecdsa-sha256
    public-key-sha256: <SHA-256 of the public key's DER SubjectPublicKeyInfo>
    signature: <base64>

The private key is read, used and dropped: no output, message or file ever holds it or its path's content.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from harness.report.files import write_atomically
from harness.report.manifest import MANIFEST, MANIFEST_SIGNATURE

SIGNATURE = MANIFEST_SIGNATURE
_HEADER = "csip-harness signature v1"


class SigningError(ValueError):
    """A key or signature that cannot be used; str() says what was expected and what was seen, never a secret."""


@dataclass(frozen=True)
class Signed:
    """What sign() wrote: the signature file, its algorithm and the public key's fingerprint."""

    path: Path
    algorithm: str
    public_key_sha256: str


def _spki_sha256(public_key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SigningError(f"{path}: expected {what}, saw no such file") from None
    except IsADirectoryError:
        raise SigningError(f"{path}: expected {what}, saw a directory") from None
    except OSError as exc:
        raise SigningError(f"{path}: expected {what}, but it cannot be read: {exc.strerror or exc}") from None


def load_private_key(path: Path) -> ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey:
    """An unencrypted PEM Ed25519 or EC private key; SigningError otherwise (the message holds no key bytes)."""
    data = _read(path, "a PEM private key (Ed25519 or EC)")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise SigningError(f"{path}: expected an unencrypted private key, saw one protected by a passphrase "
                           "(decrypt it with `openssl pkey -in KEY -out PLAIN`)") from None
    except (ValueError, UnsupportedAlgorithm):
        public = b"PUBLIC KEY" in data or b"CERTIFICATE" in data
        seen = "a certificate or public key" if public else "no PEM private key"
        raise SigningError(f"{path}: expected a PEM private key (Ed25519 or EC), saw {seen}") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        kind = type(key).__name__.removeprefix("_")
        raise SigningError(f"{path}: expected an Ed25519 or EC private key, saw a {kind}"
                           " (make one with `openssl genpkey -algorithm ed25519 -out lab.key`)")
    return key


def load_public_key(path: Path) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey:
    """A PEM public key or certificate (its key is used), Ed25519 or EC; SigningError otherwise."""
    from cryptography import x509

    data = _read(path, "a PEM public key or certificate")
    try:
        key = (x509.load_pem_x509_certificate(data).public_key() if b"CERTIFICATE-----" in data
               else serialization.load_pem_public_key(data))
    except (ValueError, UnsupportedAlgorithm):
        seen = "a private key" if b"PRIVATE KEY" in data else "no PEM public key"
        raise SigningError(f"{path}: expected a PEM public key (Ed25519 or EC) or a certificate, "
                           f"saw {seen}") from None
    if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        kind = type(key).__name__.removeprefix("_")
        raise SigningError(f"{path}: expected an Ed25519 or EC public key, saw a {kind}")
    return key


def sign_manifest(out_dir: Path, key_file: Path) -> Signed:
    """Write out_dir/MANIFEST.sha256.sig over the manifest's bytes. Raises SigningError."""
    manifest = out_dir / MANIFEST
    message = _read(manifest, f"the bundle's {MANIFEST} (written when the run ended)")
    key = load_private_key(key_file)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        algorithm, signature = "ed25519", key.sign(message)
    else:
        algorithm, signature = "ecdsa-sha256", key.sign(message, ec.ECDSA(hashes.SHA256()))
    fingerprint = _spki_sha256(key.public_key())
    target = out_dir / SIGNATURE
    write_atomically(target, f"{_HEADER}\nalgorithm: {algorithm}\npublic-key-sha256: {fingerprint}\n"
                             f"signature: {base64.b64encode(signature).decode()}\n")
    return Signed(target, algorithm, fingerprint)


def verify_signature(out_dir: Path, public_key_file: Path) -> str | None:
    """Why the signature does not vouch for the manifest as it is now, or None when it does."""
    key = load_public_key(public_key_file)
    signature_file = out_dir / SIGNATURE
    if not signature_file.is_file():
        return f"{SIGNATURE}: expected the bundle's signature (csip-harness sign), saw none"
    fields = {}
    lines = signature_file.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines or lines[0] != _HEADER:
        return f"{SIGNATURE}: expected a file starting {_HEADER!r}, saw {lines[0][:60] if lines else 'an empty file'!r}"
    for line in lines[1:]:
        name, _, value = line.partition(": ")
        fields[name] = value.strip()
    try:
        signature = base64.b64decode(fields.get("signature", ""), validate=True)
    except ValueError:
        return f"{SIGNATURE}: expected a base64 signature, saw {fields.get('signature', '')[:40]!r}"
    if fields.get("public-key-sha256") and fields["public-key-sha256"] != _spki_sha256(key):
        return (f"{SIGNATURE}: signed with the key {fields['public-key-sha256']}, but {public_key_file} is the key "
                f"{_spki_sha256(key)}: expected the signer's public key")
    message = (out_dir / MANIFEST).read_bytes() if (out_dir / MANIFEST).is_file() else b""
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        else:
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return (f"{MANIFEST}: does not match its signature {SIGNATURE}: the manifest was changed or written "
                "again after it was signed")
    return None
