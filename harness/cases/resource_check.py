"""Load-time checks of what a case says about 2030.5 resources, against the bundled schema's structure.

A misspelt element, a matcher that is not one (`all: {greater_than: 0}`), a `schema:` naming no resource
(`DERSetting`) or a save path into nothing would otherwise reach the DUT and come back as the DUT's
failure. These are the author's mistakes, so they are found when the case loads, with the closest names.
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from typing import Any

from harness.cases.matchers import OPERATORS
from harness.cases.paths import split_path

# The view's own key for an element's text when it also has attributes.
_TEXT = "_text"
_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_-]*)?(?P<selectors>(\[[^\]]*\])*)$")
_SELECTOR = re.compile(r"\[([^\]]*)\]")


class ResourceSpecError(ValueError):
    """A resource name, expectation or path that the schema says cannot be; path says where in the case."""

    def __init__(self, path: list[Any], message: str) -> None:
        self.path = path
        super().__init__(message)


@cache
def _structure() -> Any:
    from harness.sep.schema import SchemaSet

    return SchemaSet.bundled().structure()


def _close(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def check_resource_name(name: str, where: list[Any]) -> str | None:
    """The type of a global element (a 2030.5 resource), or ResourceSpecError with the closest names."""
    if "${" in name:
        return None  # named by a variable: known only when the step runs
    structure = _structure()
    declared = structure.global_type(name)
    if declared is None:
        known = sorted(structure.element_names())
        raise ResourceSpecError(where, f"schema: {name!r} is not a 2030.5 resource (no global element of that "
                                       f"name in IEEE 2030.5-2018){_close(name, known)}")
    return declared


class _Node:
    """Where an expectation or a path stands: a complex type, a value (attribute or simple type), or unknown."""

    def __init__(self, type_name: str | None, root_element: str | None = None, *, value: bool = False) -> None:
        self.type_name = type_name
        self.root_element = root_element
        self.value = value or self._simple(type_name)

    @staticmethod
    def _simple(type_name: str | None) -> bool:
        if type_name is None:
            return False
        info = _structure().type_info(type_name)
        return type_name.startswith("xs:") or (info is not None and info.simple)

    def fields(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(children, attributes) of a complex type, or None for a value or an unknown type."""
        if self.type_name is None or self.value:
            return None
        structure = _structure()
        info = structure.type_info(self.type_name)
        if info is None:
            return None
        attributes = structure.root_attributes(self.root_element) if self.root_element else info.attributes
        return info.children, attributes

    def member(self, name: str) -> _Node | None:
        """The node of child or attribute `name`; None when the type has no such field.

        A field of a type derived from this one is allowed too (the document may carry xsi:type); its own
        type is then left unknown.
        """
        fields = self.fields()
        if fields is None:
            return None
        children, attributes = fields
        if name in children:
            return _Node(children[name].type)
        if name in attributes or name == _TEXT:
            return _Node(None, value=True)
        structure = _structure()
        for derived in structure.derived_types(self.type_name or ""):
            info = structure.type_info(derived)
            if info is not None and (name in info.children or name in info.attributes):
                return _Node(None)
        return None

    def names(self) -> list[str]:
        fields = self.fields()
        return sorted({*fields[0], *fields[1]}) if fields else []


def _operator_dict(spec: Any) -> bool:
    return isinstance(spec, dict) and bool(spec) and all(key in OPERATORS for key in spec)


def _shown(where: list[Any]) -> str:
    inside = where[where.index("resource") + 1:] if "resource" in where else where
    return ".".join(str(p) for p in inside) or "the resource"


def check_expectation(spec: Any, node: _Node, where: list[Any], label: str) -> None:
    """Every name in a resource expectation is a field of the resource the step asks for, and a value
    (an attribute, an element of simple type) is given a value or a matcher, never element names.

    Raises ResourceSpecError(path into the case, message) for the first name that is wrong.
    """
    if isinstance(spec, list):
        for i, item in enumerate(spec):
            check_expectation(item, node, [*where, i], label)
        return
    if not isinstance(spec, dict):
        return
    if _operator_dict(spec):
        for key in ("contains", "any_order"):
            for i, item in enumerate(spec.get(key) or []):
                check_expectation(item, node, [*where, key, i], label)
        if "not" in spec:
            check_expectation(spec["not"], node, [*where, "not"], label)
        return
    if node.value:
        others = [k for k in spec if k not in OPERATORS]
        raise ResourceSpecError([*where, others[0]], (
            f"{label}: {_shown(where)} holds a value, not elements: expected a value or a matcher "
            f"({', '.join(sorted(OPERATORS))}), saw {', '.join(map(repr, others))}"
            f"{_close(str(others[0]), sorted(OPERATORS))}"))
    if node.fields() is None:
        return  # a field whose type is unknown here (an xsi:type'd variant): nothing more to check
    for key, sub in spec.items():
        if not isinstance(key, str) or "${" in key:
            continue  # a field named by a variable: known only when the step runs
        child = node.member(key)
        if child is None:
            raise ResourceSpecError([*where, key], (
                f"{label}: {_shown([*where, key])}: {key!r} is neither a matcher nor a child or attribute of "
                f"{node.type_name}{_close(key, node.names() + sorted(OPERATORS))}"))
        check_expectation(sub, child, [*where, key], label)


def check_save_path(path: str, node: _Node, where: list[Any], label: str) -> None:
    """A save path leads through fields the resource has (selectors' keys included)."""
    if "${" in path.split("[", 1)[0] or node.fields() is None:
        return
    current = node
    for part in split_path(path.removesuffix("?")):
        if current.fields() is None:
            return  # into a value or an xsi:type'd field: the rest is not the schema's to judge
        match = _SEGMENT.match(part)
        if not match:
            return
        name = match.group("name")
        if name:
            found = current.member(name)
            if found is None:
                raise ResourceSpecError(where, f"{label}: save path {path!r}: {name!r} is not a child or attribute "
                                               f"of {current.type_name}{_close(name, current.names())}")
            current = found
        for selector in _SELECTOR.findall(match.group("selectors") or ""):
            key = selector.partition("=")[0].strip()
            if "=" not in selector or "${" in key:
                continue
            inner = current
            for name_part in key.split("."):
                if inner is None or inner.fields() is None:
                    break
                found_part = inner.member(name_part)
                if found_part is None:
                    raise ResourceSpecError(where, f"{label}: save path {path!r}: [{selector}] selects by {key!r}, "
                                                   f"which {inner.type_name} has not"
                                                   f"{_close(name_part, inner.names())}")
                inner = found_part


def node_for(resource_name: str | None, where: list[Any]) -> _Node | None:
    """The node of the resource a step's `schema:` names, or None when it is not named (or is a variable)."""
    if not resource_name:
        return None
    declared = check_resource_name(resource_name, where)
    return _Node(declared, resource_name) if declared else None
