"""MANIFEST.sha256 over the evidence bundle (sha256sum format), and its check."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from harness.report.files import write_atomically

MANIFEST = "MANIFEST.sha256"


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


def bundle_files(out_dir: Path) -> list[str]:
    """Every file of the bundle, relative with '/' separators, sorted; the manifest itself excluded."""
    return sorted(
        path.relative_to(out_dir).as_posix()
        for path in out_dir.rglob("*")
        if (path.is_file() or path.is_symlink()) and path.relative_to(out_dir).as_posix() != MANIFEST
    )


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
            problems.append(ManifestProblem(name, "listed in the manifest but missing"))
        elif _digest(path) != digest:
            problems.append(ManifestProblem(name, f"changed: expected sha256 {digest}, saw {_digest(path)}"))
    for name in sorted(present - set(listed)):
        problems.append(ManifestProblem(name, "not listed in the manifest (added after it was written)"))
    return problems
