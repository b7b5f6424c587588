"""2030.5 relations between the fields of event resources and the server's clock, and the order of event lists.

EventStatus (IEEE 2030.5-2018, EventStatus.currentStatus and dateTime; §10.2.3 on effective start and end):

- 0 Scheduled: "the event has been scheduled and the event has not yet started"; for an event whose start is at
  or before the current time it "SHALL never be indicated";
- 1 Active: set "when the event reaches its earliest Effective Start Time": it is never shown before that
  instant. 2030.5 has no "completed" status and no SHALL that a server change it (or drop the event) once the
  event has ended, so an ended event still shown Active is advised against (a warning), never failed;
- 2 Cancelled, 3 Cancelled with Randomization, 4 Superseded: possible at any time (a server may keep a
  cancelled event listed for its duration);
- dateTime: "the time at which the status change occurred, not a time in the future".

The effective window widens [start, start + duration) by randomizeStart (negative: earlier; positive: later)
and a positive randomizeDuration. Within `tolerance` seconds of a boundary either side's status is accepted:
the DUT's time is known to the second only, and it moves while a response travels.

DERControlList order (IEEE 2030.5-2018, the ordering of event lists): primary key interval.start ascending,
secondary creationTime descending, tertiary mRID descending.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.cases.matchers import Mismatch

SCHEDULED, ACTIVE, CANCELLED, CANCELLED_RANDOM, SUPERSEDED = 0, 1, 2, 3, 4
STATUS_NAMES = {0: "0 Scheduled", 1: "1 Active", 2: "2 Cancelled", 3: "3 Cancelled with Randomization",
                4: "4 Superseded"}

# The lists whose 2030.5 order the harness knows: the item element and the sort key's description.
LIST_ORDERS: dict[str, tuple[str, str]] = {
    "DERControlList": ("DERControl", "interval.start ascending, then creationTime descending, then mRID descending"),
}


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _items(view: dict[str, Any], item: str) -> list[tuple[str, dict[str, Any]]]:
    """The event items of a view: the resource itself when it is one event, else its items named item."""
    if "EventStatus" in view:
        return [("resource", view)]
    found = view.get(item)
    items = found if isinstance(found, list) else [found] if isinstance(found, dict) else []
    return [(f"resource.{item}[{i}]", entry) for i, entry in enumerate(items) if isinstance(entry, dict)]


def effective_window(event: dict[str, Any]) -> tuple[int, int] | None:
    """[earliest effective start, latest effective end) of an event view, or None when its interval is unreadable."""
    interval = event.get("interval") or {}
    start, duration = _int(interval.get("start")), _int(interval.get("duration"))
    if start is None or duration is None:
        return None
    shift = _int(event.get("randomizeStart")) or 0
    stretch = max(0, _int(event.get("randomizeDuration")) or 0)
    return start + min(0, shift), start + max(0, shift) + duration + stretch


def _allowed(earliest: float, latest: float, window: tuple[int, int], tolerance: float,
             *, advised: bool = False) -> tuple[set[int], str]:
    """The currentStatus values 2030.5 allows at some instant of [earliest, latest] (widened by tolerance) for an
    event with this window, and why; with advised, the values it expects (1 Active is not expected after the
    event's end, though no SHALL forbids it)."""
    start, end = window
    earliest, latest = earliest - tolerance, latest + tolerance
    allowed = {CANCELLED, CANCELLED_RANDOM, SUPERSEDED}
    phases = []
    if earliest < start:
        allowed.add(SCHEDULED)
        phases.append(f"before its effective start {start}")
    if latest >= start and (earliest < end or not advised):
        allowed.add(ACTIVE)
    if earliest < end and latest >= start:
        phases.append(f"within its effective window [{start}, {end})")
    if latest >= end:
        phases.append(f"after its effective end {end}")
    return allowed, " or ".join(phases)


def event_status_mismatches(view: dict[str, Any], dut_time: float | tuple[float, float], tolerance: float,
                            item: str = "DERControl", *, advised: bool = False) -> list[Mismatch]:
    """Where an event's (or each listed event's) EventStatus contradicts its interval at the DUT's time: one
    instant, or the (earliest, latest) the DUT's clock can have read while it answered (Clock.dut_between).

    Without advised: what 2030.5 requires (a failure). With advised: only what it advises against and does not
    forbid, an event shown 1 Active after its effective end (a warning finding).
    Statuses 2030.5 reserves (5 and up in 2018) are not judged here: the own checks show them as warnings.
    """
    earliest, latest = dut_time if isinstance(dut_time, tuple) else (dut_time, dut_time)
    shown = f"{earliest:.0f}" if latest - earliest < 1 else f"{earliest:.0f} to {latest:.0f}"
    out: list[Mismatch] = []
    for path, event in _items(view, item):
        status = event.get("EventStatus") or {}
        current, since = _int(status.get("currentStatus")), _int(status.get("dateTime"))
        window = effective_window(event)
        if current is None or window is None:
            if advised:
                continue
            out.append(Mismatch(path, "an event with EventStatus.currentStatus and interval start and duration",
                                f"currentStatus {status.get('currentStatus')!r}, interval {event.get('interval')!r}"))
            continue
        allowed, phase = _allowed(earliest, latest, window, tolerance)
        if advised:
            expected, _ = _allowed(earliest, latest, window, tolerance, advised=True)
            if current == ACTIVE and current in allowed and current not in expected:
                out.append(Mismatch(
                    f"{path}.EventStatus.currentStatus",
                    f"not 1 Active once the event has ended (IEEE 2030.5 EventStatus: the event is {phase} at the "
                    f"DUT's time {shown}, within {tolerance:g} s; 2030.5 has no completed status and does not "
                    f"require the server to change it)",
                    STATUS_NAMES[current]))
            continue
        if current in STATUS_NAMES and current not in allowed:
            names = ", ".join(STATUS_NAMES[s] for s in sorted(allowed))
            out.append(Mismatch(
                f"{path}.EventStatus.currentStatus",
                f"one of {names} (IEEE 2030.5 EventStatus: the event is {phase} at the DUT's time "
                f"{shown}, within {tolerance:g} s)",
                STATUS_NAMES[current]))
        if since is not None and since > latest + tolerance:
            out.append(Mismatch(f"{path}.EventStatus.dateTime",
                                f"the time the status was set, not in the future (IEEE 2030.5 EventStatus.dateTime; "
                                f"the DUT's time is {shown})", str(since)))
    return out


def _order_key(event: dict[str, Any]) -> tuple[int, int, int] | None:
    start = _int((event.get("interval") or {}).get("start"))
    created = _int(event.get("creationTime"))
    try:
        mrid = int(str(event.get("mRID", "")).strip(), 16)
    except ValueError:
        return None
    if start is None or created is None:
        return None
    return start, -created, -mrid


def _describe(event: dict[str, Any]) -> str:
    return (f"start {(event.get('interval') or {}).get('start')}, creationTime {event.get('creationTime')}, "
            f"mRID {event.get('mRID')}")


ORDER_KEYS: dict[str, Callable[[dict[str, Any]], tuple[int, ...] | None]] = {"DERControlList": _order_key}


def list_order_mismatches(view: dict[str, Any], list_name: str) -> list[Mismatch]:
    """Where a list's items break the order 2030.5 defines for that list (LIST_ORDERS): the first pair out of order."""
    item, rule = LIST_ORDERS[list_name]
    items = [event for _, event in _items({k: v for k, v in view.items() if k != "EventStatus"}, item)]
    key = ORDER_KEYS[list_name]
    for i in range(1, len(items)):
        before, after = key(items[i - 1]), key(items[i])
        if before is None or after is None:
            continue  # an item without its keys is the schema's finding, not an order to judge
        if after < before:
            return [Mismatch(f"resource.{item}[{i}]",
                             f"{list_name} order (IEEE 2030.5: {rule}): an item that sorts after "
                             f"{item}[{i - 1}] ({_describe(items[i - 1])})",
                             _describe(items[i]))]
    return []
