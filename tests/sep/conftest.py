"""The official IEEE 2030.5 schema, for the tests that compare our bundled schema with it.

The official ``sep.xsd`` may not be redistributed, so it is never in the repository: a developer who holds
a licensed copy names it in the environment variable ``CSIP_OFFICIAL_SCHEMA``, and the comparison tests
run; without it they are reported as skipped, naming the variable.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from harness.sep.schema import SchemaSet

OFFICIAL_VARIABLE = "CSIP_OFFICIAL_SCHEMA"
_COUNTS = pytest.StashKey[Counter[str]]()


def official_schema_path() -> Path | None:
    """The file named by CSIP_OFFICIAL_SCHEMA, or None when the variable is unset or empty."""
    value = os.environ.get(OFFICIAL_VARIABLE, "").strip()
    return Path(value) if value else None


@pytest.fixture(scope="session")
def official_path() -> Path:
    """Path of the official schema; skips the test when CSIP_OFFICIAL_SCHEMA is not set."""
    path = official_schema_path()
    if path is None:
        pytest.skip(f"{OFFICIAL_VARIABLE} is not set: name a licensed copy of the official IEEE 2030.5 sep.xsd "
                    "(it cannot be shipped) to compare the bundled schema with it")
    if not path.is_file():
        pytest.fail(f"{OFFICIAL_VARIABLE}={path} does not name a file")
    return path


@pytest.fixture(scope="session")
def official(official_path: Path) -> SchemaSet:
    """The official schema, loaded as the harness loads a --schema file."""
    return SchemaSet.from_path(official_path)


@pytest.fixture(scope="session")
def official_or_none() -> SchemaSet | None:
    """The official schema when CSIP_OFFICIAL_SCHEMA names it, else None (the test runs without comparing)."""
    path = official_schema_path()
    return SchemaSet.from_path(path) if path is not None else None


@pytest.fixture(scope="session")
def official_counts(request: pytest.FixtureRequest) -> Counter[str]:
    """Documents compared with the official schema in this session, and disagreements; shown in the summary."""
    return request.config.stash.setdefault(_COUNTS, Counter())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """One line with the official comparison's counts, when documents were compared."""
    counts = config.stash.get(_COUNTS, None)
    if counts and counts["documents"]:
        terminalreporter.write_line(
            f"official schema comparison ({OFFICIAL_VARIABLE}): {counts['documents']} documents and mutants "
            f"compared, {counts['cli documents']} of them through csip-harness validate, "
            f"{counts['disagreements']} disagreements"
        )
