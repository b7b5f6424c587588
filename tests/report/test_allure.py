"""With --alluredir, allure-pytest's results carry our labels, steps and exchanges; without it, no Allure files."""

from __future__ import annotations

import json
from pathlib import Path

from harness.report.allure_handoff import _step_outcome, _step_title, _waivers
from harness.results import StepRecord, TestRecord

from .conftest import Bundle, run_cli


def story(result: dict) -> str:
    return next(label["value"] for label in result["labels"] if label["name"] == "story")


def test_allure_results_have_labels_steps_and_exchange_attachments(tmp_path: Path) -> None:
    out, allure_dir = tmp_path / "out", tmp_path / "allure"
    done = run_cli("run", "--reference", "--defect", "time-wrong-quality", "-k", "CORE-005 or BASIC-001",
                   "--out", str(out), "--", f"--alluredir={allure_dir}")
    assert done.returncode == 1, done.stdout + done.stderr
    results = {story(r): r for r in (json.loads(p.read_text()) for p in allure_dir.glob("*-result.json"))}
    assert set(results) == {"CORE-005", "BASIC-001"}
    core5 = results["CORE-005"]
    labels = {(label["name"], label["value"]) for label in core5["labels"]}
    assert {("story", "CORE-005"), ("feature", "Time")} <= labels and core5["status"] == "failed"
    assert {("feature", "EndDevice"), ("feature", "Security")} <= {
        (label["name"], label["value"]) for label in results["BASIC-001"]["labels"]}
    steps = core5["steps"]
    assert [(s["name"], s["status"]) for s in steps] == [
        ("step 1: GET DeviceCapability and find the TimeLink", "passed"),
        ("step 2: GET Time through the TimeLink; quality is 7", "failed"),
        ("step 3: Time currentTime agrees with the harness clock (a synchronised DUT; a warning otherwise)", "skipped"),
    ]
    assert "resource.quality: expected 7, saw '3'" in steps[1]["statusDetails"]["message"]
    names = [a["name"] for a in steps[1]["attachments"]]
    assert names[0].startswith("GET https://127.0.0.1:") and names[0].endswith("/tm -> 200")
    raw = (allure_dir / steps[1]["attachments"][0]["source"]).read_text()
    assert "GET /tm HTTP/1.1" in raw and "<quality>3</quality>" in raw
    expected_vs_observed = (allure_dir / steps[1]["attachments"][1]["source"]).read_text()
    assert expected_vs_observed == "resource.quality: expected 7, saw '3'"


def test_no_allure_files_unless_asked(failed_bundle: Bundle) -> None:
    assert not list(failed_bundle.out.rglob("*-result.json"))
    assert not list(failed_bundle.out.rglob("*-attachment.txt"))


def test_a_waived_step_is_a_passed_allure_step_named_with_its_waiver() -> None:
    step = StepRecord(index=2, name="GET Time", verdict="waived", message="resource.quality: expected 7, saw '3'")
    record = TestRecord(id="CORE-005", title="Basic Time", role="server", verdict="passed", steps=[step])
    record.waivers = [{"step": 2, "reason": "lab waiver 17"}]  # type: ignore[attr-defined]
    assert _step_title(step, _waivers(record)) == "step 2: GET Time (waived: lab waiver 17)"
    assert _step_outcome(step) is None
    assert isinstance(_step_outcome(StepRecord(index=1, name="x", verdict="error", message="m")), RuntimeError)
    assert _waivers(TestRecord(id="CORE-005", title="t", role="server", verdict="passed")) == {}
