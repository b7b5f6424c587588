"""Run-to-run comparison through the real CLI: `diff` of a clean run against a run under a defect names the
regressed procedure and exits 1; the other way round is a fix and exits 0; the markdown and HTML short forms
say the same for a pull-request comment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Bundle, run_cli


@pytest.fixture(scope="module")
def clean_bundle(failed_bundle: Bundle, tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """The same cases as failed_bundle against the reference server without its defect: everything passes."""
    out = tmp_path_factory.mktemp("clean") / "out"
    cases = failed_bundle.out.parent / "testcases" / "server"
    done = run_cli("run", "--reference", "--cases", str(cases), "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    return Bundle(out, done.returncode, done.stdout)


def test_a_new_failure_is_a_regression_and_exits_1(clean_bundle: Bundle, failed_bundle: Bundle) -> None:
    old, new = clean_bundle.out / "results.json", failed_bundle.out / "results.json"
    done = run_cli("diff", str(old), str(new))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("REGRESSED: 1 procedure(s) newly failed or in error (CORE-005)")
    regression = next(line for line in lines[1:] if "CORE-005" in line)
    assert regression.split()[0] == "REGRESSION" and "passed -> failed: step 2" in regression
    assert "resource.quality: expected 7, saw '3'" in regression
    # Each run made its own PKI: the DUT's certificate changed, and the comparison says so.
    assert any(line.strip().startswith("DUT identity: certificate SHA-256:") for line in lines)


def test_a_fix_is_not_a_regression_and_exits_0(clean_bundle: Bundle, failed_bundle: Bundle) -> None:
    done = run_cli("diff", str(failed_bundle.out / "results.json"), str(clean_bundle.out / "results.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("No regression; 1 fixed")
    assert any(line.split()[:2] == ["FIXED", "CORE-005"] for line in done.stdout.splitlines())
    same = run_cli("diff", str(clean_bundle.out / "results.json"), str(clean_bundle.out / "results.json"))
    assert same.returncode == 0 and "0 verdict change(s), 0 finding change(s)" in same.stdout


def test_newly_not_applicable_and_changed_findings_are_listed(clean_bundle: Bundle, tmp_path: Path) -> None:
    document = json.loads((clean_bundle.out / "results.json").read_text())
    for test in document["tests"]:
        if test["id"] == "CORE-001":
            test["verdict"], test["reason"] = "not_applicable", "the DUT profile does not declare plain-http"
        if test["id"] == "BASIC-001":
            test["steps"][0]["findings"].append({"message": "element 'x' not expected", "line": 1, "path": "/x",
                                                 "kind": "schema", "severity": "warning"})
    new = tmp_path / "results.json"
    new.write_text(json.dumps(document))
    done = run_cli("diff", str(clean_bundle.out / "results.json"), str(new), "--format", "markdown")
    assert done.returncode == 0, done.stdout + done.stderr  # neither is a regression
    assert "| CORE-001 | newly not applicable | passed | not applicable |" in done.stdout
    assert "| BASIC-001 | 1 | new | warning | element 'x' not expected |" in done.stdout
    html = tmp_path / "diff.html"
    written = run_cli("diff", str(clean_bundle.out / "results.json"), str(new), "--format", "html", "-o", str(html))
    assert written.returncode == 0 and written.stdout.startswith("No regression")
    assert "<td>CORE-001</td><td>newly not applicable</td>" in html.read_text()


def test_diff_of_a_file_that_is_not_results_is_a_usage_error(clean_bundle: Bundle, tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text("{}")
    done = run_cli("diff", str(clean_bundle.out / "results.json"), str(other))
    assert done.returncode == 2 and "expected a csip-harness-results document" in done.stderr
    assert "Traceback" not in done.stderr
