"""Carrying out setup actions against a real reference server through each kind of mapping."""

from __future__ import annotations

import socket
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.cases.loader import load_case
from harness.paths import project_dir
from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, start_reference_server
from harness.results import ERROR, FAILED, NOT_APPLICABLE, NOT_RUN, PASSED, WAIVED, TestRecord
from harness.session import HarnessSession, RunOptions

CASES = {path.stem: path for path in sorted((project_dir("testcases") / "server").glob("*.yaml"))}
PROFILES = project_dir("fixtures") / "profiles"
HTTP_PROFILE = yaml.safe_load((PROFILES / "reference-server-http.yaml").read_text())


@pytest.fixture(scope="module")
def server(pki: TestPki) -> Iterator[ReferenceProcess]:
    """A fresh reference server for this module: nothing registered, Time quality 3."""
    with start_reference_server(pki) as started:
        yield started


def write_profile(tmp_path: Path, content: dict) -> Path:
    path = tmp_path / "dut.yaml"
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


def http_profile(tmp_path: Path, **changes: object) -> Path:
    """The http-template profile of the reference server, with actions replaced or removed (None)."""
    content = {**HTTP_PROFILE, "actions": dict(HTTP_PROFILE["actions"])}
    for name, mapping in changes.items():
        name = name.replace("_", "-")
        if mapping is None:
            content["actions"].pop(name)
        else:
            content["actions"][name] = mapping
    return write_profile(tmp_path, content)


def run(server: ReferenceProcess, pki: TestPki, profile: Path, case_ids: list[str], tmp_path: Path,
        **variables: str) -> dict[str, TestRecord]:
    client = pki.clients["client"]
    options = RunOptions(
        dut=server.base_url, http_url=server.http_url, cert=str(client.cert), key=str(client.key), ca=str(pki.ca),
        profile=str(profile), out=str(tmp_path / "out"), unattended=True,
        variables={**server.admin_variables(), **variables},
    )
    session = HarnessSession(options)
    try:
        return {case_id: session.run(load_case(CASES[case_id])) for case_id in case_ids}
    finally:
        session.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_removing_one_mapping_makes_exactly_the_cases_needing_it_not_applicable(
    server: ReferenceProcess, pki: TestPki, tmp_path: Path
) -> None:
    records = run(server, pki, http_profile(tmp_path, preregister_enddevice=None), sorted(CASES), tmp_path)
    verdicts = {case_id: record.verdict for case_id, record in records.items()}
    # The cases whose setup names the action, read from the files, so a new case is counted as it lands.
    needing = {case_id for case_id, path in CASES.items()
               if any(call.name == "preregister-enddevice" for call in load_case(path).setup)}
    assert verdicts == {case_id: NOT_APPLICABLE if case_id in needing else PASSED for case_id in CASES}
    assert {"CORE-004", "BASIC-001"} <= needing and {"CORE-005", "COMM-004A", "COMM-004G"} <= set(CASES) - needing
    # The http profile leaves out the capability xmdns: COMM-001 is not applicable for it before any setup runs.
    for_capability = {case_id for case_id in needing
                      if records[case_id].reason.startswith("the DUT profile does not declare: ")}
    assert for_capability == {"COMM-001"}
    for case_id in sorted(needing - for_capability):
        record = records[case_id]
        assert "'preregister-enddevice'" in record.reason and "populate" not in record.reason
        assert record.steps == [] and [(a.name, a.outcome) for a in record.actions] == [
            ("preregister-enddevice", "unmapped")]


