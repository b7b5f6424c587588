"""MANIFEST.sha256 over the evidence bundle (sha256sum format), and its check."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from harness.report.files import write_atomically

MANIFEST = "MANIFEST.sha256"
# The detached signature over the manifest (harness.report.signing): it vouches for the manifest, which
# cannot list it, so it is outside the manifest too.
MANIFEST_SIGNATURE = MANIFEST + ".sig"
# A PEM private key of any kind (PKCS#8, SEC 1 "EC", PKCS#1 "RSA", encrypted) at the start of a file.
_PRIVATE_KEY_PEM = re.compile(rb"\A\s*-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")


@dataclass(frozen=True)
class ManifestProblem:
    """One way the bundle differs from its manifest, naming the file."""

    file: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def is_private_key(path: Path) -> bool:
    """Whether a file is a private key: named *.key, or beginning with a PEM private key block."""
    if path.suffix == ".key":
        return True
    try:
        with path.open("rb") as stream:
            return bool(_PRIVATE_KEY_PEM.match(stream.read(128)))
    except OSError:
        return False


def _files(out_dir: Path) -> list[Path]:
    return [path for path in out_dir.rglob("*")
            if (path.is_file() or path.is_symlink())
            and path.relative_to(out_dir).as_posix() not in (MANIFEST, MANIFEST_SIGNATURE)]


def private_keys(out_dir: Path) -> list[str]:
    """Private keys lying in the bundle directory (relative paths, sorted): never evidence, never listed."""
    return sorted(path.relative_to(out_dir).as_posix() for path in _files(out_dir) if is_private_key(path))


def bundle_files(out_dir: Path) -> list[str]:
    """Every file of the bundle, relative with '/' separators, sorted; the manifest and private keys excluded.

    A private key is a secret, not evidence: the manifest never lists one (nor its digest), and
    verify_manifest reports one found in the directory as a problem.
    """
    return sorted(path.relative_to(out_dir).as_posix() for path in _files(out_dir) if not is_private_key(path))


def write_manifest(out_dir: str | Path) -> Path:
    """Write DIR/MANIFEST.sha256 listing the SHA-256 of every file under DIR; `sha256sum -c` reads it."""
    root = Path(out_dir)
    lines = [f"{_digest(root / name)}  {name}\n" for name in bundle_files(root)]
    target = root / MANIFEST
    write_atomically(target, "".join(lines))
    return target


def _read_manifest(manifest: Path) -> tuple[dict[str, str], list[ManifestProblem]]:
    listed: dict[str, str] = {}
    problems = []
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        digest, separator, name = line.partition("  ")
        if not separator or len(digest) != 64 or not name:
            problems.append(ManifestProblem(f"{MANIFEST}:{number}", f"expected '<sha256>  <file>', saw {line!r}"))
            continue
        listed[name.removeprefix("*")] = digest.lower()
    return listed, problems


def verify_manifest(out_dir: str | Path) -> list[ManifestProblem]:
    """Every file changed, missing or added since the manifest was written; empty when the bundle is intact."""
    root = Path(out_dir)
    manifest = root / MANIFEST
    if not manifest.is_file():
        return [ManifestProblem(MANIFEST, f"expected a manifest at {manifest}, saw none")]
    listed, problems = _read_manifest(manifest)
    present = set(bundle_files(root))
    for name, digest in sorted(listed.items()):
        path = root / name
        if name not in present:
            if not (path.exists() and is_private_key(path)):  # a listed key is reported as a key, below
                problems.append(ManifestProblem(name, "listed in the manifest but missing"))
        elif _digest(path) != digest:
            problems.append(ManifestProblem(name, f"changed: expected sha256 {digest}, saw {_digest(path)}"))
    for name in sorted(present - set(listed)):
        problems.append(ManifestProblem(name, "not listed in the manifest (added after it was written)"))
    for name in private_keys(root):
        problems.append(ManifestProblem(name, "a private key inside the evidence bundle: expected none (a key is "
                                              "never evidence, and the manifest never lists one); move it out"))
    return problems
