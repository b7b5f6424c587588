"""The README's test command works where nothing was installed beforehand, and CI runs exactly it: tests/run
makes its own environment in a fresh copy of the source tree, says what to do when chromium is missing and
cannot be installed, and the browser test fails (never skips) without chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# What a fresh copy of the source tree leaves out: local environments, VCS data, build output, caches.
NOT_SOURCE = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
                                    "csip-results")


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a new shell: none of this test run's own virtual environment or pytest state."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "VIRTUAL_ENV", "PYTHON")) and k != "CSIP_CHROMIUM"}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return {**env, **extra}


def test_ci_runs_exactly_the_readme_test_command(project_root: Path) -> None:
    readme = (project_root / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.DOTALL)
    command = blocks[1].strip()  # the second command of the README: the project's own tests
    assert command == "tests/run"
    ci = [line for line in (project_root / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.startswith("#")]
    assert ci[-1] == command


@pytest.mark.long_run
def test_the_test_command_makes_its_own_environment_in_a_fresh_copy(project_root: Path, tmp_path: Path) -> None:
    copy = tmp_path / "checkout"
    shutil.copytree(project_root, copy, ignore=NOT_SOURCE)
    command = [str(copy / "tests" / "run"), "-q", "-p", "no:cacheprovider", "tests/test_catalogue.py"]
    done = subprocess.run(command, cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=900,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All checks passed!" in done.stdout  # ruff first
    assert re.search(r"^\d+ passed", done.stdout, re.MULTILINE), done.stdout
    venv = copy / ".venv" / "pyvenv.cfg"
    made = venv.stat().st_mtime_ns
    # Run again: the environment is reused, not made anew.
    again = subprocess.run(command, cwd=copy, env=_clean_env(), capture_output=True, text=True, timeout=900,
                           check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert venv.stat().st_mtime_ns == made


def test_without_chromium_and_no_way_to_install_it_the_test_command_says_what_to_do(project_root: Path,
                                                                                    tmp_path: Path) -> None:
    # A PATH with a shell and the basic tools but no apt-get: chromium cannot be installed.
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("bash", "dirname", "id"):
        found = shutil.which(name)
        assert found is not None, name
        (tools / name).symlink_to(found)
    missing = tmp_path / "no-chromium"
    done = subprocess.run([str(project_root / "tests" / "run")], cwd=tmp_path, capture_output=True, text=True,
                          env=_clean_env(PATH=str(tools), CSIP_CHROMIUM=str(missing)), timeout=60, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert (f"tests/run: the report's browser test needs Debian's chromium at {missing}, saw none, and cannot "
            "install it: apt-get was not found.") in done.stderr
    assert "sudo apt-get install -y chromium" in done.stderr and "CSIP_CHROMIUM" in done.stderr
    assert not (project_root / "tests" / ".venv").exists()


def test_the_browser_test_fails_rather_than_skips_without_chromium(project_root: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfEs", "tests/report/test_browser.py"],
        cwd=project_root, env={**os.environ, "CSIP_CHROMIUM": str(tmp_path / "no-chromium")},
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "expected Debian's chromium at /usr/bin/chromium (or the executable CSIP_CHROMIUM names)" in done.stdout
    assert "1 error" in done.stdout and "skipped" not in done.stdout
