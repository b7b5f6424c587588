"""`${...}` substitution: saved values, profile values and simple integer offsets (`${now + 86400}`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from harness.cases.paths import PathError, lookup, split_path

_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_OFFSET = re.compile(r"^(?P<ref>.+?)\s*(?P<op>[+-])\s*(?P<num>\d+)$")


class VariableError(LookupError):
    """A `${...}` reference that cannot be resolved.

    ``unknown`` is true when no variable of that name exists at all (an authoring or harness fault, since
    loading checks every name), false when the variable exists but the path into it leads nowhere (the
    value came from the DUT and lacks what the case looked for).
    """

    def __init__(self, message: str, *, unknown: bool = False) -> None:
        super().__init__(message)
        self.unknown = unknown


def _resolve(expression: str, variables: Mapping[str, Any]) -> Any:
    expression = expression.strip()
    offset = _OFFSET.match(expression)
    ref = offset.group("ref") if offset else expression
    head = split_path(ref)[0] if ref else ""
    root = re.split(r"\[", head, maxsplit=1)[0]
    if root not in variables:
        known = ", ".join(sorted(variables)) or "none"
        raise VariableError(f"${{{expression}}}: no variable {root!r} (known: {known})", unknown=True)
    try:
        value = lookup(variables, ref)
    except PathError as exc:
        raise VariableError(f"${{{expression}}}: {exc}") from None
    if offset:
        try:
            base = int(value)
        except (TypeError, ValueError):
            raise VariableError(f"${{{expression}}}: expected an integer to offset, saw {value!r}") from None
        delta = int(offset.group("num"))
        return base + delta if offset.group("op") == "+" else base - delta
    return value


def substitute(value: Any, variables: Mapping[str, Any]) -> Any:
    """Replace `${...}` in strings (recursively in dicts, their keys, and lists); a lone reference keeps its type."""
    if isinstance(value, str):
        if "${" not in value:
            return value
        whole = _REFERENCE.fullmatch(value)
        if whole:
            return _resolve(whole.group(1), variables)
        return _REFERENCE.sub(lambda m: str(_resolve(m.group(1), variables)), value)
    if isinstance(value, dict):
        return {(str(substitute(k, variables)) if isinstance(k, str) and "${" in k else k): substitute(v, variables)
                for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    return value


def references(value: Any) -> list[str]:
    """Every `${...}` expression inside value, for load-time checks."""
    if isinstance(value, str):
        return [m.group(1).strip() for m in _REFERENCE.finditer(value)]
    if isinstance(value, dict):
        return [r for k, v in value.items() for r in (references(k) if isinstance(k, str) else []) + references(v)]
    if isinstance(value, list):
        return [r for v in value for r in references(v)]
    return []
