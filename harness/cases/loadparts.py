"""Pieces of test-case loading that the server-role loader (loader.py) and the client-role loader
(client_loader.py) share: requirement expressions, ${...} references, action names, setup actions, and checking
expectations and save paths against the bundled 2030.5 schema. Each raises CaseFileError with file and line."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.actions.registry import registry, unknown_action_message
from harness.cases.capabilities import first_unknown
from harness.cases.model import ActionCall, ExpectSpec
from harness.cases.requires import Requirement, RequiresSyntaxError, parse_requirement
from harness.cases.resource_check import ResourceSpecError, check_expectation, check_save_path, node_for
from harness.cases.variables import references
from harness.cases.yamlload import YamlFileError, line_of

CaseFileError = YamlFileError


def _requirements(raw: list[str] | None, file: Path, data: Any, where: list[Any]) -> tuple[Requirement, ...]:
    parsed = []
    for i, text in enumerate(raw or []):
        try:
            requirement = parse_requirement(text)
        except RequiresSyntaxError as exc:
            raise CaseFileError(file, line_of(data, [*where, i]), f"requires: {exc}") from None
        problem = first_unknown(requirement.names())
        if problem:
            raise CaseFileError(file, line_of(data, [*where, i]), f"requires: {problem}")
        parsed.append(requirement)
    return tuple(parsed)


# The fields of the built-in variables that have fields (engine.context builds them).
BUILTIN_FIELDS: dict[str, tuple[str, ...]] = {"client": ("lfdi", "mrid_base", "pin", "sfdi")}
# The fields of each ${identities.NAME} (engine.identities.identity_variables).
IDENTITY_FIELDS = ("certificate_sha256", "lfdi", "mrid_base", "sfdi")
_OFFSET = re.compile(r"^(?P<ref>.+?)\s*[+-]\s*\d+$")


def _strings(node: Any, path: list[Any]) -> Iterator[tuple[list[Any], str]]:
    """Every string inside node (keys included), with its path, for line numbers of what is wrong."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str):
                yield [*path, key], key
            yield from _strings(value, [*path, key])
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, [*path, i])


def _reference_problem(expression: str, known: set[str]) -> str | None:
    """What is wrong with one `${...}` expression, or None."""
    offset = _OFFSET.match(expression)
    reference = offset.group("ref") if offset else expression
    root = re.match(r"[A-Za-z_][A-Za-z0-9_]*", reference)
    if not root:
        return f"${{{expression}}} is not a variable reference"
    name = root.group(0)
    if name not in known:
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return (f"${{{expression}}} uses {name!r}, which no earlier step saves or sets{hint} "
                f"(known: {', '.join(sorted(known))})")
    fields = BUILTIN_FIELDS.get(name)
    rest = reference[len(name):]
    if name == "identities":
        # ${identities.NAME.FIELD}: NAME is the profile's to map (unmapped: the step is not applicable).
        parts = re.fullmatch(r"\.([A-Za-z][A-Za-z0-9_-]*)\.([A-Za-z_][A-Za-z0-9_]*)", rest.strip())
        if not parts or parts.group(2) not in IDENTITY_FIELDS:
            return (f"${{{expression}}}: expected identities.NAME.FIELD with FIELD one of "
                    f"{', '.join(IDENTITY_FIELDS)}")
        return None
    if fields is not None and rest:
        field = re.match(r"\.([A-Za-z_][A-Za-z0-9_]*)", rest)
        if not field or field.group(1) not in fields:
            seen = field.group(1) if field else rest
            close = difflib.get_close_matches(seen, fields, n=1)
            hint = f"; did you mean {name}.{close[0]}?" if close else ""
            return f"${{{expression}}}: {name} has no field {seen!r} (its fields: {', '.join(fields)}){hint}"
    return None


