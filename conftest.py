"""Fixtures shared by the harness's own tests: a test PKI and reference servers on loopback."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.pki import TestPki, make_test_pki
from harness.reference.process import ReferenceProcess, start_reference_server

ROOT = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked long_run (a whole-catalogue run, a fresh install) go first, one at the head of each batch that
    pytest-xdist hands a worker (tests/run: --maxschedchunk N gives each worker N tests at a time), so that the
    workers start them at once beside each other instead of one worker taking them all, or finding them last
    and running them alone at the end. The other tests keep their order, so a module's tests mostly stay on one
    worker and its module-scoped fixtures (reference servers) start once."""
    long = [item for item in items if item.get_closest_marker("long_run")]
    rest = [item for item in items if not item.get_closest_marker("long_run")]
    chunk = max(1, config.getoption("maxschedchunk", None) or 1)
    ordered: list[pytest.Item] = []
    for item in long:
        ordered.append(item)
        ordered.extend(rest[:chunk - 1])
        del rest[:chunk - 1]
    items[:] = ordered + rest


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


# What a copy of the source tree leaves out: local environments, VCS data and earlier build output.
_NOT_SOURCE = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
                                     "csip-results")


@pytest.fixture(scope="session")
def built_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package installed from its wheel, as `pip install .` installs it: the --target directory.

    Built once per session, offline (`pip wheel --no-deps --no-build-isolation`), from a copy of the source
    tree so that neither concurrent workers nor the build's own output touch the checkout. The directory
    also holds the console script, bin/csip-harness.
    """
    where = tmp_path_factory.mktemp("built")
    source, wheels, target = where / "source", where / "wheels", where / "site"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    built = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)],
                           capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = wheels.glob("csip_harness-*.whl")
    installed = subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
                               capture_output=True, text=True, timeout=300, check=False)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return target
