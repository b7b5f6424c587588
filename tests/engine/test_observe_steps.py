"""observe: steps against the real reference DER client: each kind of mapping reads the observation, the matchers
judge it, a missing mapping never passes, an observation that cannot be read is an error (real processes, real
mutual TLS and HTTP on 127.0.0.1, a real subprocess for the command mapping)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.actions.runner import ActionRunner
from harness.cases.loader import CaseFileError, load_case
from harness.cases.profile import load_profile
from harness.engine.clock import Clock
from harness.engine.runner import run_case
from harness.hookspecs import hookimpl, plugin_manager
from harness.paths import project_dir
from harness.pki import TestPki
from harness.results import ERROR, FAILED, NOT_APPLICABLE, PASSED, TestRecord
from harness.sep.schema import SchemaSet
from harness.server.reference_client import reference_client_run

SCALE = 0.01
PROFILE = yaml.safe_load((project_dir("fixtures") / "profiles" / "reference-der-client.yaml").read_text())
CASE = """\
id: OBS-001
title: the DER's clock, observed
role: client
procedure: {doc: self-test, version: "1"}
serve: der-basic
steps:
  - {name: the DER starts afresh, action: {power-cycle: {}}}
  - {name: GET Time, await: {method: GET, path: /tm, within: 300}}
  - name: the DER's clock
    observe:
      der-clock: {}
      expect: EXPECT
      within: WITHIN
    save: {clock: currentTime}
"""


def write_case(tmp_path: Path, expect: str = "{currentTime: {near_now: 60}, synchronised: true}",
               within: int = 60) -> Path:
    path = tmp_path / "OBS-001.yaml"
    path.write_text(CASE.replace("EXPECT", expect).replace("WITHIN", str(within)))
    return path


def profile_with(tmp_path: Path, **mappings: Any) -> Path:
    """The reference client's profile with observation mappings replaced, or removed (None)."""
    content = {**PROFILE, "actions": dict(PROFILE["actions"])}
    for name, mapping in mappings.items():
        name = name.replace("_", "-")
        if mapping is None:
            content["actions"].pop(name)
        else:
            content["actions"][name] = mapping
    path = tmp_path / "der.yaml"
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


def run(pki: TestPki, case: Path, profile: Path, *, defects: tuple[str, ...] = (),
        plugin: object | None = None) -> TestRecord:
    async def go() -> TestRecord:
        loaded = load_profile(profile)
        async with reference_client_run(pki, loaded, Clock(SCALE), SchemaSet.bundled(), defects=defects) as ctx:
            if plugin is not None:
                manager = plugin_manager()
                manager.register(plugin)
                ctx.actions = ActionRunner(loaded, {"admin_url": ctx.builtins["reference_client"]["admin_url"]},
                                           unattended=True, plugins=manager)
            return await run_case(load_case(case), ctx)

    return asyncio.run(go())


def observed(record: TestRecord) -> Any:
    return record.steps[2].observed.get("value")


def test_a_builtin_observation_reads_the_reference_client(pki: TestPki, tmp_path: Path) -> None:
    record = run(pki, write_case(tmp_path), profile_with(tmp_path))
    assert record.verdict == PASSED, record.reason
    step = record.steps[2]
    assert step.actions[0].mapping == "builtin" and step.actions[0].detail.startswith("observed {")
    assert observed(record)["synchronised"] is True
    assert step.saved["clock"] == str(observed(record)["currentTime"])


def test_an_http_observation_is_judged_by_the_matchers(pki: TestPki, tmp_path: Path) -> None:
    profile = profile_with(tmp_path, der_clock={"http": {"url": "${admin_url}/observe/clock"}})
    assert run(pki, write_case(tmp_path), profile).verdict == PASSED
    record = run(pki, write_case(tmp_path, "{currentTime: 5}", within=0), profile)
    assert record.verdict == FAILED, record.reason
    assert "der-clock.currentTime: expected 5, saw '1" in record.steps[2].message
    assert record.steps[2].actions[0].mapping == "http GET ${admin_url}/observe/clock"


def test_an_observation_that_cannot_be_read_is_an_error(pki: TestPki, tmp_path: Path) -> None:
    # Nothing listens on port 1: the harness could not look, so the DER is not blamed.
    profile = profile_with(tmp_path, der_clock={"http": {"url": "http://127.0.0.1:1/clock", "timeout": 2}})
    record = run(pki, write_case(tmp_path), profile)
    assert record.verdict == ERROR
    assert "observation 'der-clock' could not be read through http GET http://127.0.0.1:1/clock" in record.reason


def test_a_command_observation_reads_the_json_it_prints(pki: TestPki, tmp_path: Path) -> None:
    script = ("import json, os; print(json.dumps({'currentTime': 0, 'synchronised': True, "
              "'asked': os.environ['CSIP_OBSERVATION']}))")
    profile = profile_with(tmp_path, der_clock={"command": {"argv": [sys.executable, "-c", script]}})
    record = run(pki, write_case(tmp_path, "{synchronised: true, asked: der-clock}"), profile)
    assert record.verdict == PASSED, record.reason
    assert observed(record) == {"currentTime": 0, "synchronised": True, "asked": "der-clock"}
    failing = profile_with(tmp_path, der_clock={"command": {"argv": [sys.executable, "-c", "print('not json')"]}})
    record = run(pki, write_case(tmp_path), failing)
    assert record.verdict == ERROR and "expected a JSON value, saw 'not json'" in record.reason
    # JSON of another shape is the mapping's mistake, not the DER's.
    other = profile_with(tmp_path, der_clock={"command": {"argv": [sys.executable, "-c", "print('[1, 2]')"]}})
    record = run(pki, write_case(tmp_path), other)
    assert record.verdict == ERROR and "shaped as the registry's der-clock returns" in record.reason


