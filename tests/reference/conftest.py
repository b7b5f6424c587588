"""Fixtures of the reference server's own tests: a clean server per module and its admin interface."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, start_reference_server


@pytest.fixture(scope="module")
def server(pki: TestPki) -> Iterator[ReferenceProcess]:
    """A defect-free reference server of the module's own (a module may override it with one of its own)."""
    with start_reference_server(pki) as started:
        yield started


@pytest.fixture()
def admin(server: ReferenceProcess) -> Iterator[httpx.Client]:
    """An httpx client of the server's admin interface, with its bearer token."""
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    with httpx.Client(base_url=server.admin_url, headers=headers, timeout=5) as client:
        yield client