def test_the_topology_and_program_structure_actions_work_through_the_vendor_http_mapping(
    server: ReferenceProcess, pki: TestPki, tmp_path: Path
) -> None:
    # build-topology, create-fsa, create-dercontrol and the DER/LogEvent setups, as a vendor's admin API calls.
    cases = ["CORE-010", "CORE-011", "BASIC-002", "CORE-009", "CORE-014", "BASIC-027", "BASIC-029"]
    records = run(server, pki, http_profile(tmp_path), cases, tmp_path)
    assert {case_id: r.verdict for case_id, r in records.items()} == dict.fromkeys(cases, PASSED), {
        case_id: r.reason for case_id, r in records.items()}
    mappings = {a.name: a.mapping for r in records.values() for a in r.actions}
    assert mappings["build-topology"] == "http PUT ${admin_url}/admin/topology"
    assert mappings["create-fsa"] == "http PUT ${admin_url}/admin/end-devices/fsa"


def test_the_curve_default_series_cancel_and_feeder_actions_work_through_the_vendor_http_mapping(
    pki: TestPki, tmp_path: Path
) -> None:
    # create-dercurve, create-defaultdercontrol with settings, create-dercontrols, cancel-dercontrols, replace-feeder
    # and build-topology figure-3, as a vendor's admin API calls; the events run on a clock 100 times as fast.
    cases = ["BASIC-003", "BASIC-005", "BASIC-007", "BASIC-015"]
    with start_reference_server(pki, time_scale=0.01, timeout=60) as scaled:
        client = pki.clients["client"]
        session = HarnessSession(RunOptions(
            dut=scaled.base_url, http_url=scaled.http_url, cert=str(client.cert), key=str(client.key),
            ca=str(pki.ca), profile=str(http_profile(tmp_path)), out=str(tmp_path / "out"), unattended=True,
            variables=scaled.admin_variables(), time_scale=scaled.time_scale, time_origin=scaled.time_origin))
        try:
            records = {case_id: session.run(load_case(CASES[case_id])) for case_id in cases}
        finally:
            session.close()
    assert {case_id: r.verdict for case_id, r in records.items()} == dict.fromkeys(cases, PASSED), {
        case_id: r.reason for case_id, r in records.items()}
    mappings = {a.name: a.mapping for r in records.values() for a in r.actions}
    assert mappings["create-dercurve"] == "http POST ${admin_url}/admin/programs/curves"
    assert mappings["create-dercontrols"] == "http POST ${admin_url}/admin/programs/controls/series"
    assert mappings["cancel-dercontrols"] == "http PUT ${admin_url}/admin/programs/controls/cancel"
    assert mappings["replace-feeder"] == "http PUT ${admin_url}/admin/topology/feeder"


def test_build_topology_refuses_an_unknown_service_point_naming_the_known_ones(
    server: ReferenceProcess, pki: TestPki, tmp_path: Path
) -> None:
    case = tmp_path / "testcases" / "BASIC-098.yaml"
    case.parent.mkdir()
    case.write_text("id: BASIC-098\ntitle: t\nrole: server\nprocedure: {doc: d, version: '1'}\n"
                    "setup:\n  - build-topology: {topology: figure-15, service_point: SPC9}\n"
                    "steps:\n  - {name: dcap, request: {method: GET, path: /dcap}, expect: {status: 200}}\n")
    client = pki.clients["client"]
    session = HarnessSession(RunOptions(
        dut=server.base_url, cert=str(client.cert), key=str(client.key), ca=str(pki.ca),
        profile=str(http_profile(tmp_path)), out=str(tmp_path / "out"), unattended=True,
        variables={"admin_url": server.admin_url, "admin_token": server.admin_token}))
    try:
        record = session.run(load_case(case))
    finally:
        session.close()
    assert record.verdict == ERROR
    assert "figure-15 has no service point 'SPC9'; its service points: SPA1, SPA2, SPB1, SPB2" in record.reason