def _check_references(value: Any, known: set[str], file: Path, line: int | None, where: str,
                      data: Any = None, at: list[Any] | None = None) -> None:
    """Refuse references to unknown variables or fields, at the line of the string that holds them."""
    for path, text in _strings(value, at or []):
        for expression in references(text):
            problem = _reference_problem(expression, known)
            if problem:
                exact = line_of(data, path) if data is not None and at is not None else None
                raise CaseFileError(file, exact or line, f"{where}: {problem}")


def check_action_names(data: Any, key: str, file: Path, names: Any) -> None:
    """Name the first unknown action (with its line) before the JSON Schema gives a longer message."""
    known = registry()
    for position, name in names:
        if isinstance(name, str) and name not in known:
            raise CaseFileError(file, line_of(data, [key, *position]), unknown_action_message(name))
        # A profile maps actions and observations alike; a case carries out only actions.
        if isinstance(name, str) and key != "actions" and known[name].kind == "observation":
            raise CaseFileError(file, line_of(data, [key, *position]),
                                f"{name!r} is an observation, not an action: read it with an `observe:` step")


def _setup(data: dict[str, Any], file: Path, known: set[str]) -> tuple[ActionCall, ...]:
    calls = []
    for i, item in enumerate(data.get("setup", ())):
        (name, params), = item.items()
        line = line_of(data, ["setup", i])
        _check_references(params, known, file, line, f"setup action {name!r}", data, ["setup", i, name])
        calls.append(ActionCall(name=name, params=dict(params or {}), line=line))
    return tuple(calls)



def _check_against_schema(raw: dict[str, Any], file: Path, data: Any, where: list[Any], label: str) -> None:
    """Resource names, expectations and save paths against the bundled 2030.5 schema (the author's mistakes)."""
    expect = raw.get("expect") or {}
    try:
        node = node_for(expect.get("schema"), [*where, "expect", "schema"])
        if node is None:
            return
        for key in ("expect", "require", "should"):
            block = raw.get(key)
            resource = block.get("resource") if isinstance(block, dict) else None
            if resource is not None:
                check_expectation(resource, node, [*where, key, "resource"], label)
        for name, path in (raw.get("save") or {}).items():
            check_save_path(path, node, [*where, "save", name], label)
    except ResourceSpecError as exc:
        raise CaseFileError(file, line_of(data, exc.path), str(exc) if str(exc).startswith(label) else
                            f"{label}: {exc}") from None


def _expect(raw: dict[str, Any] | None) -> ExpectSpec:
    raw = raw or {}
    status = raw.get("status", ())
    event_status = raw.get("event_status")
    return ExpectSpec(
        status=tuple(status) if isinstance(status, list) else ((status,) if status else ()),
        content_type=raw.get("content_type"),
        headers=dict(raw.get("headers", {})),
        body=raw.get("body"),
        schema=raw.get("schema"),
        resource=raw.get("resource"),
        tls=raw.get("tls"),
        event_status=None if event_status is None else float(event_status.get("tolerance", DEFAULT_TOLERANCE)),
        list_order=bool(raw.get("list_order", False)),
    )


# Seconds either side of an event's boundary within which both statuses are accepted (TimeType is whole seconds,
# and the DUT's time moves while a response travels).
DEFAULT_TOLERANCE = 2.0


def _when(raw: dict[str, Any], file: Path, data: Any, where: list[Any], known: set[str]) -> Requirement | None:
    text = raw.get("when")
    if text is None:
        return None
    line = line_of(data, [*where, "when"])
    try:
        expression = parse_requirement(text)
    except RequiresSyntaxError as exc:
        raise CaseFileError(file, line, f"when: {exc}") from None
    for name in expression.names():
        root = re.split(r"[.\[]", name, maxsplit=1)[0]
        if root not in known:
            raise CaseFileError(file, line, f"when: {name!r} uses {root!r}, which no earlier step saves or sets "
                                            f"(known: {', '.join(sorted(known))})")
    return expression
