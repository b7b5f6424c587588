"""`request: {each: true}`: every list a saved `[*].href` names is read whole and their items judged as one list,
against the reference server over mutual TLS (create-fsa gives the client three FSAs of three programs each)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cases.loader import CaseFileError, load_case
from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, start_reference_server
from harness.results import ERROR, FAILED, PASSED, TestRecord
from tests.casekit import run_case, write_case

HEAD = """\
id: LAB-030
title: each list
role: server
procedure: {doc: d, version: '1'}
setup:
  - preregister-enddevice: {lfdi: "${client.lfdi}", sfdi: "${client.sfdi}"}
  - create-fsa: {lfdi: "${client.lfdi}", count: 3}
steps:
  - name: the client's FunctionSetAssignmentsList
    request: {method: GET, path: /edev/1/fsa, pages: 255}
    expect: {status: 200, schema: FunctionSetAssignmentsList}
    save: {lists: "FunctionSetAssignments[*].DERProgramListLink.href", first: "FunctionSetAssignments[0]"}
"""


@pytest.fixture(scope="module")
def server(pki: TestPki) -> Iterator[ReferenceProcess]:
    with start_reference_server(pki, preregister=[(pki.clients["client"].cert, 111115)], timeout=60) as started:
        yield started


def write(tmp_path: Path, steps: str) -> Path:
    return write_case(tmp_path, "LAB-030", HEAD + textwrap.indent(textwrap.dedent(steps), "  "))


def run_steps(steps: str, server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> TestRecord:
    return run_case(server, pki, write(tmp_path, steps), out=str(tmp_path / "out"))


def test_every_list_is_read_and_their_items_are_judged_as_one(
    server: ReferenceProcess, pki: TestPki, tmp_path: Path
) -> None:
    record = run_steps("""\
      - name: every program of the client, from all three lists
        request: {method: GET, path: "${lists}", each: true, pages: 2}
        expect:
          status: 200
          schema: DERProgramList
          resource:
            all: 9
            DERProgram: {count: 9, contains: [{primacy: 66}, {primacy: 68}, {primacy: 83}]}
        save: {top: "DERProgram[primacy=83].description"}
    """, server, pki, tmp_path)
    assert record.verdict == PASSED, record.reason
    step = record.steps[1]
    # Three lists of three programs, two items a page: two pages each.
    assert len(step.exchanges) == 6
    lists = {f"{server.base_url}/edev/1/fsa/{k}/derp" for k in (1, 2, 3)}
    assert {e.url.split("?")[0] for e in step.exchanges} == lists
    assert step.saved["top"] == "FSA 3 program 3"


def test_an_item_no_list_holds_fails_the_step(server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    record = run_steps("""\
      - name: a program of primacy 99
        request: {method: GET, path: "${lists}", each: true}
        expect:
          status: 200
          schema: DERProgramList
          resource: {DERProgram: {contains: [{primacy: 99}]}}
    """, server, pki, tmp_path)
    assert record.verdict == FAILED
    assert record.reason.startswith("step 2 'a program of primacy 99': resource.DERProgram: expected an item matching")
    assert "9 item(s), none matching" in record.reason


def test_a_variable_that_is_not_a_list_of_hrefs_is_an_error(
    server: ReferenceProcess, pki: TestPki, tmp_path: Path
) -> None:
    record = run_steps("""\
      - name: each over a resource, not hrefs
        request: {method: GET, path: "${first}", each: true}
        expect: {status: 200, schema: DERProgramList}
    """, server, pki, tmp_path)
    assert record.verdict == ERROR
    assert "each: expected ${first} to be a list of hrefs" in record.reason


@pytest.mark.parametrize(("request_text", "problem"), [
    ('{method: POST, path: "${lists}", each: true}', "each: expected a GET whose path is one ${...}"),
    ('{method: GET, path: "/derp/${lists}", each: true}', "saw GET '/derp/${lists}'"),
])
def test_each_needs_a_get_of_one_reference(tmp_path: Path, request_text: str, problem: str) -> None:
    case = write(tmp_path, f"""\
      - name: wrong each
        request: {request_text}
        expect: {{status: 200}}
    """)
    with pytest.raises(CaseFileError) as info:
        load_case(case)
    assert problem in str(info.value)
    assert f"{case}:14:" in str(info.value)  # the request line
