"""IEEE 2030.5 list query parameters: s (start), l (limit), a (after); the first occurrence governs."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from harness.reference.defects import Defects

T = TypeVar("T")

DEFAULT_LIMIT = 1
_UNSIGNED = re.compile(r"[0-9]{1,10}")
_SIGNED = re.compile(r"-?[0-9]{1,19}")


class QueryError(ValueError):
    """A list query parameter whose value is not a valid number."""


@dataclass(frozen=True)
class Page:
    """The list window a request asks for."""

    start: int = 0
    limit: int = DEFAULT_LIMIT
    after: int | None = None


def _pick(query: list[tuple[str, str]], name: str, *, last: bool) -> str | None:
    values = [value for key, value in query if key == name]
    if not values:
        return None
    return values[-1] if last else values[0]


def parse_page(query: list[tuple[str, str]], defects: Defects) -> Page:
    """The Page of a request's query (unknown parameters ignored), or QueryError for a malformed value."""
    last = "list-last-param-wins" in defects
    start = _pick(query, "s", last=last)
    limit = _pick(query, "l", last=last)
    after = _pick(query, "a", last=last)
    for name, value, pattern in (("s", start, _UNSIGNED), ("l", limit, _UNSIGNED), ("a", after, _SIGNED)):
        if value is not None and not pattern.fullmatch(value):
            raise QueryError(f"query parameter {name}={value!r} is not a valid number")
    return Page(
        start=int(start) if start is not None else 0,
        limit=int(limit) if limit is not None else DEFAULT_LIMIT,
        after=int(after) if after is not None else None,
    )


def apply_page(
    items: Sequence[T], page: Page, defects: Defects, time_key: Callable[[T], int] | None = None
) -> list[T]:
    """The items of an ordered list that the page selects; a= filters only lists with a time key."""
    selected = list(items)
    if time_key is not None and page.after is not None and "list-ignores-after" not in defects:
        # The primary key of a time-ordered list is its time: keep only items strictly after a.
        selected = [item for item in selected if time_key(item) > page.after]
    if "list-ignores-start" not in defects:
        selected = selected[page.start :]
    if "list-ignores-limit" not in defects:
        selected = selected[: page.limit]
    return selected
