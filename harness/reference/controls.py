"""DERControl events of the reference server: their control values, their EventStatus at an instant, their order.

IEEE 2030.5-2018 gives the server's side of an event's life in the EventStatus notes of the schema and in the
event rules of §10.2.3: an event is 0 Scheduled from the moment it is scheduled until it becomes active (and an
event whose start is already past is never shown as Scheduled), 1 Active from its earliest effective start, and
EventStatus.dateTime is the time the current status was set. The standard has no "completed" status; once an
event's effective end has passed, this server no longer serves it at all (it leaves the DERControlList and its
URI answers 404), the way a server removes past events from its lists. An event the server cancels is 2 Cancelled
from the moment of its cancellation (EventStatus.dateTime) and stays served, so clients see the cancellation,
until its effective end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from harness.reference.elements import el

if TYPE_CHECKING:
    from harness.reference.tree import DerControl

SCHEDULED = 0
ACTIVE = 1
CANCELLED = 2
SUPERSEDED = 4

# The sequence of DERControlBase in the 2030.5-2018 schema: children must appear in this order.
DER_CONTROL_BASE_ORDER: tuple[str, ...] = (
    "opModConnect", "opModEnergize", "opModFixedPFAbsorbW", "opModFixedPFInjectW", "opModFixedVar", "opModFixedW",
    "opModFreqDroop", "opModFreqWatt", "opModHFRTMayTrip", "opModHFRTMustTrip", "opModHVRTMayTrip",
    "opModHVRTMomentaryCessation", "opModHVRTMustTrip", "opModLFRTMayTrip", "opModLFRTMustTrip", "opModLVRTMayTrip",
    "opModLVRTMomentaryCessation", "opModLVRTMustTrip", "opModMaxLimW", "opModTargetVar", "opModTargetW",
    "opModVoltVar", "opModVoltWatt", "opModWattPF", "opModWattVar", "rampTms",
)


def _value_element(name: str, value: object) -> etree._Element:
    """One element from a JSON-like value: a mapping becomes child elements in the order given (a link's
    href, e.g. {"href": "/derp/1/dc/1"} for opModVoltVar, becomes its attribute), a bool true/false."""
    if isinstance(value, Mapping):
        href = value.get("href")
        nested = [_value_element(str(key), item) for key, item in value.items() if key != "href"]
        return el(name, *nested, href=href)
    return el(name, text=value)


def control_base(values: Mapping[str, object]) -> etree._Element:
    """A DERControlBase from {element name: value}, children in the schema's order.

    Names the schema does not know are kept (last), so that the schema check of the built DERControl names
    them instead of this function silently dropping them.
    """
    rank = {name: position for position, name in enumerate(DER_CONTROL_BASE_ORDER)}
    ordered = sorted(values.items(), key=lambda item: rank.get(item[0], len(rank)))
    return el("DERControlBase", *[_value_element(name, value) for name, value in ordered])


def effective_window(control: DerControl) -> tuple[int, int]:
    """The [earliest effective start, latest effective end) of an event, TimeType seconds.

    The interval [start, start + duration) widened by its randomization: a negative randomizeStart lets a
    client start early, a positive one late, and a positive randomizeDuration lets it run longer (§10.2.3).
    """
    shift = control.randomize_start or 0
    stretch = max(0, control.randomize_duration or 0)
    return control.start + min(0, shift), control.start + max(0, shift) + control.duration + stretch


@dataclass(frozen=True)
class Status:
    """An event's EventStatus at one instant: currentStatus and the TimeType it was set."""

    current: int
    since: int


def event_status(control: DerControl, now: int) -> Status | None:
    """The EventStatus of control at now, or None once the event has ended (it is no longer served)."""
    start, end = effective_window(control)
    if now >= end:
        return None
    if control.cancelled is not None and now >= control.cancelled:
        return Status(CANCELLED, control.cancelled)
    if now < start:
        return Status(SCHEDULED, control.creation_time)
    # Active since it started; an event created after its start began Active at its creation.
    return Status(ACTIVE, max(start, control.creation_time))


def list_order(controls: Iterable[DerControl]) -> list[DerControl]:
    """DERControlList order: interval start ascending, then creationTime descending, then mRID descending."""
    return sorted(controls, key=lambda c: (c.start, -c.creation_time, -int(c.mrid, 16)))
