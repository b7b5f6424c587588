"""The report works from an installed package, not only from a source checkout: templates and the results
schema are package data. The package is built with setuptools' build_py, i.e. the files a wheel would hold."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import Bundle


def test_report_renders_from_the_built_package_alone(failed_bundle: Bundle, built_package: Path,
                                                     tmp_path: Path) -> None:
    build = built_package
    assert (build / "harness" / "report" / "templates" / "report.html.j2").is_file()
    assert (build / "harness" / "report" / "schema" / "results.schema.json").is_file()
    # Run from elsewhere with only the built package first on the path: no checkout directory to lean on.
    env = {**os.environ, "PYTHONPATH": str(build), "CSIP_HARNESS_HOME": str(tmp_path / "no-checkout")}
    target = tmp_path / "report.html"
    done = subprocess.run(
        [sys.executable, "-c", "import sys, harness.cli; print(harness.cli.__file__); "
         "sys.exit(harness.cli.main(sys.argv[1:]))", "report", str(failed_bundle.out / "results.json"),
         "-o", str(target)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == str(build / "harness" / "cli.py")
    assert target.read_text() == (failed_bundle.out / "report.html").read_text()
