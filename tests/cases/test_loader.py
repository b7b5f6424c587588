"""Loading test-case files: every bundled case loads; every kind of mistake names file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.cases.loader import CaseFileError, load_case
from harness.paths import project_dir

GOOD = """\
id: CORE-099
title: A case
role: server
procedure: {doc: SunSpec CSIP Conformance Test Procedures, version: "1.3"}
requires: [time]
steps:
  - name: GET DeviceCapability
    request: {method: GET, path: "${dcap}"}
    expect:
      status: 200
      schema: DeviceCapability
      resource: {TimeLink: {href: present}}
    save: {tm: TimeLink.href}
  - name: GET Time
    request: {method: GET, path: "${tm}"}
    expect: {status: 200, resource: {quality: {one_of: [3, 7]}}}
"""


def write(tmp_path: Path, text: str, name: str = "CASE.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> CaseFileError:
    with pytest.raises(CaseFileError) as info:
        load_case(write(tmp_path, text))
    return info.value


@pytest.mark.parametrize("file", sorted(project_dir("testcases").rglob("*.yaml")), ids=lambda p: p.stem)
def test_every_bundled_case_loads_and_is_named_by_its_id(file: Path) -> None:
    case = load_case(file)
    assert case.id == file.stem
    assert case.role == file.parent.name
    assert case.steps and all(step.name for step in case.steps)
    assert len(case.sha256) == 64


def test_a_good_case_loads_with_steps_saves_and_requirements(tmp_path: Path) -> None:
    case = load_case(write(tmp_path, GOOD))
    assert [s.index for s in case.steps] == [1, 2]
    assert case.steps[0].save == {"tm": "TimeLink.href"}
    assert case.steps[0].expect.status == (200,)
    assert case.steps[1].line == 14
    assert case.requires[0].holds({"time"}) and not case.requires[0].holds(set())


def test_unknown_key_names_the_line_and_the_allowed_keys(tmp_path: Path) -> None:
    error = load_error(tmp_path, GOOD.replace("      status: 200\n", "      status: 200\n      stauts: 201\n"))
    assert error.line == 11
    assert "stauts" in error.message and "content_type" in error.message
    assert str(error).startswith(f"{tmp_path / 'CASE.yaml'}:11:")


def test_duplicate_key_is_refused_with_both_lines(tmp_path: Path) -> None:
    error = load_error(tmp_path, GOOD.replace("title: A case\n", "title: A case\ntitle: Again\n"))
    assert error.line == 3
    assert "duplicate key 'title' (first at line 2)" in error.message


def test_wrong_type_names_the_field(tmp_path: Path) -> None:
    error = load_error(tmp_path, GOOD.replace("status: 200", "status: two hundred"))
    assert error.line == 10
    assert "step 1 ('GET DeviceCapability'): expect/status" in error.message


def test_missing_required_key(tmp_path: Path) -> None:
    error = load_error(tmp_path, GOOD.replace("role: server\n", ""))
    assert "'role' is a required property" in error.message


def test_unknown_variable_is_caught_at_load_time(tmp_path: Path) -> None:
    error = load_error(tmp_path, GOOD.replace('path: "${tm}"', 'path: "${time_link}"'))
    assert error.line == 15  # the request line, where the reference is
    assert "'time_link'" in error.message and "known:" in error.message


def test_a_variable_saved_by_a_later_step_is_not_yet_known(tmp_path: Path) -> None:
    error = load_error(tmp_path, GOOD.replace('path: "${dcap}"', 'path: "${tm}"'))
    assert error.line == 8


def test_matcher_mixing_operators_and_elements_points_at_the_line(tmp_path: Path) -> None:
    error = load_error(tmp_path, GOOD.replace("{TimeLink: {href: present}}", "{TimeLink: {href: present, min: 1}}"))
    assert error.line == 12
    assert "mixes matcher operators" in error.message


def test_bad_regex_and_bad_number_in_matchers(tmp_path: Path) -> None:
    assert "regular expression" in load_error(tmp_path, GOOD.replace("{one_of: [3, 7]}", "{regex: '('}")).message
    assert "expected a number" in load_error(tmp_path, GOOD.replace("{one_of: [3, 7]}", "{min: many}")).message


def test_bad_requires_expression(tmp_path: Path) -> None:
    error = load_error(tmp_path, GOOD.replace("requires: [time]", "requires: [time and]"))
    assert error.line == 5
    assert "ends too early" in error.message


def test_bad_save_path(tmp_path: Path) -> None:
    error = load_error(tmp_path, GOOD.replace("save: {tm: TimeLink.href}", "save: {tm: TimeLink..href}"))
    assert error.line == 13


def test_invalid_yaml_syntax_names_the_line(tmp_path: Path) -> None:
    error = load_error(tmp_path, GOOD.replace("title: A case", "title: [unclosed"))
    assert error.line is not None and error.line >= 2
    assert "invalid YAML" in error.message


def test_empty_file_and_non_mapping_and_bad_encoding(tmp_path: Path) -> None:
    assert "empty file" in load_error(tmp_path, "").message
    assert "expected a mapping" in load_error(tmp_path, "- just\n- a list\n").message
    path = tmp_path / "BIN.yaml"
    path.write_bytes(b"id: \xff\xfe\n")
    with pytest.raises(CaseFileError, match="UTF-8"):
        load_case(path)


def test_request_needs_exactly_one_of_path_and_url(tmp_path: Path) -> None:
    error = load_error(tmp_path, GOOD.replace('{method: GET, path: "${tm}"}', "{method: GET}"))
    assert error.line == 15


# --- authoring mistakes are the author's: each is a load error at its exact line (issue: blame) ----------


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        # a misspelt field of a built-in variable, deep inside the expectation
        ('resource: {TimeLink: {href: present}}', 'resource: {TimeLink: {href: "${client.lfid}"}}', 12,
         "${client.lfid}: client has no field 'lfid' (its fields: lfdi, mrid_base, pin, sfdi); "
         "did you mean client.lfdi?"),
        # a misspelt saved variable
        ('path: "${tm}"', 'path: "${tn}"', 15,
         "${tn} uses 'tn', which no earlier step saves or sets; did you mean 'tm'?"),
        # a path that is not a path
        ('path: "${dcap}"', 'path: "dcap"', 8, "request/path: 'dcap' does not match '^(/|\\\\$\\\\{)'"),
        # an unknown capability, with the closest known name
        ("requires: [time]", "requires: [tmie]", 5, "unknown capability 'tmie'; did you mean 'time'?"),
        ("requires: [time]", "requires: [mirror-usage-point]", 5, "is now called 'metering-mirror'"),
        # an unknown matcher inside a resource: `all` holds a value, so its keys must be matchers
        ('resource: {TimeLink: {href: present}}', 'resource: {EndDeviceListLink: {all: {greater_than: 0}}}', 12,
         "EndDeviceListLink.all holds a value, not elements: expected a value or a matcher"),
        # an unknown root in schema:, with the closest resource names
        ("schema: DeviceCapability", "schema: DERSetting", 11,
         "schema: 'DERSetting' is not a 2030.5 resource (no global element of that name in IEEE 2030.5-2018); "
         "did you mean 'DERSettings'"),
        # a misspelt element of the resource
        ('resource: {TimeLink: {href: present}}', 'resource: {TimeLnk: {href: present}}', 12,
         "'TimeLnk' is neither a matcher nor a child or attribute of DeviceCapability; did you mean 'TimeLink'"),
        # a save path into a field the resource does not have
        ("save: {tm: TimeLink.href}", "save: {tm: TimeLink.hrf}", 13,
         "save path 'TimeLink.hrf': 'hrf' is not a child or attribute of TimeLink; did you mean 'href'?"),
        # a `when:` over a variable nothing saves
        ('  - name: GET Time\n', '  - name: GET Time\n    when: tim\n', 15, "when: 'tim' uses 'tim', which no earlier"),
    ],
)
def test_authoring_mistakes_name_the_exact_line(tmp_path: Path, old: str, new: str, line: int, message: str) -> None:
    assert old in GOOD
    error = load_error(tmp_path, GOOD.replace(old, new))
    assert error.line == line, error
    assert message in error.message, error.message


def test_a_reference_inside_a_save_path_is_checked(tmp_path: Path) -> None:
    text = GOOD.replace("save: {tm: TimeLink.href}", 'save: {tm: "EndDevice[lFDI=${client.lfdl}].href"}')
    error = load_error(tmp_path, text)
    assert error.line == 13 and "client has no field 'lfdl'" in error.message


def test_a_choice_step_adds_what_any_option_saves_or_sets(tmp_path: Path) -> None:
    text = GOOD.replace("""  - name: GET Time
    request: {method: GET, path: "${tm}"}""", """  - name: pick
    choose:
      - name: one
        request: {method: GET, path: /a}
        require: {status: 200}
        set: {chosen: "${tm}"}
      - name: two
        request: {method: GET, path: /b}
        save: {other: href}
  - name: GET Time
    when: chosen or other
    request: {method: GET, path: "${chosen}"}""")
    case = load_case(write(tmp_path, text))
    choice = case.steps[1]
    assert [o.name for o in choice.choose] == ["one", "two"] and choice.choose[0].require is not None
    assert case.steps[2].when is not None and case.steps[2].when.names() == ["chosen", "other"]


def test_a_choice_step_has_no_expectation_of_its_own(tmp_path: Path) -> None:
    text = GOOD.replace("""  - name: GET Time
    request: {method: GET, path: "${tm}"}""", """  - name: GET Time
    choose:
      - {name: one, request: {method: GET, path: /a}}""")
    error = load_error(tmp_path, text)
    assert "step 2 'GET Time': a choice step has no expect of its own (each option has)" in error.message


def test_capability_names_are_a_registry() -> None:
    from harness.cases.capabilities import capabilities, unknown_capability_message

    known = capabilities()
    assert {"edev-list", "time", "time-synchronised", "registration", "fsa", "metering-mirror", "plain-http",
            "aggregator", "logevents", "xmdns"} == set(known)
    assert all(meaning and not meaning.endswith(".") for meaning in known.values())
    assert unknown_capability_message("time") is None
    assert "retired" in (unknown_capability_message("der-program") or "")
    assert "did you mean 'edev-list'" in (unknown_capability_message("edev-lst") or "")
    used = {name for file in project_dir("testcases").rglob("*.yaml") for r in load_case(file).requires
            for name in r.names()}
    assert used <= set(known)


# --- time and events ----------------------------------------------------------------------------------

TIMED = GOOD + """\
  - name: wait for the start
    wait: {until: "${dut_time + 120}", for: "two minutes", max: 300}
  - name: the list of events
    request: {method: GET, path: /derp/1/derc}
    expect: {status: 200, schema: DERControlList, list_order: true, event_status: {tolerance: 3}}
