"""Loading a `crawl` step (harness.engine.crawl): its options checked against the schema and the 2030.5 names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.cases.loadparts import CaseFileError, _check_references, _expect, _requirements, _when
from harness.cases.model import CrawlExpect, CrawlSpec, ExpectSpec, Step
from harness.cases.resource_check import ResourceSpecError, check_expectation, node_for
from harness.cases.yamlload import line_of

# Method tokens HTTP defines (RFC 9110 9.3, RFC 5789): never sent as the "unknown method" of a crawl.
_KNOWN_TOKENS = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"})
_SENT = ("HEAD", "PUT", "POST", "DELETE")


def crawl_step(raw: dict[str, Any], index: int, file: Path, data: Any, known: set[str], line: int) -> Step:
    """A `crawl` step from its mapping (already checked against case.schema.json); CaseFileError with the line of
    the first option that cannot be (an unknown resource, GET or OPTIONS among the methods...)."""
    where: list[Any] = ["steps", index]
    label = f"step {index + 1} {raw['name']!r}"
    extra = [key for key in ("expect", "should", "save", "save_headers", "set") if key in raw]
    if extra:
        raise CaseFileError(file, line_of(data, [*where, extra[0]]),
                            f"{label}: a crawl step has no {extra[0]} (it judges every resource it reaches; "
                            f"crawl.resources gives expectations per resource)")
    spec = raw["crawl"]
    at = [*where, "crawl"]
    _check_references(spec, known, file, line, label, data, at)
    schema = spec.get("schema", "DeviceCapability" if "from" not in spec else None)
    try:
        node_for(schema, [*at, "schema"])
    except ResourceSpecError as exc:
        raise CaseFileError(file, line_of(data, exc.path), f"{label}: crawl.{exc}") from None
    methods = tuple(str(m).upper() for m in spec.get("methods", ()))
    for number, method in enumerate(methods):
        if method in _KNOWN_TOKENS and method not in _SENT:
            raise CaseFileError(file, line_of(data, [*at, "methods", number]),
                                f"{label}: crawl.methods: expected HEAD, PUT, POST, DELETE or an unknown token such "
                                f"as FOO, saw {method} (GET is always sent; {method} is a method HTTP defines, so it "
                                f"is no unknown token)")
    resources: dict[str, CrawlExpect] = {}
    for name, expectations in (spec.get("resources") or {}).items():
        try:
            node = node_for(name, [*at, "resources", name])
            for key in ("expect", "should"):
                block = (expectations or {}).get(key) or {}
                if "resource" in block and node is not None:
                    check_expectation(block["resource"], node, [*at, "resources", name, key, "resource"], label)
        except ResourceSpecError as exc:
            message = str(exc) if str(exc).startswith(label) else f"{label}: crawl.resources: {exc}"
            raise CaseFileError(file, line_of(data, exc.path), message) from None
        resources[name] = CrawlExpect(
            expect=_expect(expectations["expect"]) if "expect" in (expectations or {}) else None,
            should=_expect(expectations["should"]) if "should" in (expectations or {}) else None)
    status = spec.get("unknown_status", [501])
    return Step(
        index=index + 1, name=raw["name"], line=line, ref=raw.get("ref"),
        requires=_requirements(raw.get("requires"), file, data, [*where, "requires"]),
        request=None, expect=ExpectSpec(), when=_when(raw, file, data, where, known), identity=raw.get("as"),
        raw=raw,
        crawl=CrawlSpec(
            start=str(spec.get("from", "${dcap}")), schema=schema,
            max_resources=int(spec.get("max_resources", CrawlSpec.max_resources)),
            max_seconds=float(spec.get("max_seconds", CrawlSpec.max_seconds)),
            list_items=int(spec.get("list_items", CrawlSpec.list_items)),
            methods=methods, unknown_status=tuple(status) if isinstance(status, list) else (int(status),),
            allow=str(spec.get("allow", "should")), bad_host=bool(spec.get("bad_host", False)),
            not_found=bool(spec.get("not_found", False)), resources=resources,
            evidence=str(spec.get("evidence", "failures"))),
    )
