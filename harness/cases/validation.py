"""Checking a loaded YAML document against one of our JSON Schemas, with file and line in the error."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from harness.cases.yamlload import YamlFileError, line_of


def _fill_from_registry(schema: dict[str, Any]) -> None:
    """Put the action registry's names and parameter schemas where a schema has their placeholders."""
    definitions = schema.get("$defs", {})
    if "action_call" in definitions or "action_name" in definitions:
        from harness.actions.registry import call_schema, registry

        if "action_call" in definitions:
            definitions["action_call"] = call_schema()
        if "action_name" in definitions:
            definitions["action_name"] = {"enum": sorted(registry())}


@cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    text = resources.files("harness.cases").joinpath("schema", name).read_text(encoding="utf-8")
    schema = json.loads(text)
    _fill_from_registry(schema)
    # The bundled schemas are checked against their metaschema by the tests (tests/cases/test_bundled_schemas.py),
    # not here: that check costs more than loading the case itself, on every run.
    return jsonschema.validators.validator_for(schema)(schema)


# Lists whose items a reader counts from 1, as the report does: "step 3", not "steps/2".
_NUMBERED = {"steps": "step", "setup": "setup action", "choose": "option", "waivers": "waiver"}


def where_in(data: Any, path: list[Any]) -> str:
    """A JSON-schema path as a reader names it: ['steps', 2, 'request'] -> "step 3 ('GET Time'): request"."""
    labels: list[str] = []
    keys: list[str] = []
    node = data
    previous: Any = None
    for part in path:
        item = node[part] if _has(node, part) else None
        if isinstance(part, int) and previous in _NUMBERED:
            keys.pop()  # "steps" is said by "step 3"
            name = item.get("name") if isinstance(item, dict) else None
            labels.append(f"{_NUMBERED[previous]} {part + 1}" + (f" ({name!r})" if isinstance(name, str) else ""))
            keys = []
        else:
            keys.append(str(part))
        previous, node = part, item
    text = ", ".join(labels)
    rest = "/".join(keys)
    if text and rest:
        return f"{text}: {rest}"
    return text or rest or "top level"


def _has(node: Any, part: Any) -> bool:
    return (isinstance(node, dict) and part in node) or (
        isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node))


def _describe(error: jsonschema.ValidationError, data: Any = None) -> str:
    where = where_in(data, list(error.absolute_path))
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        return f"{where}: {error.message}; allowed keys: {', '.join(allowed)}"
    if error.validator == "required":
        return f"{where}: {error.message}"
    if error.validator in ("oneOf", "anyOf") and error.context:
        if isinstance(error.instance, dict):
            # A mapping where a mapping or a constant is allowed (`should:`): the mapping's own problem is meant.
            about_mapping = [c for c in error.context if c.validator not in ("const", "type", "enum")]
            if about_mapping:
                return _describe(min(about_mapping, key=lambda c: len(c.absolute_path)), data)
        reasons = "; ".join(sorted({c.message for c in error.context}))
        return f"{where}: {reasons}"
    return f"{where}: {error.message}"


def check_document(data: Any, file: Path, schema_name: str) -> None:
    """Raise YamlFileError for the first (shallowest, earliest) schema violation in data."""
    errors = list(_validator(schema_name).iter_errors(data))
    if not errors:
        return
    errors.sort(key=lambda e: (line_of(data, list(e.absolute_path)) or 0, len(e.absolute_path)))
    first = errors[0]
    path = list(first.absolute_path)
    if first.validator == "additionalProperties" and isinstance(first.instance, dict):
        # Point at the unexpected key itself, not at the mapping that holds it.
        allowed = first.schema.get("properties", {})
        extra = [key for key in first.instance if key not in allowed]
        if extra:
            path.append(extra[0])
    raise YamlFileError(file, line_of(data, path), _describe(first, data))