"""


def test_wait_steps_and_event_checks_load(tmp_path: Path) -> None:
    case = load_case(write(tmp_path, TIMED))
    wait, listed = case.steps[2], case.steps[3]
    assert wait.wait is not None and wait.request is None
    assert (wait.wait.until, wait.wait.purpose, wait.wait.max) == ("${dut_time + 120}", "two minutes", 300)
    assert listed.expect.list_order and listed.expect.event_status == 3


def test_a_wait_step_with_an_expectation_is_refused_at_its_line(tmp_path: Path) -> None:
    error = load_error(tmp_path, TIMED.replace('max: 300}', 'max: 300}\n    expect: {status: 200}'))
    assert error.line == 19 and "a wait step has no expect" in str(error)


def test_a_wait_without_saying_what_it_waits_for_is_refused(tmp_path: Path) -> None:
    error = load_error(tmp_path, TIMED.replace(', for: "two minutes"', ""))
    assert error.line == 18 and "'for' is a required property" in str(error)


def test_list_order_on_a_list_whose_order_is_not_known_is_refused(tmp_path: Path) -> None:
    error = load_error(tmp_path, TIMED.replace("schema: DERControlList", "schema: EndDeviceList"))
    assert error.line == 21 and "list_order: expected schema to name a list whose 2030.5 order" in str(error)
    assert "DERControlList" in str(error)
