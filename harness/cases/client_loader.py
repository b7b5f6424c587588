"""Loading client-role test cases: the harness serves a tree, changes it, and judges the DUT's requests.

The format (README "Writing a test case", client role) is checked as strictly as a server-role case: the
JSON Schema (harness/cases/schema/client-case.schema.json), every `${...}` name against the variables known at
that point, every matcher and expected resource, every regular expression, the served tree (loaded with
stand-in values for the DUT's identity), the elements an `act: add` creates, and the action names.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from harness.cases.loadparts import (
    CaseFileError,
    _check_against_schema,
    _check_references,
    _requirements,
    _setup,
    check_action_names,
)
from harness.cases.matchers import MatcherSpecError, check_spec
from harness.cases.model import BUILTIN_VARIABLES, ActionCall, Case, ClientStep, ExpectSpec, Step
from harness.cases.validation import check_document
from harness.cases.yamlload import YamlFileError, line_of
from harness.server.tree import ServedTree

# The variables a client-role case has besides its own: the DUT's identity and the test server's address.
CLIENT_VARIABLES = ("device", "server")
KINDS = ("await", "act", "pause", "action", "check", "forbid", "observe")
# Stand-in values for loading a tree before any DUT is known: shaped like the real ones.
_STAND_IN = {"device": {"lfdi": "0" * 40, "sfdi": 0, "pin": 111115, "name": "client"},
             "server": {"url": "https://127.0.0.1:1"}, "now": 0}


def tree_path(serve: str, case_file: Path) -> Path:
    """The tree file a case's `serve:` names: a bundled tree (fixtures/trees/<name>.yaml) or a path relative to
    the case file. Raises FileNotFoundError naming both places looked at."""
    from harness.paths import project_dir

    relative = (case_file.parent / serve).resolve()
    if relative.is_file():
        return relative
    try:
        bundled = project_dir("fixtures") / "trees" / f"{serve}.yaml"
    except FileNotFoundError:
        bundled = Path("fixtures/trees") / f"{serve}.yaml"
    if bundled.is_file():
        return bundled
    raise FileNotFoundError(f"expected serve: to name a bundled tree ({bundled}) or a tree file beside the case "
                            f"({relative}), saw neither")


def _check_matchers(spec: Any, file: Path, line: int | None, label: str) -> None:
    try:
        check_spec(spec, "resource")
    except MatcherSpecError as exc:
        raise CaseFileError(file, line, f"{label}: {exc}") from None


def _check_request_match(spec: dict[str, Any], file: Path, data: Any, where: list[Any], label: str) -> None:
    if "path_regex" in spec:
        try:
            re.compile(spec["path_regex"])
        except re.error as exc:
            raise CaseFileError(file, line_of(data, [*where, "path_regex"]),
                                f"{label}: expected a Python regular expression, saw {spec['path_regex']!r}: "
                                f"{exc}") from None
    if "where" in spec:
        _check_matchers(spec["where"], file, line_of(data, [*where, "where"]), f"{label}: where")


def _check_add(spec: dict[str, Any], file: Path, line: int | None, label: str) -> None:
    elements = [k for k in spec if k[:1].isupper()]
    extra = [k for k in spec if k not in ("href", "to") and not k[:1].isupper()]
    if len(elements) != 1 or extra:
        raise CaseFileError(file, line, f"{label}: add: expected href, optional to, and exactly one 2030.5 "
                                        f"element (a capitalised name), saw keys {sorted(spec)}")


def _observation(spec: dict[str, Any], file: Path, data: Any, where: list[Any], label: str) -> ActionCall:
    """The observation an observe step names (exactly one registry observation besides expect/within/before),
    its parameters checked against the registry and its matchers checked."""
    from harness.actions.registry import observation_params_problems, observations, registry, unknown_action_message
    from harness.engine.observing import OBSERVE_KEYS

    names = [k for k in spec if k not in OBSERVE_KEYS]
    if len(names) != 1:
        raise CaseFileError(file, line_of(data, where), f"{label}: observe: expected exactly one observation name "
                            f"(one of {', '.join(sorted(observations()))}) beside {', '.join(OBSERVE_KEYS)}, saw "
                            f"{names or 'none'}")
    name = names[0]
    line = line_of(data, [*where, name])
    if name not in observations():
        problem = unknown_action_message(name) if name not in registry() else (
            f"{name!r} is an action, not an observation: carry it out with an `action:` step")
        raise CaseFileError(file, line, f"{label}: observe: {problem}")
    params = spec[name] if spec[name] is not None else {}
    problems = observation_params_problems(name, params)
    if problems:
        raise CaseFileError(file, line, f"{label}: observe {name}: " + "; ".join(problems))
    if "within" in spec and "before" in spec:
        raise CaseFileError(file, line_of(data, [*where, "before"]),
                            f"{label}: observe: give within (server seconds) or before (a server time), not both")
    if "expect" in spec:
        _check_matchers(spec["expect"], file, line_of(data, [*where, "expect"]), f"{label}: observe: expect")
    return ActionCall(name=name, params=dict(params), line=line)


def _client_step(raw: dict[str, Any], index: int, file: Path, data: Any, known: set[str]) -> Step:
    where: list[Any] = ["steps", index]
    line = line_of(data, where) or 0
    label = f"step {index + 1} {raw['name']!r}"
    kind = next(k for k in KINDS if k in raw)
    spec = raw[kind]
    if kind != "await":
        extra = [k for k in ("save", "save_request") if k in raw and not (kind == "observe" and k == "save")]
        if extra:
            raise CaseFileError(file, line_of(data, [*where, extra[0]]),
                                f"{label}: only an await step saves ({extra[0]} on a {kind} step)"
                                if kind != "observe" else f"{label}: an observe step saves with save:, not "
                                f"{extra[0]}")
    _check_references(spec, known, file, line, label, data, [*where, kind])
    action = observation = None
    if kind == "observe":
        observation = _observation(spec, file, data, [*where, "observe"], label)
    elif kind == "action":
        (name, params), = spec.items()
        action = ActionCall(name=name, params=dict(params or {}), line=line_of(data, [*where, "action"]))
    elif kind in ("await", "forbid"):
        _check_request_match(spec, file, data, [*where, kind], label)
        wanted = (spec.get("expect") or {}).get("path_regex")
        if wanted is not None:
            _check_request_match({"path_regex": wanted}, file, data, [*where, kind, "expect"], label)
        for key in ("expect", "should"):
            resource = (spec.get(key) or {}).get("resource")
            if resource is not None:
                _check_matchers(resource, file, line_of(data, [*where, kind, key, "resource"]), f"{label}: {key}")
        if kind == "await":
            # Element names and save paths against the bundled schema, as for a server-role response.
            bodies = {k: spec[k] for k in ("expect", "should") if k in spec}
            _check_against_schema(bodies, file, data, [*where, "await"], label)
            _check_against_schema({"expect": spec.get("expect"), "save": raw.get("save")}, file, data, where, label)
    elif kind == "act" and "add" in spec:
        _check_add(spec["add"], file, line_of(data, [*where, "act", "add"]), label)
    elif kind == "act" and "respond" in spec:
        _check_request_match(spec["respond"], file, data, [*where, "act", "respond"], label)
    save = dict(raw.get("save", {}))
    save_request = dict(raw.get("save_request", {}))
    known.update(save, save_request)
    _check_references(raw.get("set", {}), known, file, line, label, data, [*where, "set"])
    known.update(raw.get("set", {}))
    return Step(index=index + 1, name=raw["name"], line=line, ref=raw.get("ref"),
                requires=_requirements(raw.get("requires"), file, data, [*where, "requires"]),
                request=None, expect=ExpectSpec(), save=save, action=action, set=dict(raw.get("set", {})),
                client=None if kind == "action" else ClientStep(kind=kind, spec=dict(spec), save_request=save_request,
                                                                observation=observation),
                raw=raw)


def load_client_case(file: Path, data: dict[str, Any], sha256: str) -> Case:
    """Check a parsed client-role case (role: client) and build it; CaseFileError with file:line on a problem."""
    setup_items = data.get("setup")
    if isinstance(setup_items, list):
        check_action_names(data, "setup", file, [
            ([i, name], name) for i, item in enumerate(setup_items) if isinstance(item, dict) for name in item])
    step_items = data.get("steps")
    if isinstance(step_items, list):
        check_action_names(data, "steps", file, [
            ([i, "action", name], name) for i, item in enumerate(step_items)
            if isinstance(item, dict) and isinstance(item.get("action"), dict) for name in item["action"]])
    check_document(data, file, "client-case.schema.json")
    try:
        tree = tree_path(data["serve"], file)
    except FileNotFoundError as exc:
        raise CaseFileError(file, line_of(data, ["serve"]), str(exc)) from None
    try:
        ServedTree.load(tree, dict(_STAND_IN), time.time)
    except YamlFileError as exc:
        raise CaseFileError(file, line_of(data, ["serve"]), f"serve: the tree does not load: {exc}") from None
    known = set(BUILTIN_VARIABLES) | set(CLIENT_VARIABLES) | set(data.get("vars", {}))
    setup = _setup(data, file, known)
    for number, spec in enumerate(data.get("forbid", ())):
        _check_references(spec, known, file, line_of(data, ["forbid", number]), f"forbid {number + 1}", data,
                          ["forbid", number])
        _check_request_match(spec, file, data, ["forbid", number], f"forbid {number + 1}")
    steps = tuple(_client_step(raw, i, file, data, known) for i, raw in enumerate(data["steps"]))
    return Case(
        id=data["id"], title=data["title"], role="client", version=str(data.get("version", "1")),
        description=data.get("description", ""), procedure=dict(data["procedure"]),
        function_sets=tuple(data.get("function_sets", ())), requirements=tuple(data.get("requirements", ())),
        requires=_requirements(data.get("requires"), file, data, ["requires"]),
        variables=dict(data.get("vars", {})), steps=steps, setup=setup, file=file, sha256=sha256,
        serve=tree, forbid=tuple(dict(f) for f in data.get("forbid", ())), serve_with=dict(data.get("serve_with", {})),
    )
