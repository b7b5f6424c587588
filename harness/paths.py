"""Where the project's data directories are: the bundled test cases and DUT profiles, in an installed package
(harness/bundled/, package data) or in a source checkout (testcases/ and fixtures/ beside the package)."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
# pyproject maps the checkout's top-level testcases/ and fixtures/ into the wheel as harness/bundled/<name>.
_BUNDLED = _PACKAGE / "bundled"
_CHECKOUT = _PACKAGE.parent


def project_dir(name: str) -> Path:
    """A data directory of the project, by its top-level name: 'testcases', 'fixtures' (or 'reports').

    Looked up in order: $CSIP_HARNESS_HOME/<name> when that directory exists (a checkout or a lab's copy),
    the installed package's harness/bundled/<name>, the source checkout's <name>/. Raises FileNotFoundError
    naming every place looked at when none holds it.
    """
    candidates = []
    home = os.environ.get("CSIP_HARNESS_HOME")
    if home:
        candidates.append(Path(home) / name)
    # The package's copy before the checkout's: beside an installed package lies site-packages, where another
    # distribution may have put a directory of the same name.
    candidates += [_BUNDLED / name, _CHECKOUT / name]
    for path in candidates:
        if path.is_dir():
            return path
    raise FileNotFoundError(
        f"expected the csip-harness {name}/ directory, saw none at {', '.join(map(str, candidates))}; "
        f"reinstall csip-harness (pip install csip-harness, or pip install -e . in its checkout) or set "
        f"CSIP_HARNESS_HOME to a directory holding {name}/"
    )
