"""The lab file (--lab, ini csip_lab): who tests, where and for whom, as an ISO/IEC 17025 report names them.

Every field is optional: a run without a lab file reports all the same, each field shown as "not given".
The file is YAML checked against harness/cases/schema/lab.schema.json, with file and line in the error,
as a DUT profile is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.cases.validation import check_document
from harness.cases.yamlload import YamlFileError, load_yaml
from harness.report.files import file_sha256

LabFileError = YamlFileError


def _plain(value: Any) -> Any:
    """The YAML loader's line-tagged values as plain JSON data (str, int, dict, list)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    return str(value)


def load_lab(path: str | Path) -> dict[str, Any]:
    """Load and check a lab file; returns {file, sha256, ...its fields} for results.json's run.lab.

    Raises LabFileError (file, line, what was expected and seen) for a file that is not YAML or breaks the
    schema, and for a missing or unreadable file.
    """
    file = Path(path)
    if not file.is_file():
        seen = "a directory" if file.is_dir() else "no such file"
        raise LabFileError(file, None, f"expected a lab file (YAML), saw {seen}")
    data = load_yaml(file)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise LabFileError(file, getattr(data, "line", 1), "expected a mapping (lab, tester, report, ...), "
                                                            f"saw {type(data).__name__}")
    check_document(data, file, "lab.schema.json")
    return {"file": str(file), "sha256": file_sha256(file), **_plain(data)}
