"""`request: {for_each: {NAME: "${list}"}}`: one request per item of a list, each judged on its own, saves collected
per item; against the reference server over mutual TLS (create-fsa gives the client three FSAs, each with a
DERProgramList of its own)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cases.loader import CaseFileError, load_case
from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, start_reference_server
from harness.results import ERROR, FAILED, NOT_APPLICABLE, PASSED, TestRecord
from tests.casekit import run_case, write_case

HEAD = """\
id: LAB-031
title: for_each
role: server
procedure: {doc: d, version: '1'}
setup:
  - preregister-enddevice: {lfdi: "${client.lfdi}", sfdi: "${client.sfdi}", links: [function-set-assignments,
                                                                                     subscriptions]}
  - create-fsa: {lfdi: "${client.lfdi}", count: 3}
steps:
  - name: the client's FunctionSetAssignmentsList
    request: {method: GET, path: /edev/1/fsa, pages: 255}
    expect: {status: 200, schema: FunctionSetAssignmentsList}
    save: {lists: "FunctionSetAssignments[*].DERProgramListLink.href"}
    set: {nested: ["${lists}", "${lists}"], nothing: [], two: [a, b]}
"""
SUBSCRIBE = """\
  - name: subscribe to each DERProgramList
    request:
      method: POST
      path: /edev/1/sub
      for_each: {target: "${lists}"}
      body: >-
        <Subscription xmlns="urn:ieee:std:2030.5:ns"><subscribedResource>${target}</subscribedResource><encoding>0</encoding><level>+S1</level><limit>1</limit><notificationURI>https://127.0.0.1:1/n</notificationURI></Subscription>
    expect: {status: 201, headers: {Location: present}}
    save_headers: {subs: Location}
