"""Where the project's data directories are: testcases/, reports/, fixtures/ beside the package."""

from __future__ import annotations

import os
from pathlib import Path

_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def project_dir(name: str) -> Path:
    """A top-level project directory (testcases, reports, fixtures); CSIP_HARNESS_HOME overrides the root."""
    root = Path(os.environ.get("CSIP_HARNESS_HOME", _PROJECT_ROOT))
    path = root / name
    if not path.is_dir():
        raise FileNotFoundError(
            f"expected the csip-harness {name}/ directory at {path}; install csip-harness from its source "
            f"checkout (pip install -e .) or set CSIP_HARNESS_HOME to that checkout"
        )
    return path
