"""Reading a results.json back: its JSON Schema (package data) and a load that says what is wrong and where."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from harness.report.writer import FORMAT, FORMAT_VERSION

SCHEMA_RESOURCE = "schema/results.schema.json"


class ResultsFileError(ValueError):
    """A results file that cannot be read or is not a csip-harness results document."""


@cache
def results_schema() -> dict[str, Any]:
    """The JSON Schema of results.json (format version 2)."""
    text = resources.files("harness.report").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    return dict(json.loads(text))


def schema_errors(document: Any) -> list[str]:
    """Every way a document breaks the results schema, as 'path: message' lines."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(results_schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    return ["/".join(str(p) for p in error.absolute_path) + f": {error.message}" for error in errors]


def load_results(path: str | Path) -> dict[str, Any]:
    """Load and check a results.json; version 1 documents (older harnesses) are read without the schema."""
    source = Path(path)
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsFileError(f"{source}: cannot read: {exc}") from None
    except ValueError as exc:
        raise ResultsFileError(f"{source}: expected JSON, saw: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        seen = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise ResultsFileError(f"{source}: expected a {FORMAT} document, saw format {seen!r}")
    version = document.get("format_version")
    if version == 1:
        return document
    if version == 2:
        _upgrade_from_2(document)
    elif version != FORMAT_VERSION:
        raise ResultsFileError(f"{source}: expected format_version 1 to {FORMAT_VERSION}, saw {version!r}")
    errors = schema_errors(document)
    if errors:
        shown = "\n  ".join(errors[:10])
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise ResultsFileError(f"{source}: does not match the results schema:\n  {shown}{more}")
    return document


def _upgrade_from_2(document: dict[str, Any]) -> None:
    """Format 2 named a finding's kind 'source' and had no severity: every finding it kept failed its step."""
    for test in document.get("tests") or ():
        for step in test.get("steps") or ():
            for finding in step.get("findings") or ():
                if isinstance(finding, dict) and "source" in finding:
                    finding["kind"] = finding.pop("source")
                    finding.setdefault("severity", "failure")
    document["format_version"] = FORMAT_VERSION
