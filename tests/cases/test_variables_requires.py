"""Variables, paths into resources and capability expressions."""

from __future__ import annotations

import pytest

from harness.cases.paths import PathError, lookup
from harness.cases.requires import RequiresSyntaxError, parse_requirement, unmet
from harness.cases.variables import VariableError, references, substitute

VARIABLES = {
    "edev": "/edev",
    "every": [{"href": "/edev/1", "lFDI": "AB"}, {"href": "/edev/2", "lFDI": "CD"}],
    "now": 1700000000,
    "client": {"lfdi": "cd", "pin": 111115},
}


def test_substitution_keeps_type_for_a_lone_reference_and_formats_inside_text() -> None:
    assert substitute("${now}", VARIABLES) == 1700000000
    assert substitute("${edev}?a=${now + 86400}", VARIABLES) == "/edev?a=1700086400"
    assert substitute({"x": ["${every[1].href}", 3]}, VARIABLES) == {"x": ["/edev/2", 3]}
    assert substitute("${now - 1}", VARIABLES) == 1699999999


def test_unknown_variable_lists_the_known_ones() -> None:
    with pytest.raises(VariableError, match=r"no variable 'nope' \(known: client, edev, every, now\)"):
        substitute("${nope}", VARIABLES)


def test_path_beyond_a_list_is_a_variable_error() -> None:
    with pytest.raises(VariableError, match=r"no item matches \[5\]"):
        substitute("${every[5].href}", VARIABLES)
    with pytest.raises(VariableError, match="expected an integer to offset"):
        substitute("${edev + 1}", VARIABLES)


def test_lookup_with_index_and_filter() -> None:
    assert lookup(VARIABLES, "every[lFDI=cd].href") == "/edev/2"
    assert lookup(VARIABLES, "every[-1].lFDI") == "CD"
    assert lookup({"One": {"href": "/x"}}, "One[0].href") == "/x"
    with pytest.raises(PathError, match="every.missing is absent"):
        lookup(VARIABLES, "every.missing")
    with pytest.raises(PathError, match="expected a path"):
        lookup(VARIABLES, "every..href")


def test_references_are_listed_for_load_time_checks() -> None:
    assert references({"a": "${x} and ${y.z}", "b": ["${w + 1}"]}) == ["x", "y.z", "w + 1"]


@pytest.mark.parametrize(
    ("text", "capabilities", "holds"),
    [
        ("time", {"time"}, True),
        ("time", set(), False),
        ("edev-list and time", {"time"}, False),
        ("edev-list or time", {"time"}, True),
        ("not aggregator", set(), True),
        ("(a or b) and not c", {"b"}, True),
        ("(a or b) and not c", {"b", "c"}, False),
    ],
)
def test_capability_expressions(text: str, capabilities: set[str], holds: bool) -> None:
    assert parse_requirement(text).holds(capabilities) is holds


@pytest.mark.parametrize("text", ["", "a and", "(a", "a b", "and a", "a $ b"])
def test_malformed_expressions_are_refused(text: str) -> None:
    with pytest.raises(RequiresSyntaxError):
        parse_requirement(text)


def test_unmet_names_each_failing_expression() -> None:
    requirements = [parse_requirement("time"), parse_requirement("edev-list and fsa")]
    assert unmet(requirements, {"time", "fsa"}) == ["edev-list and fsa"]
