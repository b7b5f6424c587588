"""YAML syntax errors in plain words: the common mistakes of a test author, each with the line and column
that need editing and a sentence saying what is wrong and how to fix it, never PyYAML's parser vocabulary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.cases.loader import CaseFileError, load_case
from harness.cases.profile import ProfileError, load_profile

GOOD = """\
id: LAB-001
title: Time
version: "1"
role: server
procedure: {doc: lab procedures, version: "1"}
steps:
  - name: GET Time
    request: {method: GET, path: /tm}
    expect:
      status: 200
      match: {quality: 7}
"""

# name: (what replaces what in GOOD, the line and column reported, words the message must hold)
MISTAKES: dict[str, tuple[tuple[str, str], int, int, tuple[str, ...]]] = {
    "key indented less than its siblings": (
        ("    expect:\n", "   expect:\n"), 9, 4,
        ("indented differently from the keys above it", "column 4", "column 5", "line it up")),
    "key indented more than the one above": (
        ("version: \"1\"\n", "  version: \"1\"\n"), 3, 3,
        ("indented more (column 3) than the key above it (column 1)", "already has a value")),
    "list item out of line": (
        ("  - name: GET Time\n", "  - name: GET Time\n - name: again\n"), 8, 2,
        ("list item", "indented differently", "line its '-' up")),
    "': ' inside a value": (("title: Time\n", "title: Time: basic\n"), 2, 12,
                            ("a value that contains ': ' must be quoted", 'title: "Time: basic"')),
    "tab for indentation": (("    request:", "\trequest:"), 8, 1, ("tab character", "spaces")),
    # Runs on to the next '"' in the file (line 5), where parsing then fails: located where it opens.
    "unclosed double quote": (('version: "1"\n', 'version: "1\n'), 3, 10,
                              ("quoted value that opens here with \" runs on to line 5", "closing \" is probably "
                               "missing on this line")),
    "unclosed quote at the end": (("      match: {quality: 7}\n", "      match: {quality: '7}\n"), 11, 24,
                                  ("quoted value that opens here with ' is never closed", "add the closing '")),
    "unclosed single quote": (("title: Time\n", "title: 'Time\n"), 2, 8, ("never closed", "add the closing '")),
    "unclosed bracket": (("procedure: {doc: lab procedures, version: \"1\"}\n",
                          "procedure: {doc: lab procedures, version: \"1\"\n"), 5, 12,
                         ("the '{' that opens here is not closed before line 6", "add the '}'")),
    "unclosed list": (("title: Time\n", "title: [Time\n"), 2, 8, ("the '[' that opens here is not closed",)),
    "key without a colon": (("role: server\n", "role server\n"), 4, 1, ("has no ': ' after its key",)),
    "backslash in double quotes": (("title: Time\n", 'title: "\\d+ seconds"\n'), 2, 9,
                                   ("'\\d' is not one", "single quotes")),
    "reserved character": (("title: Time\n", "title: @home\n"), 2, 8, ("'@' cannot start a value", "quotes")),
    "list on the key's line": (("steps:\n", "steps: - name: x\n"), 6, 8, ("on the same line as its key",)),
    "dash without a space": (("  - name: GET Time\n", "  -name: GET Time\n"), 7, 3,
                             ("no space after this '-'", "'-name:'", "write '- name:'")),
    "dash without a space, later item": (("  - name: GET Time\n", "  - name: GET Time\n  -name: again\n  - b\n"),
                                         8, 3, ("no space after this '-'",)),
    "text after a closing quote": (('version: "1"\n', 'version: "1" beta\n'), 3, 14,
                                   ("text follows the closing quote",)),
}


@pytest.mark.parametrize("name", list(MISTAKES))
def test_a_common_mistake_is_explained_where_it_is(name: str, tmp_path: Path) -> None:
    (old, new), line, column, words = MISTAKES[name]
    assert old in GOOD
    path = tmp_path / "LAB-001.yaml"
    path.write_text(GOOD.replace(old, new, 1))
    with pytest.raises(CaseFileError) as info:
        load_case(path)
    error = info.value
    assert (error.line, error.column) == (line, column), str(error)
    assert str(error).startswith(f"{path}:{line}:{column}: invalid YAML: ")
    for word in words:
        assert word in error.message, (word, error.message)
    for jargon in ("<block end>", "<block mapping start>", "<block sequence start>", "scanning", "token",
                   "simple key", "stream"):
        assert jargon not in error.message


def test_a_control_character_is_located_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "LAB-001.yaml"
    path.write_text(GOOD.replace("title: Time", "title: Ti\x07me"))
    with pytest.raises(CaseFileError) as info:
        load_case(path)
    assert (info.value.line, info.value.column) == (2, 10) and "U+0007" in info.value.message


def test_a_profile_reports_its_yaml_mistakes_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "dut.yaml"
    path.write_text("role: server\nidentity:\n  cert: client.pem\n key: client.key\n")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert (info.value.line, info.value.column) == (4, 2) and "indented differently" in info.value.message


def test_the_cases_command_shows_the_plain_message(tmp_path: Path) -> None:
    (tmp_path / "LAB-001.yaml").write_text(GOOD.replace("title: Time\n", "title: Time: basic\n"))
    done = subprocess.run([sys.executable, "-m", "harness.cli", "cases", "--cases", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert f"{tmp_path / 'LAB-001.yaml'}:2:12: invalid YAML: a second ': ' on this line" in done.stdout