class ClockPlugin:
    """A vendor plugin that reads the DER's clock (here: a fixed answer for der-clock, nothing else)."""

    @hookimpl
    def csip_dut_observe(self, observation: str, params: dict[str, Any], config: dict[str, Any],
                         variables: dict[str, Any]) -> Any:
        return {"currentTime": 0, "synchronised": True, "via": config.get("via")} if observation == "der-clock" \
            else None


def test_a_plugin_observation_hands_back_its_value(pki: TestPki, tmp_path: Path) -> None:
    profile = profile_with(tmp_path, der_clock={"plugin": {"via": "vendor tool"}})
    record = run(pki, write_case(tmp_path, "{synchronised: true, via: vendor tool}"), profile, plugin=ClockPlugin())
    assert record.verdict == PASSED, record.reason
    # A clock at 1970 is not the server's: the same plugin value fails the clock matcher.
    record = run(pki, write_case(tmp_path, within=0), profile, plugin=ClockPlugin())
    assert record.verdict == FAILED and "der-clock.currentTime: expected a time within 60 s" in record.reason


@pytest.mark.parametrize("operator", [{}, {"acknowledged": True}])
def test_an_operator_observation_is_never_answered_for_an_unattended_run(pki: TestPki, tmp_path: Path,
                                                                        operator: dict[str, Any]) -> None:
    record = run(pki, write_case(tmp_path), profile_with(tmp_path, der_clock={"operator": operator}))
    assert record.verdict == ERROR
    assert ("pre-acknowledged" if operator else "the run is unattended") in record.reason


def test_an_unmapped_observation_leaves_the_case_not_applicable(pki: TestPki, tmp_path: Path) -> None:
    record = run(pki, write_case(tmp_path), profile_with(tmp_path, der_clock=None))
    assert record.verdict == NOT_APPLICABLE
    assert [s.verdict for s in record.steps] == [PASSED, PASSED, NOT_APPLICABLE]
    assert "the DUT profile maps no way to observe 'der-clock'" in record.reason


def test_an_unmapped_observation_does_not_hide_what_the_wire_shows(pki: TestPki, tmp_path: Path) -> None:
    # CORE-005 against a DER that keeps its own clock, with no way to read that clock: the times it stamps on
    # what it sends still fail it.
    case = project_dir("testcases") / "client" / "CORE-005.yaml"
    record = run(pki, case, profile_with(tmp_path, der_clock=None), defects=("ignores-server-time",))
    assert record.verdict == FAILED, record.reason
    assert record.steps[3].verdict == NOT_APPLICABLE
    assert record.steps[5].verdict == FAILED and "to follow the server's time within 120 s" in record.reason


@pytest.mark.parametrize(("observe", "message"), [
    ("{der-clok: {}}", "unknown action 'der-clok'; did you mean 'der-clock'?"),
    ("{power-cycle: {}}", "'power-cycle' is an action, not an observation"),
    ("{der-clock: {}, active-control: {}}", "expected exactly one observation name"),
    ("{der-clock: {device: -1}}", "observe der-clock: device: -1 is less than the minimum of 0"),
    ("{der-clock: {}, within: 5, before: 7}", "give within (server seconds) or before"),
    ("{der-clock: {}, expect: {currentTime: {near_now: soon}}}", "near_now"),
])
def test_a_malformed_observe_step_is_a_load_error_with_its_line(tmp_path: Path, observe: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: OBS-002\ntitle: bad\nrole: client\nprocedure: {doc: self-test, version: \"1\"}\n"
                    "serve: der-basic\nsteps:\n  - {name: GET Time, await: {method: GET, path: /tm}}\n"
                    f"  - name: observe\n    observe: {observe}\n")
    with pytest.raises(CaseFileError) as caught:
        load_case(path)
    assert (caught.value.line, message in str(caught.value)) == (9, True), str(caught.value)


def test_an_observation_is_no_action(tmp_path: Path) -> None:
    path = write_case(tmp_path)
    path.write_text(path.read_text().replace("action: {power-cycle: {}}", "action: {active-control: {}}"))
    with pytest.raises(CaseFileError, match="'active-control' is an observation, not an action"):
        load_case(path)


def test_the_registry_describes_what_each_observation_returns() -> None:
    from harness.actions.builtin import ADMIN_OBSERVATIONS
    from harness.actions.registry import call_schema, observations

    assert set(observations()) == set(ADMIN_OBSERVATIONS)
    assert all(spec.returns and spec.role == "client" for spec in observations().values())
    assert not set(observations()) & set(call_schema()["properties"])
    json.dumps([spec.returns for spec in observations().values()])
