"""Fixtures shared by the harness's own tests: a test PKI and reference servers on loopback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.pki import TestPki, make_test_pki
from harness.reference.process import ReferenceProcess, start_reference_server

ROOT = Path(__file__).resolve().parent


@pytest.fixture(scope="session", autouse=True)
def private_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """XDG_CACHE_HOME for this test run: the `csip-harness run`s the tests start keep their pytest cache
    (what --lf reads) there, never in the user's own ~/.cache."""
    cache = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(cache))
        yield cache


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


@pytest.fixture(scope="session")
def built_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package as a wheel would hold it (setuptools' build_py into a fresh directory), built once."""
    where = tmp_path_factory.mktemp("built")
    build, egg = where / "build", where / "egg"
    egg.mkdir()
    built = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", "import setuptools; setuptools.setup()", "-q",
         "egg_info", "--egg-base", str(egg), "build_py", "--build-lib", str(build)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert built.returncode == 0, built.stderr
    return build