"""


@pytest.fixture(scope="module")
def server(pki: TestPki) -> Iterator[ReferenceProcess]:
    with start_reference_server(pki, preregister=[(pki.clients["client"].cert, 111115)], timeout=60) as started:
        yield started


def write(tmp_path: Path, steps: str) -> Path:
    return write_case(tmp_path, "LAB-031", HEAD + textwrap.indent(textwrap.dedent(steps), "  "))


def run_steps(steps: str, server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> TestRecord:
    return run_case(server, pki, write(tmp_path, steps), out=str(tmp_path / "out"))


def test_one_post_per_href_each_saved_then_read_back_side_by_side(
    server: ReferenceProcess, pki: TestPki, tmp_path: Path
) -> None:
    record = run_steps(SUBSCRIBE + """\
  - name: each Location serves the Subscription to its list
    request:
      method: GET
      path: "${sub}"
      for_each: {sub: "${subs}", target: "${lists}"}
    expect:
      status: 200
      schema: Subscription
      resource: {subscribedResource: {uri: "${target}"}}
    """, server, pki, tmp_path)
    assert record.verdict == PASSED, record.reason
    posts, reads = record.steps[1], record.steps[2]
    lists = record.steps[0].saved["lists"]
    assert sorted(lists) == [f"/edev/1/fsa/{k}/derp" for k in (1, 2, 3)]
    assert [e.method for e in posts.exchanges] == ["POST"] * 3
    # One POST per href, in the list's order, each carrying its own href; one Location saved per POST.
    assert [next(h for h in lists if f"<subscribedResource>{h}<" in e.request_body["text"]) for e in posts.exchanges] \
        == lists
    subs = posts.saved["subs"]
    assert len(subs) == 3 and len(set(subs)) == 3 and all(s.startswith("/edev/1/sub/") for s in subs)
    assert [e.url for e in reads.exchanges] == [f"{server.base_url}{s}" for s in subs]
    assert [item["target"] for item in reads.observed["for_each"]] == lists


def test_the_first_failing_item_fails_the_step_naming_it(
    server: ReferenceProcess, pki: TestPki, tmp_path: Path
) -> None:
    record = run_steps("""\
  - name: each list holds 99 programs
    request: {method: GET, path: "${l}", for_each: {l: "${lists}"}}
    expect: {status: 200, schema: DERProgramList, resource: {all: 99}}
    """, server, pki, tmp_path)
    assert record.verdict == FAILED
    first = record.steps[0].saved["lists"][0]
    assert record.reason.startswith(f"step 2 'each list holds 99 programs', item 1 of 3 (l={first}): "
                                    "resource.all: expected 99, saw '3'"), record.reason
    assert len(record.steps[1].exchanges) == 1


def test_a_list_of_lists_is_sent_item_by_item_and_read_whole_under_each(
    server: ReferenceProcess, pki: TestPki, tmp_path: Path
) -> None:
    record = run_steps("""\
  - name: every list of both groups, one by one
    request: {method: GET, path: "${l}", for_each: {l: "${nested}"}}
    expect: {status: 200, schema: DERProgramList, resource: {all: 3}}
  - name: each group's lists read as one (each true)
    request: {method: GET, path: "${group}", each: true, for_each: {group: "${nested}"}}
    expect: {status: 200, schema: DERProgramList, resource: {all: 9}}
    """, server, pki, tmp_path)
    assert record.verdict == PASSED, record.reason
    assert len(record.steps[1].exchanges) == 6
    assert len(record.steps[2].exchanges) == 6 and len(record.steps[2].observed["for_each"]) == 2


def test_an_empty_list_is_not_applicable_and_unequal_lists_an_error(
    server: ReferenceProcess, pki: TestPki, tmp_path: Path
) -> None:
    record = run_steps("""\
  - name: nothing to read
    request: {method: GET, path: "${l}", for_each: {l: "${nothing}"}}
    expect: {status: 200}
  - name: lists of different lengths
    request: {method: GET, path: "${l}", for_each: {l: "${lists}", x: "${two}"}}
    expect: {status: 200}
    """, server, pki, tmp_path)
    assert record.steps[1].verdict == NOT_APPLICABLE
    assert record.steps[1].message == "for_each: ${nothing} holds no item"
    assert record.verdict == ERROR
    assert "for_each: expected lists of one length, to take side by side, saw ${lists} 3, ${two} 2 items" \
        in record.reason


@pytest.mark.parametrize(("steps", "problem", "line"), [
    ('- name: s\n  request: {method: GET, path: "${l}", for_each: {l: "${missing}"}}\n  expect: {status: 200}\n',
     "${missing} uses 'missing', which no earlier step saves or sets", 16),
    ('- name: s\n  request: {method: GET, path: "${lists}", for_each: {lists: "${nested}"}}\n  expect: {}\n',
     "for_each: 'lists' is already a variable", 16),
    ('- name: s\n  request: {method: GET, path: "${l}", for_each: {l: "/derp/${lists}"}}\n  expect: {}\n',
     "for_each", 16),
    ('- name: s\n  request: {method: GET, path: "${x}", for_each: {l: "${lists}"}}\n  expect: {}\n',
     "${x} uses 'x'", 16),
    ('- name: s\n  choose:\n    - name: o\n      request: {method: GET, path: "${l}", for_each: {l: "${lists}"}}\n'
     '      expect: {}\n', "for_each: a choice option sends one request", 18),
])
def test_for_each_mistakes_are_load_errors_at_their_line(tmp_path: Path, steps: str, problem: str, line: int) -> None:
    case = write(tmp_path, steps)
    with pytest.raises(CaseFileError) as info:
        load_case(case)
    assert problem in str(info.value)
    assert f"{case}:{line}:" in str(info.value)


def test_a_set_of_a_save_that_failed_leaves_the_step_failed_not_an_error(
    server: ReferenceProcess, pki: TestPki, tmp_path: Path
) -> None:
    # The DUT did not give what the save looks for: its fault, even when a set uses that save.
    record = run_steps("""\
  - name: a program of primacy 99
    request: {method: GET, path: "${lists[0]}"}
    expect: {status: 200}
    save: {odd: "DERProgram[primacy=99].href"}
    set: {odds: ["${odd}"]}
    """, server, pki, tmp_path)
    assert record.verdict == FAILED, record.reason
    assert "save odd: expected a value at DERProgram[primacy=99].href" in record.reason
