"""Files of the evidence bundle are replaced whole, never left half-written."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

# mkstemp makes owner-only files; the bundle's files get the permissions any new file would get.
_UMASK = os.umask(0)
os.umask(_UMASK)


def write_atomically(path: Path, text: str | bytes) -> None:
    """Replace path with text (UTF-8) or bytes without ever leaving a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if isinstance(text, bytes):
            with os.fdopen(handle, "wb") as binary:
                binary.write(text)
        else:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
                stream.write(text)
        os.chmod(temporary, 0o666 & ~_UMASK)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def file_sha256(path: Path) -> str | None:
    """SHA-256 of a file's bytes (64 hex digits), or None when it does not exist."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None