def test_a_mapping_to_a_dead_endpoint_is_an_error_not_a_failure(
    server: ReferenceProcess, pki: TestPki, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    records = run(server, pki, http_profile(tmp_path), ["CORE-005", "CORE-004"], tmp_path, admin_url=dead)
    for record in records.values():
        assert record.verdict == ERROR
        assert record.reason.startswith(f"setup action '{record.actions[0].name}' failed through http ")
        assert f"{dead}/admin/" in record.reason and "ConnectError" in record.reason
        assert record.steps and all(step.verdict == NOT_RUN for step in record.steps)
        assert not any(step.exchanges for step in record.steps)


def test_an_http_mapping_answered_with_an_error_status_names_status_and_body(
    server: ReferenceProcess, pki: TestPki, tmp_path: Path
) -> None:
    records = run(server, pki, http_profile(tmp_path), ["CORE-005"], tmp_path, admin_token="wrong")
    record = records["CORE-005"]
    assert record.verdict == ERROR
    assert "expected status 2xx, saw 401" in record.reason and "Authorization: Bearer" in record.reason
    assert record.actions[0].mapping == "http PUT ${admin_url}/admin/time"


def test_a_command_mapping_carries_out_the_action(server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    script = tmp_path / "set_time.py"
    script.write_text(textwrap.dedent("""
        import json, os, sys, urllib.request
        url, token, quality = sys.argv[1:]
        params = json.loads(os.environ["CSIP_ACTION_PARAMS"])
        assert os.environ["CSIP_ACTION"] == "configure-time" and params["quality"] == int(quality)
        request = urllib.request.Request(url + "/admin/time", method="PUT", data=json.dumps(params).encode(),
                                         headers={"Authorization": "Bearer " + token})
        print(urllib.request.urlopen(request).read().decode())
    """))
    command = {"command": {"argv": [sys.executable, str(script), "${admin_url}", "${admin_token}", "${quality}"],
                           "timeout": 30}}
    records = run(server, pki, http_profile(tmp_path, configure_time=command), ["CORE-005"], tmp_path)
    record = records["CORE-005"]
    assert record.verdict == PASSED, record.reason
    [action] = record.actions
    assert action.outcome == "done" and action.mapping.startswith(f"command {sys.executable} ")
    assert action.detail.startswith(f"{sys.executable} exited 0: ") and '"quality": 7' in action.detail


@pytest.mark.parametrize(
    ("argv", "timeout", "words"),
    [
        ([sys.executable, "-c", "import sys; print('vendor tool: device busy', file=sys.stderr); sys.exit(3)"], 30,
         "exited with status 3, expected 0; stderr: vendor tool: device busy"),
        ([sys.executable, "-c", "import time; time.sleep(30)"], 0.5, "did not finish within 0.5 s and was killed"),
        (["/nonexistent/vendor-tool"], 30, "cannot start '/nonexistent/vendor-tool'"),
    ],
)
def test_a_failing_command_is_an_error_naming_what_came_back(
    server: ReferenceProcess, pki: TestPki, tmp_path: Path, argv: list[str], timeout: float, words: str
) -> None:
    command = {"command": {"argv": argv, "timeout": timeout}}
    record = run(server, pki, http_profile(tmp_path, configure_time=command), ["CORE-005"], tmp_path)["CORE-005"]
    assert record.verdict == ERROR and words in record.reason
    assert record.reason.startswith("setup action 'configure-time' failed through command ")


def test_an_operator_mapping_counts_unattended_only_when_pre_acknowledged(
    server: ReferenceProcess, pki: TestPki, tmp_path: Path
) -> None:
    # The Time quality is set first (through http), then confirmed by the operator mapping alone.
    run(server, pki, http_profile(tmp_path), ["CORE-005"], tmp_path / "first")
    acknowledged = {"operator": {"prompt": "Set Time quality to ${quality} on the console", "acknowledged": True}}
    record = run(server, pki, http_profile(tmp_path, configure_time=acknowledged), ["CORE-005"], tmp_path)["CORE-005"]
    assert record.verdict == PASSED, record.reason
    assert record.actions[0].mapping == "operator (pre-acknowledged)"
    assert record.actions[0].detail == "pre-acknowledged in the profile: Set Time quality to 7 on the console"

    asked = {"operator": {}}
    record = run(server, pki, http_profile(tmp_path, configure_time=asked), ["CORE-005"], tmp_path)["CORE-005"]
    assert record.verdict == ERROR
    assert 'needs a person to confirm "On the server, set the Time resource\'s quality to 7."' in record.reason
    assert "unattended" in record.reason and "acknowledged: true" in record.reason


def test_a_vendor_plugin_implements_an_action_through_the_hookspec(
    server: ReferenceProcess, pki: TestPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "vendor_actions.py").write_text(textwrap.dedent("""
        import json, urllib.request
        from harness.hookspecs import hookimpl

        @hookimpl
        def csip_dut_action(action, params, config, variables):
            if action != "configure-time":
                return None
            request = urllib.request.Request(variables["admin_url"] + "/admin/time", method="PUT",
                                             data=json.dumps(params).encode(),
                                             headers={"Authorization": "Bearer " + variables["admin_token"]})
            urllib.request.urlopen(request).read()
            return f"vendor console set quality {params['quality']} ({config['console']})"
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    content = {**HTTP_PROFILE, "plugins": ["vendor_actions"],
               "actions": {**HTTP_PROFILE["actions"], "configure-time": {"plugin": {"console": "bench 3"}},
                           "create-enddevices": {"plugin": None}}}
    records = run(server, pki, write_profile(tmp_path, content), ["CORE-005", "CORE-004"], tmp_path)
    assert records["CORE-005"].verdict == PASSED, records["CORE-005"].reason
    assert records["CORE-005"].actions[0].detail == "vendor console set quality 7 (bench 3)"
    # The plugin declines create-enddevices: no implementation handled it, so the case cannot go on.
    assert records["CORE-004"].verdict == ERROR
    assert "no csip_dut_action implementation handled 'create-enddevices'" in records["CORE-004"].reason


def test_a_profile_naming_a_missing_plugin_module_stops_the_run(pki: TestPki, tmp_path: Path) -> None:
    from harness.session import SessionConfigError

    profile = write_profile(tmp_path, {"role": "server", "plugins": ["no_such_vendor_module"]})
    client = pki.clients["client"]
    with pytest.raises(SessionConfigError, match="no_such_vendor_module"):
        HarnessSession(RunOptions(dut="https://127.0.0.1:9", cert=str(client.cert), key=str(client.key),
                                  ca=str(pki.ca), profile=str(profile)))


def test_parameters_that_do_not_fit_once_substituted_are_an_error(
    server: ReferenceProcess, pki: TestPki, tmp_path: Path
) -> None:
    case = tmp_path / "CORE-005.yaml"
    original = CASES["CORE-005"].read_text()
    case.write_text(original.replace("configure-time: {quality: 7}", "configure-time: {quality: '${client.pin}'}"))
    content = {**HTTP_PROFILE, "identity": {}}
    session = HarnessSession(RunOptions(
        dut=server.base_url, cert=str(pki.clients["client"].cert), key=str(pki.clients["client"].key),
        ca=str(pki.ca), profile=str(write_profile(tmp_path, content)), unattended=True,
        variables=server.admin_variables()))
    try:
        record = session.run(load_case(case))
    finally:
        session.close()
    assert record.verdict == ERROR
    assert "parameters do not fit the action: quality: None is not of type 'integer'" in record.reason


def test_a_waived_step_is_shown_as_waived_and_the_case_goes_on(pki: TestPki, tmp_path: Path) -> None:
    profile = yaml.safe_load((PROFILES / "reference-server.yaml").read_text())
    profile["waivers"] = [{"case": "CORE-005", "step": 2, "reason": "lab accepts quality 3 (ticket 42)",
                           "by": "Test Lab"}]
    with start_reference_server(pki, defects=["time-wrong-quality"]) as defective:
        records = run(defective, pki, write_profile(tmp_path, profile), ["CORE-005"], tmp_path)
        profile["waivers"][0]["step"] = 3
        elsewhere = run(defective, pki, write_profile(tmp_path, profile), ["CORE-005"], tmp_path / "elsewhere")
    record = records["CORE-005"]
    assert record.verdict == PASSED
    assert [s.verdict for s in record.steps] == [PASSED, WAIVED, PASSED]
    assert record.steps[1].message.startswith("step 2 ") and "expected 7, saw '3'" in record.steps[1].message
    html = (tmp_path / "out" / "report.html").read_text()
    assert '<div class="msg">lab accepts quality 3 (ticket 42)' in html
    assert "the check that failed: step 2 &#39;GET Time through the TimeLink; quality is 7&#39;" in html
    assert record.waivers == [{"step": 2, "reason": "lab accepts quality 3 (ticket 42)", "by": "Test Lab",
                               "status": "applied"}]
    # A waiver covers its own step only: the same failure with step 3 waived still fails the case, and the
    # waiver is reported as never reached rather than silently dropped.
    assert elsewhere["CORE-005"].verdict == FAILED
    assert [w["status"] for w in elsewhere["CORE-005"].waivers] == ["not reached: the step did not run"]


STEP_ACTION_CASE = """
id: CORE-005
title: Time quality follows the head-end's setting
role: server
procedure: {doc: SunSpec CSIP Conformance Test Procedures, version: "1.3"}
steps:
  - name: Time before
    request: {method: GET, path: /tm}
    expect: {status: 200, resource: {quality: 3}}
  - name: the head-end is set to quality 7
    action:
      configure-time: {quality: 7}
  - name: Time after
    request: {method: GET, path: /tm}
    expect: {status: 200, resource: {quality: 7}}
"""


def test_an_action_can_be_a_step_between_requests(pki: TestPki, tmp_path: Path) -> None:
    case = tmp_path / "testcases" / "CORE-005.yaml"
    case.parent.mkdir()
    case.write_text(STEP_ACTION_CASE)
    loaded = load_case(case)
    assert loaded.steps[1].request is None and loaded.steps[1].action.name == "configure-time"
    client = pki.clients["client"]
    with start_reference_server(pki) as fresh:
        options = RunOptions(dut=fresh.base_url, cert=str(client.cert), key=str(client.key), ca=str(pki.ca),
                             profile=str(PROFILES / "reference-server.yaml"), variables=fresh.admin_variables())
        session = HarnessSession(options)
        bare = HarnessSession(RunOptions(dut=fresh.base_url, cert=str(client.cert), key=str(client.key),
                                         ca=str(pki.ca), profile=str(write_profile(tmp_path, {"role": "server"}))))
        try:
            record = session.run(loaded)
            unmapped = bare.run(loaded)
        finally:
            session.close()
            bare.close()
    assert record.verdict == PASSED, record.reason
    assert [s.verdict for s in record.steps] == [PASSED, PASSED, PASSED]
    assert record.steps[1].observed["outcome"] == "done" and not record.steps[1].exchanges
    assert [a.name for a in record.actions] == ["configure-time"]
    # A step's action is needed as much as a setup action: unmapped, the case does not apply at all.
    assert unmapped.verdict == NOT_APPLICABLE and "'configure-time'" in unmapped.reason and unmapped.steps == []


def test_an_action_step_takes_no_expectations(tmp_path: Path) -> None:
    from harness.cases.loader import CaseFileError

    case = tmp_path / "CORE-005.yaml"
    case.write_text(STEP_ACTION_CASE.replace("      configure-time: {quality: 7}\n",
                                             "      configure-time: {quality: 7}\n    expect: {status: 200}\n"))
    with pytest.raises(CaseFileError, match=r"CORE-005.yaml:13: step 2 'the head-end is set to quality 7': an action "
                                            r"step has no expect"):
        load_case(case)
    case.write_text(STEP_ACTION_CASE.replace("configure-time:", "configure-tim:"))
    with pytest.raises(CaseFileError, match=r"CORE-005.yaml:12: unknown action 'configure-tim'"):
        load_case(case)
