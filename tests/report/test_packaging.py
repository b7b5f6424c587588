"""The report works from an installed package, not only from a source checkout: templates and the results
schema are package data. The package is built with setuptools' build_py, i.e. the files a wheel would hold."""

from __future__ import annotations

import json
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


def test_run_reference_from_the_installed_wheel_alone(built_package: Path, project_root: Path, tmp_path: Path) -> None:
    # `pip install .` then `csip-harness run --reference` from anywhere: cases, profiles and the catalogue ship
    # in the wheel. No checkout on the path, and CSIP_HARNESS_HOME points nowhere.
    site = built_package
    assert (site / "harness" / "bundled" / "testcases" / "server" / "CORE-005.yaml").is_file()
    assert (site / "harness" / "bundled" / "fixtures" / "profiles" / "reference-server.yaml").is_file()
    bundled = site / "harness" / "bundled"
    env = {**os.environ, "PYTHONPATH": str(site), "CSIP_HARNESS_HOME": str(tmp_path / "no-checkout")}
    # Every case file is in the wheel; two of them run from it (the whole catalogue runs in test_cli).
    source = project_root / "testcases"
    assert sorted(p.relative_to(bundled / "testcases") for p in (bundled / "testcases").rglob("*.yaml")) == sorted(
        p.relative_to(source) for p in source.rglob("*.yaml"))
    done = subprocess.run([str(site / "bin" / "csip-harness"), "run", "--reference", "--time-scale", "0.01",
                           "--out", "results", "-k", "CORE-005 or BASIC-019"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert results["summary"]["passed"] == results["summary"]["total"] == 2
    assert all(Path(test["file"]).is_relative_to(bundled / "testcases") for test in results["tests"])
    assert Path(results["run"]["dut"]["profile"]) == bundled / "fixtures" / "profiles" / "reference-server.yaml"


def test_the_wheel_holds_every_package_of_the_source_tree(built_package: Path, project_root: Path) -> None:
    # pyproject lists the packages by name (a top-level directory cannot be mapped into a found package), so a
    # new subpackage left off that list would be missing from every installed copy.
    source = {p.parent.relative_to(project_root) for p in (project_root / "harness").rglob("__init__.py")}
    installed = {p.parent.relative_to(built_package) for p in (built_package / "harness").rglob("__init__.py")}
    assert source == installed
