"""The JSON Schemas the package ships are valid against their metaschemas.

Checked here rather than each time they are loaded: the metaschema check costs more than loading a case.
"""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from harness.actions.registry import call_schema, registry
from harness.cases import validation

BUNDLED = [("harness.cases", "schema/case.schema.json"), ("harness.cases", "schema/profile.schema.json"),
           ("harness.report", "schema/results.schema.json")]


@pytest.mark.parametrize(("package", "name"), BUNDLED)
def test_bundled_schema_is_valid(package: str, name: str) -> None:
    schema = json.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8"))
    jsonschema.validators.validator_for(schema).check_schema(schema)


def test_case_schema_with_the_registry_filled_in_is_valid() -> None:
    # The case schema as the loader uses it: the action names and parameter schemas put in.
    validator = validation._validator("case.schema.json")
    type(validator).check_schema(validator.schema)


@pytest.mark.parametrize("name", sorted(registry()))
def test_action_parameter_schema_is_valid(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(registry()[name].params)
    jsonschema.Draft202012Validator.check_schema(call_schema())


def test_a_broken_schema_is_caught_by_the_check() -> None:
    with pytest.raises(jsonschema.SchemaError):
        jsonschema.Draft202012Validator.check_schema({"type": "objekt"})
