"""Strict YAML loading: duplicate keys refused, line numbers kept for every mapping and sequence."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from harness.cases.yamlerrors import explain_yaml_error


class YamlFileError(ValueError):
    """A YAML file that cannot be used, with the file, line and (for syntax errors) column of the problem."""

    def __init__(self, file: str | Path, line: int | None, message: str, column: int | None = None) -> None:
        self.file = str(file)
        self.line = line
        self.column = column
        self.message = message
        where = f"{self.file}:{line}" if line else self.file
        if line and column:
            where += f":{column}"
        super().__init__(f"{where}: {message}")


class LineDict(dict):
    """A mapping that remembers its own line and the line of each key (1-based)."""

    # Slots, not an instance __dict__ each: a whole catalogue's cases are some 34,000 of these, held all run.
    __slots__ = ("line", "key_lines")
    line: int
    key_lines: dict[Any, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = 0
        self.key_lines = {}


class LineList(list):
    """A sequence that remembers its own line and the line of each item (1-based)."""

    __slots__ = ("line", "item_lines")
    line: int
    item_lines: list[int]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.line = 0
        self.item_lines = []


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and keeps line numbers."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise YamlFileError(loader.name, key_node.start_mark.line + 1, f"expected a plain key, saw {key!r}")
        if key in result:
            raise YamlFileError(
                loader.name,
                key_node.start_mark.line + 1,
                f"duplicate key {key!r} (first at line {result.key_lines[key]})",
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _StrictLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


# libyaml's parser, where PyYAML was built with it: ten times faster, and a whole catalogue is read at every
# run's start. Its error messages are its own, so a document it refuses is read again by the pure-Python
# parser, whose problems harness.cases.yamlerrors explains.
_FastStrictLoader: type | None = None
if getattr(yaml, "CSafeLoader", None) is not None:

    class _FastStrictLoader(yaml.CSafeLoader):  # type: ignore[no-redef]
        """CSafeLoader with the same duplicate-key refusal and line numbers as _StrictLoader."""


for _loader in filter(None, (_StrictLoader, _FastStrictLoader)):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _single_document(loader: Any, path: Path) -> Any:
    """The one document a loader holds; YamlFileError for an empty file or several documents."""
    if not loader.check_data():
        raise YamlFileError(path, None, "expected a YAML document, saw an empty file")
    data = loader.get_data()
    if loader.check_data():
        raise YamlFileError(path, None, "expected one YAML document, saw several")
    return data


def load_yaml(path: str | Path, text: str | None = None) -> Any:
    """Load one YAML document strictly; raise YamlFileError with file and line on any problem."""
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8") if text is None else text
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlFileError(path, None, f"cannot read the file: {exc}") from None
    if _FastStrictLoader is not None:
        fast = _FastStrictLoader(source)
        fast.name = str(path)
        try:
            return _single_document(fast, path)
        except yaml.YAMLError:
            pass  # read again below, for the pure-Python parser's exact problem, line and column
        finally:
            fast.dispose()
    try:
        loader = _StrictLoader(source)  # reads the whole text: a control character is refused here
    except yaml.reader.ReaderError as exc:
        line, column = _position(source, exc.position)
        raise YamlFileError(path, line, f"invalid YAML: a control character (U+{exc.character:04X}) is not allowed "
                                        "in YAML; remove it, or write it as an escape inside double quotes", column
                            ) from None
    loader.name = str(path)
    try:
        return _single_document(loader, path)
    except yaml.MarkedYAMLError as exc:
        line, column, message = explain_yaml_error(exc, source)
        raise YamlFileError(path, line, f"invalid YAML: {message}", column) from None
    except yaml.YAMLError as exc:
        raise YamlFileError(path, None, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()


def _position(source: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset in source."""
    before = source[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def line_of(data: Any, path: Iterable[Any]) -> int | None:
    """The line of the deepest node reachable along path (keys and indexes) in loaded data."""
    line = getattr(data, "line", None)
    node = data
    for part in path:
        if isinstance(node, LineDict) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            break
        line = getattr(node, "line", None) or line
    return line
