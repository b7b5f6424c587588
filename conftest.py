"""Fixtures shared by the harness's own tests: a test PKI and reference servers on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.pki import TestPki, make_test_pki
from harness.reference.process import ReferenceProcess, start_reference_server

ROOT = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """A CA, a loopback server certificate and two client certificates, made for this test run."""
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def reference_server(pki: TestPki) -> Iterator[ReferenceProcess]:
    """The defect-free reference server, with the 'client' certificate pre-registered (PIN 111115)."""
    with start_reference_server(pki) as server:
        yield server


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The checkout's root directory."""
    return ROOT
