"""The registry of known DUT-side actions and observations and the JSON Schemas of their parameters (package data).

An action changes something on the DUT (a case's `setup:` or `action:` step); an observation reads something from
the DUT out of band (a client case's `observe:` step: what the DER applies now, the programs it holds...). Both
are mapped by the DUT profile under `actions:` (http, command, operator, builtin, plugin).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import yaml

# A parameter written as one `${...}` reference is checked only once substituted.
REFERENCE_PATTERN = r"^\$\{[^}]+\}$"


@dataclass(frozen=True)
class ActionSpec:
    """One known action or observation: its name, DUT role, summary, operator prompt and parameter schema.

    kind is "action" or "observation"; an observation's returns is the JSON Schema of the value it reads (what a
    mapping must hand back: a JSON object from http, command, builtin or plugin, the operator's typed answer).
    """

    name: str
    role: str
    summary: str
    prompt: str
    params: dict[str, Any]
    kind: str = "action"
    returns: dict[str, Any] | None = None

    def defaults(self) -> dict[str, Any]:
        """Parameter defaults declared by the schema."""
        props = self.params.get("properties", {})
        return {name: spec["default"] for name, spec in props.items() if "default" in spec}

    def with_defaults(self, params: dict[str, Any]) -> dict[str, Any]:
        """params completed with the schema's defaults."""
        return {**self.defaults(), **params}


@cache
def registry() -> dict[str, ActionSpec]:
    """Every known action by name."""
    text = resources.files("harness.actions").joinpath("registry.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 10x faster
    specs = {}
    for name, entry in data.items():
        specs[name] = ActionSpec(name, entry["role"], entry["summary"], " ".join(entry["prompt"].split()),
                                 entry["params"], entry.get("kind", "action"), entry.get("returns"))
    return specs


def actions() -> dict[str, ActionSpec]:
    """The known actions (what `setup:` and `action:` may name), by name."""
    return {name: spec for name, spec in registry().items() if spec.kind == "action"}


def observations() -> dict[str, ActionSpec]:
    """The known observations (what a client case's `observe:` may name), by name."""
    return {name: spec for name, spec in registry().items() if spec.kind == "observation"}


def unknown_action_message(name: str) -> str:
    """The error for an action name the registry does not know, with the closest known names."""
    close = difflib.get_close_matches(name, list(registry()), n=3)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown action {name!r}{hint} (`csip-harness actions` lists the known actions)"


def _tolerant(schema: dict[str, Any]) -> dict[str, Any]:
    """A params schema in which any property may instead be a whole `${...}` reference."""
    tolerant = dict(schema)
    if not schema.get("required"):
        # `- populate-resources:` with nothing after it: no parameters, all defaults.
        tolerant["type"] = ["object", "null"]
    props = schema.get("properties")
    if props:
        reference = {"type": "string", "pattern": REFERENCE_PATTERN}
        tolerant["properties"] = {name: {"anyOf": [spec, reference]} for name, spec in props.items()}
    return tolerant


@cache
def call_schema() -> dict[str, Any]:
    """The JSON Schema of one `- action-name: {params}` item of a case's setup list."""
    return {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "propertyNames": {"enum": sorted(actions())},
        "properties": {name: _tolerant(spec.params) for name, spec in actions().items()},
    }


def observation_params_problems(name: str, params: Any) -> list[str]:
    """What is wrong with an observe step's parameters as written (a `${...}` reference stands for any value)."""
    validator = jsonschema.Draft202012Validator(_tolerant(observations()[name].params))
    problems = []
    for error in validator.iter_errors(params):
        # A value that is neither right nor a reference: say what is wrong with it, not that no branch fits.
        own = [e for e in error.context or () if e.relative_schema_path and e.relative_schema_path[0] == 0]
        shown = own[0] if own else error
        where = "/".join(map(str, error.absolute_path))
        problems.append(f"{where}: {shown.message}" if where else shown.message)
    return problems


@cache
def _params_validator(name: str) -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(registry()[name].params)


def params_problems(name: str, params: dict[str, Any]) -> list[str]:
    """What is wrong with substituted parameters of an action; empty when they fit its schema."""
    problems = []
    for error in sorted(_params_validator(name).iter_errors(params), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path)
        problems.append(f"{where}: {error.message}" if where else error.message)
    return problems


def describe_params(spec: ActionSpec) -> list[str]:
    """One line per parameter: name, type, whether required, default and description."""
    required = set(spec.params.get("required", ()))
    lines = []
    for name, prop in spec.params.get("properties", {}).items():
        kind = prop.get("type") or ("one of " + ", ".join(map(str, prop["enum"])) if "enum" in prop else "value")
        if "pattern" in prop:
            kind = f"{kind} /{prop['pattern']}/"
        if "minimum" in prop or "maximum" in prop:
            kind = f"{kind} {prop.get('minimum', '')}..{prop.get('maximum', '')}"
        flag = "required" if name in required else f"default {prop['default']!r}" if "default" in prop else "optional"
        text = f"{name}: {kind} ({flag})"
        if prop.get("description"):
            text += f" - {prop['description']}"
        lines.append(text)
    return lines


def returns_problems(name: str, value: Any) -> list[str]:
    """What is wrong with an observed value against its observation's `returns` schema; empty when it fits."""
    schema = registry()[name].returns
    if not schema:
        return []
    return [("/".join(map(str, e.absolute_path)) + ": " if e.absolute_path else "") + e.message
            for e in jsonschema.Draft202012Validator(schema).iter_errors(value)]
