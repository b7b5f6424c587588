"""Loading test-case files: strict YAML, the case JSON Schema, matchers, expressions and variables."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path
from typing import Any

from harness.cases.crawl_loader import crawl_step
from harness.cases.loadparts import (
    CaseFileError,
    _check_against_schema,
    _check_references,
    _expect,
    _requirements,
    _setup,
    _when,
    check_action_names,
)
from harness.cases.matchers import MatcherSpecError, check_spec
from harness.cases.model import (
    BUILTIN_VARIABLES,
    DISCOVER_SAVES,
    ActionCall,
    AwaitSpec,
    Case,
    DiscoverSpec,
    ExpectSpec,
    ListenerPath,
    ProbeSpec,
    RequestSpec,
    Step,
    WaitSpec,
)
from harness.cases.paths import PathError, split_path
from harness.cases.validation import check_document
from harness.cases.yamlload import line_of, load_yaml


def _action_step(raw: dict[str, Any], index: int, file: Path, data: Any, known: set[str], line: int) -> Step:
    name = raw["name"]
    extra = [key for key in ("expect", "save", "save_headers") if key in raw]
    if extra:
        raise CaseFileError(file, line_of(data, ["steps", index, extra[0]]),
                            f"step {index + 1} {name!r}: an action step has no {extra[0]} (only a request step does)")
    (action, params), = raw["action"].items()
    _check_references(params, known, file, line, f"step {index + 1} {name!r}", data,
                      ["steps", index, "action", action])
    return Step(
        index=index + 1,
        name=name,
        line=line,
        ref=raw.get("ref"),
        requires=_requirements(raw.get("requires"), file, data, ["steps", index, "requires"]),
        request=None,
        expect=ExpectSpec(),
        action=ActionCall(name=action, params=dict(params or {}), line=line_of(data, ["steps", index, "action"])),
        when=_when(raw, file, data, ["steps", index], known),
        raw=raw,
    )


def _check_time_features(raw: dict[str, Any], file: Path, data: Any, where: list[Any], label: str) -> None:
    """`list_order` needs a list whose 2030.5 order the harness knows; both need the resource named (under
    `should`, by the step's `expect` or its own `schema`)."""
    from harness.engine.events import LIST_ORDERS

    expect = raw.get("expect") or {}
    for key in ("expect", "should"):
        block = raw.get(key) or {}
        schema = block.get("schema") or expect.get("schema")
        if block.get("list_order") and schema not in LIST_ORDERS:
            raise CaseFileError(file, line_of(data, [*where, key, "list_order"]),
                                f"{label}: list_order: expected schema to name a list whose 2030.5 order the harness "
                                f"knows ({', '.join(LIST_ORDERS)}), saw {schema!r}")
        if "event_status" in block and not schema:
            raise CaseFileError(file, line_of(data, [*where, key, "event_status"]),
                                f"{label}: event_status: expected schema to name the event resource or list it is "
                                f"checked on (DERControl, DERControlList), saw none")
    request = raw.get("request") or {}
    if request.get("each") and (str(request.get("method", "")).upper() != "GET"
                                or not re.fullmatch(r"\$\{[^}]+\}", str(request.get("path", "")))):
        raise CaseFileError(file, line_of(data, [*where, "request", "each"]),
                            f"{label}: each: expected a GET whose path is one ${{...}} naming a list of hrefs "
                            f"(a save of ...[*].href), saw {request.get('method')} "
                            f"{request.get('path', request.get('url'))!r}")


def _probe_step(raw: dict[str, Any], index: int, file: Path, data: Any, known: set[str], line: int,
                structure: Any) -> Step:
    name = raw["name"]
    label = f"step {index + 1} {name!r}"
    extra = [key for key in ("expect", "save", "save_headers", "set", "should") if key in raw]
    if extra:
        raise CaseFileError(file, line_of(data, ["steps", index, extra[0]]),
                            f"{label}: a probe step has no {extra[0]} (it judges every answer itself)")
    spec = raw["probe"]
    _check_references(spec, known, file, line, label, data, ["steps", index, "probe"])
    resource = spec["resource"]
    type_name = structure.global_type(resource)
    if type_name is None:
        raise CaseFileError(file, line_of(data, ["steps", index, "probe", "resource"]),
                            f"{label}: probe.resource: expected a global element of the 2030.5 schema, saw "
                            f"{resource!r}")
    children = structure.type_info(type_name).children
    for key in ("fields", "include"):
        unknown = [name for name in spec.get(key, ()) if name not in children]
        if unknown:
            where = ["steps", index, "probe", key] + ([unknown[0]] if key == "fields" else [])
            raise CaseFileError(file, line_of(data, where),
                                f"{label}: probe.{key}: {resource} has no child {unknown[0]!r} (its children: "
                                f"{', '.join(c for c in children if not c.endswith('_r2_3'))})")
    return Step(
        index=index + 1, name=name, line=line, ref=raw.get("ref"),
        requires=_requirements(raw.get("requires"), file, data, ["steps", index, "requires"]),
        request=None, expect=ExpectSpec(), when=_when(raw, file, data, ["steps", index], known),
        identity=raw.get("as"), raw=raw,
        probe=ProbeSpec(method=spec["method"].upper(), path=spec["path"], resource=resource,
                        fields=dict(spec.get("fields", {})), include=tuple(spec.get("include", ())),
                        examples=int(spec.get("examples", 25)),
                        read_back=bool(spec.get("read_back", True)), seed=spec.get("seed")),
    )


def _wait_step(raw: dict[str, Any], index: int, file: Path, data: Any, known: set[str], line: int) -> Step:
    name = raw["name"]
    extra = [key for key in ("expect", "save", "save_headers", "set", "should") if key in raw]
    if extra:
        raise CaseFileError(file, line_of(data, ["steps", index, extra[0]]),
                            f"step {index + 1} {name!r}: a wait step has no {extra[0]} (only a request step does)")
    spec = raw["wait"]
    _check_references(spec, known, file, line, f"step {index + 1} {name!r}", data, ["steps", index, "wait"])
    return Step(
        index=index + 1, name=name, line=line, ref=raw.get("ref"),
        requires=_requirements(raw.get("requires"), file, data, ["steps", index, "requires"]),
        request=None, expect=ExpectSpec(), when=_when(raw, file, data, ["steps", index], known),
        wait=WaitSpec(until=str(spec["until"]), purpose=spec["for"], max=float(spec.get("max", 3600)),
                      late=float(spec["late"]) if "late" in spec else None), raw=raw,
    )


def _await_step(raw: dict[str, Any], index: int, file: Path, data: Any, known: set[str], line: int) -> Step:
    """An `await` step: judged like a response (expect, save), but nothing is sent (harness.engine.notifications)."""
    where: list[Any] = ["steps", index]
    label = f"step {index + 1} {raw['name']!r}"
    extra = [key for key in ("save_headers", "set", "as") if key in raw]
    if extra:
        raise CaseFileError(file, line_of(data, [*where, extra[0]]),
                            f"{label}: an await step has no {extra[0]} (only a request step does)")
    should = raw.get("should")
    if isinstance(should, dict) and ("status" in should or "tls" in should):
        key = "status" if "status" in should else "tls"
        raise CaseFileError(file, line_of(data, [*where, "should", key]),
                            f"{label}: an await step judges the Notification the DUT sent; its should has no {key}")
    expect = raw.get("expect") or {}
    if "status" in expect or "tls" in expect:
        key = "status" if "status" in expect else "tls"
        raise CaseFileError(file, line_of(data, [*where, "expect", key]),
                            f"{label}: an await step judges the Notification the DUT sent; its expect has no {key} "
                            "(the listener's answer is set by the case's listener: paths)")
    _check_expectation(raw, "expect", file, data, where, label)
    if isinstance(should, dict):
        _check_expectation(raw, "should", file, data, where, label)
    _check_references({k: v for k, v in raw.items() if k in ("await", "expect", "should", "save")}, known, file,
                      line, label, data, where)
    _check_against_schema(raw, file, data, where, label)
    spec = raw["await"]
    return Step(
        index=index + 1, name=raw["name"], line=line, ref=raw.get("ref"),
        requires=_requirements(raw.get("requires"), file, data, [*where, "requires"]),
        request=None, expect=_expect(expect), save=dict(raw.get("save", {})),
        should=_expect(should) if isinstance(should, dict) else None,
        when=_when(raw, file, data, where, known), raw=raw,
        await_=AwaitSpec(notification=str(spec["notification"]), within=float(spec.get("within", 60)),
                         subscription=spec.get("subscription"), none=bool(spec.get("none", False)),
                         advisory=should is True),
    )


def _discover_step(raw: dict[str, Any], index: int, file: Path, data: Any, known: set[str], line: int) -> Step:
    """A `discover` step: an xmDNS/DNS-SD query judged by harness.engine.discovery; save names what it found."""
    where: list[Any] = ["steps", index]
    label = f"step {index + 1} {raw['name']!r}"
    extra = [key for key in ("expect", "should", "save_headers", "set", "as") if key in raw]
    if extra:
        raise CaseFileError(file, line_of(data, [*where, extra[0]]),
                            f"{label}: a discover step has no {extra[0]} (it judges the answer as COMM-001 says; "
                            f"a following request step GETs what it saved)")
    for name, key in (raw.get("save") or {}).items():
        if key not in DISCOVER_SAVES:
            raise CaseFileError(file, line_of(data, [*where, "save", name]),
                                f"{label}: save {name}: expected one of {', '.join(DISCOVER_SAVES)}, saw {key!r}")
    spec = raw["discover"]
    return Step(
        index=index + 1, name=raw["name"], line=line, ref=raw.get("ref"),
        requires=_requirements(raw.get("requires"), file, data, [*where, "requires"]),
        request=None, expect=ExpectSpec(), save=dict(raw.get("save", {})),
        when=_when(raw, file, data, where, known), raw=raw,
        discover=DiscoverSpec(query=str(spec["query"]), qu=bool(spec.get("qu", False)),
                              within=float(spec.get("within", 3))),
    )


def _listener_state_step(raw: dict[str, Any], index: int, file: Path, data: Any, known: set[str],
                         line: int) -> Step:
    """A `listener: offline|online` step (the schema allows only those): the run's notification listener over NATS
    goes away or comes back."""
    where: list[Any] = ["steps", index]
    label = f"step {index + 1} {raw['name']!r}"
    extra = [key for key in ("expect", "should", "save", "save_headers", "set", "as") if key in raw]
    if extra:
        raise CaseFileError(file, line_of(data, [*where, extra[0]]),
                            f"{label}: a listener step has no {extra[0]} (it only takes the listener away or brings "
                            "it back; an await step judges what arrives)")
    return Step(index=index + 1, name=raw["name"], line=line, ref=raw.get("ref"),
                requires=_requirements(raw.get("requires"), file, data, [*where, "requires"]),
                request=None, expect=ExpectSpec(), when=_when(raw, file, data, where, known), raw=raw,
                listener_state=str(raw["listener"]))


def _listener_paths(data: dict[str, Any]) -> dict[str, ListenerPath]:
    return {name: ListenerPath(name, rule.get("resource"), int(rule.get("respond", 201)))
            for name, rule in (data.get("listener") or {}).items()}


def _check_expectation(raw: dict[str, Any], key: str, file: Path, data: Any, where: list[Any], label: str) -> None:
    expect_raw = raw.get(key) or {}
    if "resource" in expect_raw:
        try:
            check_spec(expect_raw["resource"])
        except MatcherSpecError as exc:
            resource_path = [*where, key, "resource", *exc.path.split(".")[1:]]
            raise CaseFileError(file, line_of(data, resource_path), f"{label}: {exc}") from None


def _for_each_names(raw: dict[str, Any], file: Path, data: Any, where: list[Any], known: set[str],
                    label: str) -> set[str]:
    """The names a `for_each` binds for its own step, once each list it names is known (not in a choice option,
    which sends one request; not a name the run or an earlier step already gives, which it would hide)."""
    spec = (raw.get("request") or {}).get("for_each")
    if not spec:
        return set()
    at = [*where, "request", "for_each"]
    if "choose" in where:
        raise CaseFileError(file, line_of(data, at), f"{label}: for_each: a choice option sends one request; put "
                                                     f"for_each on a step of its own")
    for name, ref in spec.items():
        _check_references(ref, known, file, None, label, data, [*at, name])
        if name in known:
            raise CaseFileError(file, line_of(data, [*at, name]),
                                f"{label}: for_each: {name!r} is already a variable; bind the items to a new name")
    return set(spec)


def _request_step(raw: dict[str, Any], index: int, file: Path, data: Any, known: set[str], where: list[Any],
                  label: str) -> Step:
    """A request step, or one option of a choice (which may carry a `require` precondition)."""
    line = line_of(data, where) or 0
    name = raw["name"]
    if raw.get("should") is True:
        raise CaseFileError(file, line_of(data, [*where, "should"]),
                            f"{label}: should: true (the whole step asked by 'should') is for await steps; a request "
                            f"step's should is an expectation like expect (status, resource...)")
    for key in ("expect", "require", "should"):
        _check_expectation(raw, key, file, data, where, label)
    for key in ("save", "save_headers"):
        for var, path in raw.get(key, {}).items():
            try:
                split_path(path.removesuffix("?") if key == "save" else path)
            except PathError as exc:
                raise CaseFileError(file, line_of(data, [*where, key, var]), f"{label}: {exc}") from None
    when = _when(raw, file, data, where, known)
    bound = _for_each_names(raw, file, data, where, known, label)
    _check_references({k: v for k, v in raw.items() if k in ("request", "expect", "require", "should", "save")},
                      known | bound,
                      file, line, label, data, where)
    _check_against_schema(raw, file, data, where, label)
    _check_time_features(raw, file, data, where, label)
    request = raw["request"]
    step = Step(
        index=index,
        name=name,
        line=line,
        ref=raw.get("ref"),
        requires=_requirements(raw.get("requires"), file, data, [*where, "requires"]),
        request=RequestSpec(
            method=request["method"].upper(),
            path=request.get("path"),
            url=request.get("url"),
            headers=dict(request.get("headers", {})),
            body=request.get("body"),
            timeout=request.get("timeout"),
            pages=request.get("pages"),
            each=bool(request.get("each", False)),
            invalid=bool(request.get("invalid", False)),
            for_each=dict(request.get("for_each", {})),
        ),
        expect=_expect(raw.get("expect")),
        require=_expect(raw["require"]) if "require" in raw else None,
        should=_expect(raw["should"]) if "should" in raw else None,
        save=dict(raw.get("save", {})),
        save_headers=dict(raw.get("save_headers", {})),
        when=when,
        set=dict(raw.get("set", {})),
        identity=raw.get("as"),
        raw=raw,
    )
    _check_references(step.set, known | set(step.save) | set(step.save_headers), file, line, label, data,
                      [*where, "set"])
    return step


def _step(raw: dict[str, Any], index: int, file: Path, data: Any, known: set[str]) -> Step:
    where: list[Any] = ["steps", index]
    line = line_of(data, where) or 0
    label = f"step {index + 1} {raw['name']!r}"
    if "action" in raw:
        return _action_step(raw, index, file, data, known, line)
    if "wait" in raw:
        return _wait_step(raw, index, file, data, known, line)
    if "probe" in raw:
        from harness.sep.schema import SchemaSet

        return _probe_step(raw, index, file, data, known, line, SchemaSet.bundled().structure())
    if "await" in raw:
        step = _await_step(raw, index, file, data, known, line)
        known.update(step.save)
        return step
    if "discover" in raw:
        step = _discover_step(raw, index, file, data, known, line)
        known.update(step.save)
        return step
    if "crawl" in raw:
        return crawl_step(raw, index, file, data, known, line)
    if "listener" in raw:
        return _listener_state_step(raw, index, file, data, known, line)
    if "choose" in raw:
        extra = [key for key in ("expect", "save", "save_headers", "set") if key in raw]
        if extra:
            raise CaseFileError(file, line_of(data, [*where, extra[0]]),
                                f"{label}: a choice step has no {extra[0]} of its own (each option has)")
        when = _when(raw, file, data, where, known)
        options = []
        chosen_sets: set[str] = set()
        for number, option in enumerate(raw["choose"]):
            option_label = f"{label}, option {number + 1} {option['name']!r}"
            parsed = _request_step(option, number + 1, file, data, set(known), [*where, "choose", number],
                                   option_label)
            if parsed.identity is None and raw.get("as"):
                parsed = dataclasses.replace(parsed, identity=raw["as"])  # options act as the choice's identity
            options.append(parsed)
            chosen_sets |= set(parsed.save) | set(parsed.save_headers) | set(parsed.set)
        known.update(chosen_sets)
        return Step(index=index + 1, name=raw["name"], line=line, ref=raw.get("ref"),
                    requires=_requirements(raw.get("requires"), file, data, [*where, "requires"]),
                    request=None, expect=ExpectSpec(), when=when, choose=tuple(options), identity=raw.get("as"),
                    raw=raw)
    step = _request_step(raw, index + 1, file, data, known, where, label)
    known.update(step.save, step.save_headers, step.set)
    return step


def load_case(path: str | Path) -> Case:
    """Load and check one test-case file; raise CaseFileError with file and line on any problem."""
    file = Path(path)
    try:
        content = file.read_bytes()
    except OSError as exc:
        raise CaseFileError(file, None, f"cannot read the file: {exc}") from None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CaseFileError(file, None, f"expected UTF-8 text, saw an invalid byte at {exc.start}") from None
    data = load_yaml(file, text)
    if not isinstance(data, dict):
        raise CaseFileError(file, getattr(data, "line", 1), "expected a mapping with id, title, role, steps")
    if data.get("role") == "client":
        from harness.cases.client_loader import load_client_case

        return load_client_case(file, data, hashlib.sha256(content).hexdigest())
    setup_items = data.get("setup")
    if isinstance(setup_items, list):
        check_action_names(data, "setup", file, [
            ([i, name], name) for i, item in enumerate(setup_items) if isinstance(item, dict) for name in item])
    step_items = data.get("steps")
    if isinstance(step_items, list):
        check_action_names(data, "steps", file, [
            ([i, "action", name], name) for i, item in enumerate(step_items)
            if isinstance(item, dict) and isinstance(item.get("action"), dict) for name in item["action"]])
    check_document(data, file, "case.schema.json")
    known = set(BUILTIN_VARIABLES) | set(data.get("vars", {}))
    setup = _setup(data, file, known)
    steps = tuple(_step(raw, i, file, data, known) for i, raw in enumerate(data["steps"]))
    return Case(
        id=data["id"],
        title=data["title"],
        role=data["role"],
        version=str(data.get("version", "1")),
        description=data.get("description", ""),
        procedure=dict(data["procedure"]),
        function_sets=tuple(data.get("function_sets", ())),
        requirements=tuple(data.get("requirements", ())),
        requires=_requirements(data.get("requires"), file, data, ["requires"]),
        variables=dict(data.get("vars", {})),
        steps=steps,
        setup=setup,
        file=file,
        sha256=hashlib.sha256(content).hexdigest(),
        listener=_listener_paths(data),
    )
