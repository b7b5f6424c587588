"""The test equipment of a run, recorded automatically: the host, its software and the harness build.

ISO/IEC 17025 §7.8.2 asks a test report to identify the equipment used; for a software test harness that is
the machine, the libraries that parse, validate and carry the 2030.5 exchanges, and the exact harness build
(its version and, from a source checkout, its git commit and whether the tree had local changes).
"""

from __future__ import annotations

import platform
import socket
import ssl
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

# The libraries whose behaviour decides what the harness sends, parses and validates.
_LIBRARIES = ("lxml", "httpx", "xmlschema", "cryptography", "pytest")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def source_checkout(package_dir: Path | None = None) -> dict[str, Any] | None:
    """{commit, dirty} of the git checkout the harness runs from, or None (an installed wheel, no git).

    dirty is True when tracked files differ from the commit (`git status --porcelain --untracked-files=no`):
    a run from a modified tree is not the build its commit names.
    """
    root = (package_dir or Path(__file__).resolve().parents[1]).parent
    if not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}


def test_equipment() -> dict[str, Any]:
    """What results.json keeps as run.equipment: host, OS, Python, OpenSSL, libraries, harness build."""
    libraries = {name: _version(name) for name in _LIBRARIES}
    return {
        "host": socket.gethostname(),
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "openssl": ssl.OPENSSL_VERSION,
        "libraries": {name: version for name, version in libraries.items() if version},
        "harness": {"version": _version("csip-harness") or "unknown", "source": source_checkout(),
                    "executable": sys.executable},
    }
