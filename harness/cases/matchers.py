"""Matching an observed resource view against the expectation written in a test case."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

PRESENT = "present"
ABSENT = "absent"

# What `near_now` compares with: the run's clock on the DUT's timeline (harness.engine.clock.Clock.now), set by
# the runner for the case it runs; the wall clock outside a run.
_NOW: ContextVar[Callable[[], float]] = ContextVar("csip_now", default=time.time)


@contextlib.contextmanager
def judging_time_by(now: Callable[[], float]) -> Iterator[None]:
    """Within this block, `near_now` compares with now() (the run's clock) instead of the wall clock."""
    token = _NOW.set(now)
    try:
        yield
    finally:
        _NOW.reset(token)


@dataclass(frozen=True)
class Mismatch:
    """One field that differs: where, what was expected and what was seen."""

    path: str
    expected: str
    seen: str

    def __str__(self) -> str:
        return f"{self.path}: expected {self.expected}, saw {self.seen}"


class MatcherSpecError(ValueError):
    """An expectation that is not a valid matcher; path says where in the expectation."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


def _show(value: Any) -> str:
    if value is None:
        return "nothing (absent)"
    if isinstance(value, dict | list):
        text = repr(value)
        return text if len(text) <= 200 else text[:197] + "..."
    return repr(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _scalar_equal(expected: Any, seen: Any) -> bool:
    if isinstance(expected, bool):
        return isinstance(seen, str) and seen.strip().lower() in (("true", "1") if expected else ("false", "0"))
    a, b = _number(expected), _number(seen)
    if a is not None and b is not None:
        return a == b
    return isinstance(seen, str | int | float) and str(expected) == str(seen)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _check_digit_ok(seen: Any) -> bool:
    text = str(seen).strip()
    return text.isdigit() and sum(int(d) for d in text) % 10 == 0


Operator = Callable[[Any, Any, str], list[Mismatch]]


def _op_min(arg: Any, seen: Any, path: str) -> list[Mismatch]:
    n = _number(seen)
    return [] if n is not None and n >= float(arg) else [Mismatch(path, f"a number >= {arg}", _show(seen))]


def _op_quantity(arg: Any, seen: Any, path: str) -> list[Mismatch]:
    """A 2030.5 quantity with a power-of-ten multiplier (ActivePower, ApparentPower, ReactivePower: value;
    PowerFactor: displacement) compared by the quantity it represents, value x 10^multiplier, never by the pair:
    the server may store 6800 W as value 680, multiplier 1 (CORE-014 errata 23, "representative" values).
    arg is a number or the matchers equals/min/max over the quantity."""
    digits = seen.get("value", seen.get("displacement")) if isinstance(seen, dict) else None
    try:
        quantity = Decimal(str(digits).strip()).scaleb(int(str(seen.get("multiplier", "0")).strip()))
    except (InvalidOperation, ValueError, AttributeError):
        return [Mismatch(path, "a quantity: value (or displacement) and multiplier", _show(seen))]
    shown = format(quantity.normalize(), "f")
    found = match(arg, shown, path)
    return [Mismatch(path, f"the quantity {m.expected} (value x 10^multiplier)", f"{shown} ({_show(seen)})")
            for m in found]


def _op_of_quantity(arg: Any, seen: Any, path: str) -> list[Mismatch]:
    """A plain number (an observed rating in W) equal to the quantity a 2030.5 value states (arg: a saved
    {value|displacement, multiplier}, e.g. the rtgMaxW a DER PUT), to the precision the multiplier gives: a DER
    whose 45678 W rating must fit an Int16 value states 4568 x 10^1, so any number that rounds to the stated
    digits (within half a unit of 10^multiplier) matches; nothing stated (None) leaves nothing to compare."""
    if arg is None:
        return []
    digits = arg.get("value", arg.get("displacement")) if isinstance(arg, dict) else None
    try:
        quantity = Decimal(str(digits).strip()).scaleb(int(str(arg.get("multiplier", "0")).strip()))
    except (InvalidOperation, ValueError, AttributeError):
        return [Mismatch(path, f"a number equal to a quantity, but the quantity is {_show(arg)}", _show(seen))]
    n = _number(seen)
    stated = format(quantity.normalize(), "f")
    half_unit = Decimal(5).scaleb(int(str(arg.get("multiplier", "0")).strip()) - 1)
    if n is None or abs(Decimal(str(n)) - quantity) > half_unit:
        return [Mismatch(path, f"{stated} (the quantity stated: {_show(arg)})", _show(seen))]
    return []


def _op_max(arg: Any, seen: Any, path: str) -> list[Mismatch]:
    n = _number(seen)
    return [] if n is not None and n <= float(arg) else [Mismatch(path, f"a number <= {arg}", _show(seen))]


def _op_regex(arg: Any, seen: Any, path: str) -> list[Mismatch]:
    ok = isinstance(seen, str) and re.fullmatch(str(arg), seen) is not None
    return [] if ok else [Mismatch(path, f"a value matching /{arg}/", _show(seen))]


def _op_one_of(arg: Any, seen: Any, path: str) -> list[Mismatch]:
    ok = any(_scalar_equal(option, seen) for option in _as_list(arg))
    return [] if ok else [Mismatch(path, f"one of {list(_as_list(arg))}", _show(seen))]


def _op_any_of(arg: Any, seen: Any, path: str) -> list[Mismatch]:
    """At least one of the expectations (each a value or a matcher spec) holds: an or, where one resource may show
    either of two facts (a list notified may hold one program or another)."""
    options = _as_list(arg)
    if any(not match(option, seen, path) for option in options):
        return []
    return [Mismatch(path, f"any of {_show(options)}", _show(seen) if seen is not None else "absent")]


def _op_present(arg: Any, seen: Any, path: str) -> list[Mismatch]:
    if bool(arg) == (seen is not None):
        return []
    return [Mismatch(path, "present" if arg else "absent", _show(seen) if seen is not None else "absent")]


def _op_hex(arg: Any, seen: Any, path: str) -> list[Mismatch]:
    ok = isinstance(seen, str) and seen.strip().lower() == str(arg).strip().lower()
    return [] if ok else [Mismatch(path, f"hex {str(arg).upper()} (any case)", _show(seen))]


def _op_check_digit(arg: Any, seen: Any, path: str) -> list[Mismatch]:
    if not arg or _check_digit_ok(seen):
        return []
    return [Mismatch(path, "a number whose last digit is the 2030.5 check digit", _show(seen))]


def _op_near_now(arg: Any, seen: Any, path: str) -> list[Mismatch]:
    n = _number(seen)
    now = _NOW.get()()
    if n is not None and abs(n - now) <= float(arg):
        return []
    detail = f"{_show(seen)} ({n - now:+.0f} s from the harness clock)" if n is not None else _show(seen)
    return [Mismatch(path, f"a time within {arg} s of the harness clock ({now:.0f})", detail)]


def _op_count(arg: Any, seen: Any, path: str) -> list[Mismatch]:
    count = len(_as_list(seen))
    return [] if count == int(arg) else [Mismatch(path, f"{arg} item(s)", f"{count} item(s)")]


def _op_not(arg: Any, seen: Any, path: str) -> list[Mismatch]:
    return [Mismatch(path, f"anything but {_show(arg)}", _show(seen))] if not match(arg, seen, path) else []


def _op_equals(arg: Any, seen: Any, path: str) -> list[Mismatch]:
    return [] if _scalar_equal(arg, seen) else [Mismatch(path, _show(arg), _show(seen))]


def _op_contains(arg: Any, seen: Any, path: str) -> list[Mismatch]:
    items = _as_list(seen)
    out: list[Mismatch] = []
    for i, wanted in enumerate(_as_list(arg)):
        if not any(not match(wanted, item, f"{path}[?]") for item in items):
            out.append(Mismatch(f"{path}", f"an item matching {_show(wanted)} (contains #{i})",
                                f"{len(items)} item(s), none matching"))
    return out


def _op_any_order(arg: Any, seen: Any, path: str) -> list[Mismatch]:
    wanted, items = _as_list(arg), _as_list(seen)
    if len(wanted) != len(items):
        return [Mismatch(path, f"{len(wanted)} item(s) in any order", f"{len(items)} item(s)")]
    free = list(range(len(items)))
    for i, expectation in enumerate(wanted):
        hit = next((j for j in free if not match(expectation, items[j], path)), None)
        if hit is None:
            return [Mismatch(path, f"an item matching {_show(expectation)} (any_order #{i})", "no unmatched item fits")]
        free.remove(hit)
    return []


def _same_resource(a: str, b: str) -> bool:
    """Whether two URI references name the same resource: both absolute and equal, or equal paths and queries.

    2030.5 hrefs and Location headers are URI references; a server may give `/mup/1` once and
    `https://host:8443/mup/1` the next time, and both name the same resource on the DUT.
    """
    first, second = urlsplit(a.strip()), urlsplit(b.strip())
    if first.netloc and second.netloc and (first.scheme.lower(), first.netloc.lower()) != (
            second.scheme.lower(), second.netloc.lower()):
        return False
    return (first.path or "/", first.query) == (second.path or "/", second.query)


def _op_uri(arg: Any, seen: Any, path: str) -> list[Mismatch]:
    # A list (a saved list of hrefs): a reference to any one of them.
    options = [str(a) for a in arg] if isinstance(arg, list) else [str(arg)]
    ok = isinstance(seen, str) and any(_same_resource(option, seen) for option in options)
    shown = repr(options[0]) if len(options) == 1 else f"one of {options}"
    return [] if ok else [Mismatch(path, f"a reference to the same resource as {shown}", _show(seen))]


def _op_hrefs(arg: Any, seen: Any, path: str) -> list[Mismatch]:
    # Identity and order of list items, never their volatile fields (a changedTime may move between GETs).
    wanted = [str(h) for h in _as_list(arg)]
    items = _as_list(seen)
    got = [item.get("href") if isinstance(item, dict) else None for item in items]
    if len(got) == len(wanted) and all(isinstance(g, str) and _same_resource(w, g) for w, g in zip(
            wanted, got, strict=True)):
        return []
    if len(got) != len(wanted):
        return [Mismatch(path, f"{len(wanted)} item(s) with hrefs {wanted}", f"{len(got)} item(s) with hrefs {got}")]
    first = next(i for i, (a, b) in enumerate(zip(wanted, got, strict=True))
                 if not (isinstance(b, str) and _same_resource(a, b)))
    return [Mismatch(f"{path}[{first}].href", f"{wanted[first]!r} (hrefs in this order: {wanted})",
                     f"{got[first]!r} (hrefs: {got})")]


def _sort_value(item: Any, key: str) -> tuple[int, Any]:
    """The value of a dotted key inside a list item, comparable across items: numbers by value, hex by value."""
    value: Any = item
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    number = _number(value)
    if number is not None:
        return (0, int(number) if number.is_integer() else number)
    if isinstance(value, str) and re.fullmatch(r"[0-9A-Fa-f]+", value.strip()):
        return (0, int(value.strip(), 16))  # an mRID or another hexBinary key compares as the number it is
    return (1, str(value))


def _op_sorted_by(arg: Any, seen: Any, path: str) -> list[Mismatch]:
    """The items are in the order the keys give: each key a dotted path in the item, '-' first for descending.

    This is how a list's ordering as 2030.5 defines it is checked on a DUT whose values the case does not
    know (a DERProgramList by primacy then mRID, a LogEventList by createdDateTime newest first). Items equal
    on every key may come in any order.
    """
    keys = [str(k) for k in _as_list(arg)]
    items = _as_list(seen)
    for i in range(1, len(items)):
        for key in keys:
            name, descending = (key[1:], True) if key.startswith("-") else (key, False)
            before, after = _sort_value(items[i - 1], name), _sort_value(items[i], name)
            if before == after:
                continue
            if (before > after) != descending:
                order = ", ".join(keys)
                shown = [[_sort_value(item, k.lstrip("-"))[1] for k in keys] for item in items]
                return [Mismatch(f"{path}[{i}]", f"items ordered by {order} ('-' descending)",
                                 f"item {i - 1} before item {i} by {key}: {_show(shown)}")]
            break
    return []


OPERATORS: dict[str, Operator] = {
    "hrefs": _op_hrefs,
    "uri": _op_uri,
    "min": _op_min,
    "max": _op_max,
    "regex": _op_regex,
    "one_of": _op_one_of,
    "any_of": _op_any_of,
    "present": _op_present,
    "hex": _op_hex,
    "check_digit": _op_check_digit,
    "near_now": _op_near_now,
    "count": _op_count,
    "not": _op_not,
    "equals": _op_equals,
    "contains": _op_contains,
    "any_order": _op_any_order,
    "sorted_by": _op_sorted_by,
    "quantity": _op_quantity,
    "of_quantity": _op_of_quantity,
}


def _is_operator_dict(spec: dict[str, Any]) -> bool:
    return bool(spec) and all(key in OPERATORS for key in spec)


def match(expected: Any, seen: Any, path: str = "resource") -> list[Mismatch]:
    """Compare seen with expected; return every mismatch, empty when it matches."""
    if expected == PRESENT:
        return [] if seen is not None else [Mismatch(path, "present", "absent")]
    if expected == ABSENT:
        return [] if seen is None else [Mismatch(path, "absent", _show(seen))]
    if isinstance(expected, dict):
        if _is_operator_dict(expected):
            lenient = ("present", "count", "not", "hrefs", "sorted_by", "any_of")
            if seen is None and not any(key in expected for key in lenient):
                return [Mismatch(path, " and ".join(f"{k} {v}" for k, v in expected.items()), "absent")]
            return [m for key, arg in expected.items() for m in OPERATORS[key](arg, seen, path)]
        if isinstance(seen, list) and len(seen) == 1:
            seen = seen[0]
        if not isinstance(seen, dict):
            return [Mismatch(path, "an element with " + ", ".join(expected), _show(seen))]
        return [m for key, sub in expected.items() for m in match(sub, seen.get(key), f"{path}.{key}")]
    if isinstance(expected, list):
        items = _as_list(seen)
        if len(items) != len(expected):
            return [Mismatch(path, f"{len(expected)} item(s)", f"{len(items)} item(s)")]
        return [m for i, (e, s) in enumerate(zip(expected, items, strict=True)) for m in match(e, s, f"{path}[{i}]")]
    if seen is None:
        return [Mismatch(path, _show(expected), "absent")]
    return [] if _scalar_equal(expected, seen) else [Mismatch(path, _show(expected), _show(seen))]


def check_spec(spec: Any, path: str = "resource") -> None:
    """Raise MatcherSpecError when spec mixes operators with element names or misuses an operator."""
    if isinstance(spec, dict):
        operators = [k for k in spec if k in OPERATORS]
        if operators and len(operators) != len(spec):
            others = [k for k in spec if k not in OPERATORS]
            raise MatcherSpecError(path, f"mixes matcher operators {operators} with element names {others}")
        if operators:
            for key, arg in spec.items():
                if key in ("min", "max", "near_now", "count") and _number(arg) is None and "${" not in str(arg):
                    raise MatcherSpecError(f"{path}.{key}", f"expected a number, saw {arg!r}")
                if key == "regex":
                    try:
                        re.compile(str(arg))
                    except re.error as exc:
                        raise MatcherSpecError(f"{path}.regex", f"invalid regular expression: {exc}") from None
                # any_order may name a saved list as a whole (`${fsas}`: the items read earlier, to compare with).
                if (key in ("contains", "any_order", "one_of", "sorted_by", "any_of") and not isinstance(arg, list)
                        and not (key == "any_order" and _whole_reference(arg))):
                    raise MatcherSpecError(f"{path}.{key}", f"expected a list, saw {arg!r}")
                if key == "hrefs" and not isinstance(arg, list) and not _whole_reference(arg):
                    raise MatcherSpecError(f"{path}.{key}", f"expected a list, saw {arg!r}")
                if key == "quantity" and not (isinstance(arg, dict) or _number(arg) is not None
                                              or "${" in str(arg)):
                    raise MatcherSpecError(f"{path}.quantity", f"expected a number or min/max/equals, saw {arg!r}")
                if key == "of_quantity" and not (isinstance(arg, dict) or _whole_reference(arg)):
                    raise MatcherSpecError(f"{path}.of_quantity", f"expected a saved quantity ${{...}} or "
                                           f"{{value, multiplier}}, saw {arg!r}")
                if key == "quantity" and isinstance(arg, dict):
                    check_spec(arg, f"{path}.quantity")
                if key in ("contains", "any_order", "not", "any_of"):
                    for i, item in enumerate(_as_list(arg)):
                        check_spec(item, f"{path}.{key}[{i}]")
            return
        for key, sub in spec.items():
            check_spec(sub, f"{path}.{key}")
    elif isinstance(spec, list):
        for i, item in enumerate(spec):
            check_spec(item, f"{path}[{i}]")
    elif spec is None:
        raise MatcherSpecError(path, "expected a value or matcher, saw nothing (null)")


def _whole_reference(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("${") and value.endswith("}")
