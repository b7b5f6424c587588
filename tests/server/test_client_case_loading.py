"""Client-role cases are checked when they load as strictly as server-role ones: each mistake is refused with
the file, the line and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cases.loader import CaseFileError, load_case
from harness.cases.model import ClientStep

HEAD = """\
id: LAB-102
title: loading
role: client
procedure: {doc: d, version: '1'}
serve: der-basic
steps:
"""
GOOD = """\
  - name: discovers
    await: {method: GET, path: /dcap}
    save: {poll: pollRate}
"""


def load(tmp_path: Path, steps: str, head: str = HEAD) -> object:
    path = tmp_path / "LAB-102.yaml"
    path.write_text(head + steps)
    return load_case(path)


def refused(tmp_path: Path, steps: str, head: str = HEAD) -> CaseFileError:
    with pytest.raises(CaseFileError) as caught:
        load(tmp_path, steps, head)
    return caught.value


def test_a_client_case_loads_with_its_tree_and_steps(tmp_path: Path) -> None:
    case = load(tmp_path, GOOD + "  - name: wait\n    pause: {for: 10}\n")
    assert case.role == "client" and case.serve.name == "der-basic.yaml"
    assert case.steps[0].client == ClientStep(kind="await", spec={"method": "GET", "path": "/dcap"})
    assert case.steps[1].client.kind == "pause"


@pytest.mark.parametrize(("steps", "line", "text"), [
    ("  - name: x\n    await: {method: GET, path: /dcap, whithin: 3}\n", 8, "whithin"),
    ("  - name: x\n    await: {method: GET}\n", 8, "path"),
    ("  - name: x\n    await: {method: GET, path: /dcap}\n    act: {remove: /dcap}\n", 7, "x"),
    ("  - name: x\n    await: {method: GET, path_regex: '/edev/(['}\n", 8, "regular expression"),
    ("  - name: x\n    await: {method: GET, path: '${nowhere}'}\n", 8, "nowhere"),
    ("  - name: x\n    act: {add: {href: /a, DERControl: {}, DERProgram: {}}}\n", 8, "exactly one 2030.5 element"),
    ("  - name: x\n    act: {cancel: /a}\n    save: {a: b}\n", 9, "only an await step saves"),
    ("  - name: x\n    await: {method: PUT, path: /d, expect: {schema: DERStatus, resource: {readngTime: 1}}}\n", 8,
     "readngTime"),
    ("  - name: x\n    await: {method: GET, path: /d, expect: {resource: {a: {one_of: 1}}}}\n", 8, "one_of"),
    ("  - name: x\n    await: {method: PUT, path: /d, expect: {schema: DERStatus}}\n    save: {t: readingTme}\n", 9,
     "readingTme"),
    ("  - name: x\n    action: {no-such-action: {}}\n", 8, "no-such-action"),
])
def test_mistakes_are_refused_with_file_and_line(tmp_path: Path, steps: str, line: int, text: str) -> None:
    error = refused(tmp_path, steps)
    assert error.line == line and text in str(error) and "LAB-102.yaml" in str(error), str(error)


def test_a_tree_that_does_not_exist_or_does_not_load_is_refused(tmp_path: Path) -> None:
    error = refused(tmp_path, GOOD, HEAD.replace("der-basic", "no-such-tree"))
    assert error.line == 5 and "no-such-tree" in str(error)
    (tmp_path / "bad-tree.yaml").write_text("resources:\n  /dcap:\n    DeviceCapability: {}\n    items: [/x]\n")
    error = refused(tmp_path, GOOD, HEAD.replace("der-basic", "bad-tree.yaml"))
    assert error.line == 5 and "bad-tree.yaml:3" in str(error) and "/x" in str(error)
