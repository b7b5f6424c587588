"""Every bundled client case passes against the clean reference DER client and fails under its defect at the
right step, at --time-scale 0.01 (real processes, real mutual TLS on 127.0.0.1)."""

from __future__ import annotations

import asyncio

import pytest

from harness.cases.loader import load_case
from harness.cases.profile import load_profile
from harness.engine.clock import Clock
from harness.engine.runner import run_case
from harness.paths import project_dir
from harness.pki import TestPki
from harness.results import FAILED, PASSED, TestRecord
from harness.sep.schema import SchemaSet
from harness.server.reference_client import reference_client_run
from tests.client_proofs import CLIENT_PROOFS

SCALE = 0.01
CASES = project_dir("testcases") / "client"
PROFILE = project_dir("fixtures") / "profiles" / "reference-der-client.yaml"
RUNS = [(case_id, None) for case_id in sorted(CLIENT_PROOFS)] + [
    (case_id, defect) for case_id, proofs in sorted(CLIENT_PROOFS.items()) for defect in sorted(proofs)]


def run(pki: TestPki, case_id: str, defect: str | None) -> TestRecord:
    case = load_case(CASES / f"{case_id}.yaml")

    async def go() -> TestRecord:
        async with reference_client_run(pki, load_profile(PROFILE), Clock(SCALE), SchemaSet.bundled(),
                                        defects=[defect] if defect else []) as ctx:
            return await run_case(case, ctx)

    return asyncio.run(go())


def test_every_client_case_has_a_proof() -> None:
    assert sorted(p.stem for p in CASES.glob("*.yaml")) == sorted(CLIENT_PROOFS)


@pytest.mark.parametrize(("case_id", "defect"), RUNS, ids=[f"{c}-{d or 'clean'}" for c, d in RUNS])
def test_client_case_verdict(pki: TestPki, case_id: str, defect: str | None) -> None:
    record = run(pki, case_id, defect)
    if defect is None:
        assert record.verdict == PASSED, record.reason
        return
    step, text = CLIENT_PROOFS[case_id][defect]
    assert record.verdict == FAILED, f"{case_id} under {defect}: {record.verdict} {record.reason}"
    failed = next(s for s in record.steps if s.verdict == FAILED)
    assert (failed.index, text in failed.message) == (step, True), failed.message
