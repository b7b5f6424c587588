"""Files of the evidence bundle are replaced whole, never left half-written."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

# mkstemp makes owner-only files; the bundle's files get the permissions any new file would get.
_UMASK = os.umask(0)
os.umask(_UMASK)


def write_atomically(path: Path, text: str | bytes | Iterable[str]) -> None:
    """Replace path with text (UTF-8) or bytes without ever leaving a half-written file.

    text may also be an iterable of str pieces (a streamed template, one JSON entry at a time), written as
    they come so that the whole file is never held in memory at once.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if isinstance(text, bytes):
            with os.fdopen(handle, "wb") as binary:
                binary.write(text)
        else:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
                if isinstance(text, str):
                    stream.write(text)
                else:
                    stream.writelines(text)
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
