"""Which files pytest collects as test cases, and how it selects among them.

A YAML file is a case under a directory named testcases or one given with --csip-cases (ini csip_cases), or
anywhere when it has a case's top-level keys. `-k` matches a case's id, title and function sets (`-k Time`
finds CORE-005 "Basic Time"). `-m` matches one marker per IEEE 2030.5 function set (`time`, `end_device`,
`metering_mirror`: the name in snake_case) and one per DUT role (`client`, `aggregator`, `server`: the case's
own role and the roles the CSIP catalogue gives its procedure), so `-m "time and not aggregator"` selects the
Time cases whose procedure is not also an aggregator's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from harness.cases.model import Case
from harness.catalogue import procedures

# The IEEE 2030.5-2018 function sets, by the names test cases give them in `function_sets:`. Registered as
# markers when pytest starts (so `pytest --markers` lists them); a case naming another one registers it when
# it is collected, so --strict-markers never fails on a lab's own names.
FUNCTION_SETS = (
    "DeviceCapability", "SelfDevice", "EndDevice", "FunctionSetAssignments", "Subscription", "Response", "Time",
    "DeviceInformation", "PowerStatus", "NetworkStatus", "LogEvent", "Configuration", "FileManagement",
    "DemandResponseLoadControl", "Metering", "MeteringMirror", "Pricing", "Messaging", "Billing", "Prepayment",
    "FlowReservation", "DER", "Security",
)

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_NAME = re.compile(r"[^a-z0-9]+")

CASE_DIRS_KEY = pytest.StashKey[tuple[Path, ...]]()
# A YAML file anywhere else is a case when it reads like one: `id:` and `steps:` at the top level.
_CASE_KEYS = (re.compile(rb"^id:", re.MULTILINE), re.compile(rb"^steps:", re.MULTILINE))


def _case_dirs(config: pytest.Config) -> tuple[Path, ...]:
    """--csip-cases (relative to where pytest was started) and ini csip_cases (relative to the ini file)."""
    if CASE_DIRS_KEY not in config.stash:
        given = [config.invocation_params.dir / p for p in config.getoption("csip_cases") or ()]
        config.stash[CASE_DIRS_KEY] = tuple(p.resolve() for p in [*given, *config.getini("csip_cases")])
    return config.stash[CASE_DIRS_KEY]


def is_case_file(file_path: Path, config: pytest.Config) -> bool:
    """A YAML test case: under a directory named testcases or given with --csip-cases, or shaped like a case.

    Every YAML file in the first two places is collected, so one that cannot be loaded is reported, never
    skipped in silence; elsewhere only a file with a case's top-level keys is, so DUT profiles and other YAML
    beside the cases stay out.
    """
    if file_path.suffix not in (".yaml", ".yml"):
        return False
    if "testcases" in file_path.parts:
        return True
    resolved = file_path.resolve()
    if any(resolved.is_relative_to(folder) for folder in _case_dirs(config)):
        return True
    try:
        with file_path.open("rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return False
    return all(key.search(head) for key in _CASE_KEYS)


def marker_name(function_set: str) -> str:
    """The marker of a function set: snake_case, so 'EndDevice' and 'End Device' are both `end_device`."""
    return _NOT_NAME.sub("_", _WORD_BOUNDARY.sub("_", function_set.strip()).lower()).strip("_")


def roles() -> list[str]:
    """The DUT roles of the CSIP catalogue (client, aggregator, server), in catalogue order."""
    seen: dict[str, None] = {}
    for procedure in procedures().values():
        seen.update(dict.fromkeys(procedure.dut_roles))
    return list(seen)


def case_roles(case: Case) -> list[str]:
    """The role markers of a case: its own role and the roles the catalogue gives its procedure."""
    procedure = procedures().get(case.id)
    return list(dict.fromkeys([case.role, *(procedure.dut_roles if procedure else ())]))


def _describe(config: pytest.Config, name: str, meaning: str) -> None:
    config.addinivalue_line("markers", f"{name}: {meaning}")


def register_markers(config: pytest.Config) -> None:
    """Register the function-set and role markers (pytest_configure), for --strict-markers and --markers."""
    for function_set in FUNCTION_SETS:
        _describe(config, marker_name(function_set), f"CSIP test cases covering the {function_set} function set")
    for role in roles():
        _describe(config, role, f"CSIP test cases of a procedure for the {role} DUT role")


def mark_case(item: pytest.Item, case: Case) -> None:
    """Give a collected case its -k keywords and -m markers; names not registered yet are registered first."""
    item.extra_keyword_matches.update(_keywords(case))
    known = {line.split(":", 1)[0].split("(", 1)[0].strip() for line in item.config.getini("markers")}
    for function_set in case.function_sets:
        name = marker_name(function_set)
        if name and name not in known:
            _describe(item.config, name, f"CSIP test cases covering the {function_set} function set")
            known.add(name)
        if name:
            item.add_marker(getattr(pytest.mark, name))
    for role in case_roles(case):
        if role not in known:
            _describe(item.config, role, f"CSIP test cases of a procedure for the {role} DUT role")
            known.add(role)
        item.add_marker(getattr(pytest.mark, role))


def _keywords(case: Case) -> Iterable[str]:
    return [case.id, case.title, *case.function_sets]
