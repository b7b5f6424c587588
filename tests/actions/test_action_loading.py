"""Actions named in cases and profiles are checked at load time against the registry, with file and line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.actions.registry import call_schema, params_problems, registry
from harness.cases.loader import CaseFileError, load_case
from harness.cases.profile import ProfileError, load_profile

CASE_HEAD = (
    "id: CORE-005\ntitle: Basic Time\nrole: server\nprocedure: {doc: d, version: '1.3'}\n"
    "vars: {pin: 111115}\n"
)
CASE_TAIL = "steps:\n  - name: s\n    request: {method: GET, path: /dcap}\n    expect: {status: 200}\n"


def case_with_setup(tmp_path: Path, setup: str) -> Path:
    path = tmp_path / "CORE-005.yaml"
    path.write_text(CASE_HEAD + "setup:\n" + setup + CASE_TAIL)
    return path


def profile_with_actions(tmp_path: Path, actions: str) -> Path:
    path = tmp_path / "dut.yaml"
    path.write_text("role: server\ncapabilities: [time]\nactions:\n" + actions)
    return path


def test_setup_actions_load_with_their_parameters_and_lines(tmp_path: Path) -> None:
    case = load_case(case_with_setup(tmp_path, (
        "  - configure-time: {quality: 7}\n"
        "  - preregister-enddevice:\n      lfdi: ${client.lfdi}\n      sfdi: ${client.sfdi}\n      pin: ${pin}\n"
        "  - populate-resources:\n"
    )))
    assert [(c.name, c.params, c.line) for c in case.setup] == [
        ("configure-time", {"quality": 7}, 7),
        ("preregister-enddevice", {"lfdi": "${client.lfdi}", "sfdi": "${client.sfdi}", "pin": "${pin}"}, 8),
        ("populate-resources", {}, 12),
    ]


@pytest.mark.parametrize(
    ("setup", "line", "words"),
    [
        ("  - configure-time: {quality: 7}\n  - confgure-time: {quality: 7}\n", 8,
         "unknown action 'confgure-time'; did you mean 'configure-time'?"),
        ("  - configure-time: {quality: 9}\n", 7, "9 is greater than the maximum of 7"),
        ("  - configure-time: {qualty: 7}\n", 7, "qualty"),
        ("  - configure-time: {}\n", 7, "'quality' is a required property"),
        ("  - create-enddevices: {count: three}\n", 7, "'three'"),
        ("  - configure-time: {quality: 7}\n    create-enddevices: {count: 3}\n", 7, "has too many properties"),
        ("  - configure-time: {quality: '${nowhere}'}\n", 7,
         "setup action 'configure-time': ${nowhere} uses 'nowhere'"),
        ("  - preregister-enddevice: {lfdi: 12AB, sfdi: 1}\n", 7, "'12AB'"),
    ],
)
def test_a_bad_setup_action_is_an_error_with_file_and_line(tmp_path: Path, setup: str, line: int,
                                                           words: str) -> None:
    path = case_with_setup(tmp_path, setup)
    with pytest.raises(CaseFileError) as caught:
        load_case(path)
    assert f"{path}:{line}:" in str(caught.value)
    assert words in str(caught.value)


def test_profile_mappings_load_one_kind_each(tmp_path: Path) -> None:
    profile = load_profile(profile_with_actions(tmp_path, (
        "  configure-time: {http: {method: PUT, url: 'http://x/time', json: {q: '${quality}'}, expect_status: 204}}\n"
        "  create-enddevices: {command: {argv: [./make-devices, '${count}'], timeout: 5}}\n"
        "  populate-resources: {operator: {acknowledged: true}}\n"
        "  preregister-enddevice: {builtin: }\n"
        "  set-pin: {plugin: {endpoint: vendor}}\n"
    )))
    assert {name: m.kind for name, m in profile.actions.items()} == {
        "configure-time": "http", "create-enddevices": "command", "populate-resources": "operator",
        "preregister-enddevice": "builtin", "set-pin": "plugin"}
    assert profile.actions["configure-time"].line == 4 and profile.actions["set-pin"].config == {"endpoint": "vendor"}
    # A command runs beside the profile unless told otherwise.
    assert profile.actions["create-enddevices"].config["cwd"] == str(tmp_path)


@pytest.mark.parametrize(
    ("actions", "line", "words"),
    [
        ("  configure-time: {builtin: }\n  make-coffee: {operator: {}}\n", 5, "unknown action 'make-coffee'"),
        ("  configure-time: {http: {url: 'http://x'}, operator: {}}\n", 4, "has too many properties"),
        ("  configure-time: {http: {method: PUT}}\n", 4, "'url' is a required property"),
        ("  configure-time: {command: {argv: 'rm -rf /'}}\n", 4, "is not of type 'array'"),
        ("  configure-time: {command: {argv: [x], shell: true}}\n", 4, "shell"),
        ("  configure-time: {operator: {acknowledged: yes please}}\n", 4, "is not of type 'boolean'"),
        ("  raise-error: {builtin: }\n", 4, "no built-in 'raise-error'"),
        ("  configure-time: {telepathy: {}}\n", 4, "telepathy"),
    ],
)
def test_a_bad_profile_mapping_is_an_error_with_file_and_line(tmp_path: Path, actions: str, line: int,
                                                              words: str) -> None:
    path = profile_with_actions(tmp_path, actions)
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert f"{path}:{line}:" in str(caught.value)
    assert words in str(caught.value)


def test_waivers_load_and_need_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "dut.yaml"
    path.write_text("role: server\nwaivers:\n  - {case: CORE-005, step: 2, reason: disputed errata, by: Lab X}\n")
    [waiver] = load_profile(path).waivers
    assert (waiver.case, waiver.step, waiver.reason, waiver.by) == ("CORE-005", 2, "disputed errata", "Lab X")
    path.write_text("role: server\nwaivers:\n  - {case: CORE-005, step: 2}\n")
    with pytest.raises(ProfileError, match=r"dut.yaml:3: .*'reason' is a required property"):
        load_profile(path)


def test_registry_schemas_accept_references_only_before_substitution() -> None:
    # A case's setup and action steps name actions; observations are read by observe steps.
    assert set(call_schema()["propertyNames"]["enum"]) == {n for n, s in registry().items() if s.kind == "action"}
    assert params_problems("configure-time", {"quality": 7}) == []
    assert params_problems("configure-time", {"quality": "${q}"}) == ["quality: '${q}' is not of type 'integer'"]
    assert registry()["preregister-enddevice"].with_defaults({"lfdi": "A" * 40, "sfdi": 1})["pin"] == 111115


def test_actions_command_lists_every_action_with_its_parameters() -> None:
    done = subprocess.run([sys.executable, "-m", "harness.cli", "actions"], capture_output=True, text=True,
                          check=True, timeout=60)
    for name in registry():
        assert f"\n{name}  (" in "\n" + done.stdout
    assert "quality: integer 3..7 (required)" in done.stdout
    assert "pin: integer 0..999999 (default 111115)" in done.stdout
    client_only = subprocess.run([sys.executable, "-m", "harness.cli", "actions", "--role", "client"],
                                 capture_output=True, text=True, check=True, timeout=60).stdout
    assert "raise-error" in client_only and "configure-time" not in client_only and "power-reset" in client_only
