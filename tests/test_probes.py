"""Robustness probes (probes/server, `probe:` steps) against the reference server over mutual TLS: the clean server
passes every probe; under body-not-validated every probe fails with a shrunk example, its seed and the commands
that replay it, and the same seed draws the same examples; a 4xx the standard does not ask for is a warning."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cases.loader import CaseFileError, load_case
from harness.engine.probing import SEED_VARIABLE
from harness.paths import project_dir
from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, spawn_reference_server
from harness.results import FAILED, PASSED, TestRecord
from tests.casekit import run_case

PROBES = {path.stem: path for path in sorted((project_dir("probes") / "server").glob("*.yaml"))}
# What body-not-validated lets through: the probe names the change, the 2xx and the resource read back.
CAUGHT = {
    "PROBE-001": "an invalid Response (",
    "PROBE-002": "an invalid LogEvent (",
    "PROBE-003": "an invalid DERStatus (",
    "PROBE-004": "an invalid MirrorMeterReading (",
}


@pytest.fixture(scope="module")
def clean(pki: TestPki) -> Iterator[ReferenceProcess]:
    with spawn_reference_server(pki).wait_ready(60) as server:
        yield server


@pytest.fixture(scope="module")
def lax(pki: TestPki) -> Iterator[ReferenceProcess]:
    with spawn_reference_server(pki, defects=["body-not-validated"]).wait_ready(60) as server:
        yield server


def run(server: ReferenceProcess, pki: TestPki, case: Path, out: Path) -> TestRecord:
    return run_case(server, pki, case, out=str(out))


def test_every_probe_is_here() -> None:
    assert set(PROBES) == set(CAUGHT)


@pytest.mark.parametrize("probe_id", sorted(PROBES))
def test_the_clean_reference_passes_every_probe(clean: ReferenceProcess, pki: TestPki, probe_id: str,
                                                tmp_path: Path) -> None:
    record = run(clean, pki, PROBES[probe_id], tmp_path)
    assert record.verdict == PASSED, record.reason
    observed = record.steps[-1].observed
    assert observed["examples"] == {"valid": 25, "invalid": 25} and observed["failures"] == []
    assert isinstance(observed["seed"], int)


@pytest.mark.parametrize("probe_id", sorted(PROBES))
def test_a_server_storing_invalid_bodies_fails_with_a_shrunk_example_and_its_replay(
    lax: ReferenceProcess, pki: TestPki, probe_id: str, tmp_path: Path
) -> None:
    record = run(lax, pki, PROBES[probe_id], tmp_path)
    assert record.verdict == FAILED, record.reason
    step = record.steps[-1]
    assert record.reason.startswith(f"step {step.index} {step.name!r}: {CAUGHT[probe_id]}")
    assert "expected 400 with an Error, saw 2" in record.reason or "a server error" in record.reason
    [failure] = step.observed["failures"]
    seed = step.observed["seed"]
    assert f"seed {seed}; replay: {SEED_VARIABLE}={seed} csip-harness run" in record.reason
    assert failure["example"] in record.reason and failure["replay"][1].startswith("curl --cert")
    # The failing example's exchanges are the step's evidence.
    assert step.exchanges and step.exchanges[0].method in ("POST", "PUT")


@pytest.mark.parametrize(("probe_id", "defect", "valid", "invalid"), [
    # Every Response is refused 400 with an Error: valid ones are warned about, invalid ones answered as asked.
    ("PROBE-001", "response-rejected", "a schema-valid Response was refused: a 2xx was expected, saw 400", None),
    # Every MirrorMeterReading is refused 405: a 4xx for an invalid one is met, 400 with an Error is a warning.
    ("PROBE-004", "mup-readings-refused", "a schema-valid MirrorMeterReading was refused: a 2xx was expected, saw 405",
     "was refused with 405"),
])
def test_a_4xx_the_standard_does_not_ask_for_is_a_warning_never_a_failure(
    pki: TestPki, tmp_path: Path, probe_id: str, defect: str, valid: str, invalid: str | None
) -> None:
    with spawn_reference_server(pki, defects=[defect]).wait_ready(60) as server:
        record = run(server, pki, PROBES[probe_id], tmp_path)
    assert record.verdict == PASSED, record.reason
    step = record.steps[-1]
    assert step.observed["failures"] == []
    warnings = [f.message for f in step.findings if f.severity == "warning"]
    assert any(message.startswith(valid) for message in warnings), warnings
    if invalid is not None:
        assert any(invalid in message for message in warnings), warnings


def test_the_same_seed_draws_the_same_shrunk_example(lax: ReferenceProcess, pki: TestPki, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SEED_VARIABLE, "12345")
    first = run(lax, pki, PROBES["PROBE-002"], tmp_path / "a").steps[-1].observed
    second = run(lax, pki, PROBES["PROBE-002"], tmp_path / "b").steps[-1].observed
    assert first["seed"] == second["seed"] == 12345
    assert first["failures"][0]["example"] == second["failures"][0]["example"]


@pytest.mark.parametrize(("probe", "problem"), [
    ("{method: POST, path: /x, resource: Responze}", "probe.resource: expected a global element of the 2030.5 "
                                                     "schema, saw 'Responze'"),
    ("{method: POST, path: /x, resource: Response, fields: {lfdi: AB}}", "probe.fields: Response has no child "
                                                                          "'lfdi'"),
    ("{method: GET, path: /x, resource: Response}", "'GET' is not one of ['POST', 'PUT']"),
])
def test_a_probe_the_harness_cannot_run_is_a_load_error(tmp_path: Path, probe: str, problem: str) -> None:
    case = tmp_path / "PROBE-099.yaml"
    case.write_text("id: PROBE-099\ntitle: t\nrole: server\nprocedure: {doc: d, version: '1'}\nsteps:\n"
                    f"  - name: probe\n    probe: {probe}\n")
    with pytest.raises(CaseFileError) as info:
        load_case(case)
    assert problem in str(info.value) and f"{case}:7" in str(info.value)
