"""A device's schedule of DERControl events and DefaultDERControls, by the IEEE 2030.5 event rules.

The rules applied (IEEE 2030.5-2018 §12.1.3 event rules, §10.10 DER function set):

* each event's effective window is its interval shifted by a random offset drawn once in [0, randomizeStart]
  (or [randomizeStart, 0] when negative) and its duration changed by one drawn in [0, randomizeDuration]
  likewise (a negative randomizeDuration may shorten it, never below zero);
* an event supersedes an overlapping one when both control a common DERControlBase mode and it comes from a
  program of lower primacy value or, at equal primacy, it was created later (creationTime); the superseded one
  is answered status 7 and never applied;
* a server's EventStatus 2/3 (cancelled) is answered 6 and 4 (superseded) is answered 7, and the event ends;
* responseRequired bit 0 asks for status 1 (received) on first sight, bit 1 for the event's progress:
  2 (started), 3 (completed), 6 (cancelled), 7 (superseded);
* where no event applies, the DefaultDERControl of the program with the lowest primacy value applies.

Where the standard leaves a choice (an event that vanishes from its list before it ends), the event is dropped
without a Response. Nothing here does I/O: the device feeds it what it read and posts what it returns.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

RECEIVED, STARTED, COMPLETED, CANCELLED, SUPERSEDED = 1, 2, 3, 6, 7
# EventStatus currentStatus values a server sets (2030.5-2018 EventStatus).
SERVER_CANCELLED = (2, 3)
SERVER_SUPERSEDED = 4


@dataclass
class Control:
    """A DERControl as read from its list: identity, interval (TimeType s), randomisation, responses, base."""

    mrid: str
    href: str
    program: str
    primacy: int
    creation_time: int
    start: int
    duration: int
    current_status: int = 0
    randomize_start: int = 0
    randomize_duration: int = 0
    response_required: int = 0
    reply_to: str | None = None
    base: dict[str, Any] = field(default_factory=dict)


@dataclass
class Event:
    """A control the device knows, with its drawn offsets and where it is in its life."""

    control: Control
    start_offset: int
    duration_offset: int
    state: str = "scheduled"  # scheduled | active | done
    # Answered cancelled but still applied to its end (the keeps-cancelled defect): it owes no more Responses.
    silent: bool = False

    @property
    def window(self) -> tuple[int, int]:
        """The effective [start, end) of the event, TimeType seconds."""
        start = self.control.start + self.start_offset
        return start, start + max(0, self.control.duration + self.duration_offset)


@dataclass(frozen=True)
class Reply:
    """A Response status the device owes for an event (filtered by responseRequired)."""

    control: Control
    status: int


def _draw(rng: random.Random, bound: int) -> int:
    return rng.randint(min(0, bound), max(0, bound)) if bound else 0


class Schedule:
    """The device's events and defaults; lower_primacy_wins and randomise switch the rules the defects break."""

    def __init__(self, rng: random.Random, *, lower_primacy_wins: bool = False, randomise: bool = True,
                 apply_events: bool = True, apply_defaults: bool = True, keep_ended: bool = False,
                 keep_cancelled: bool = False) -> None:
        self.rng = rng
        self.lower_primacy_wins = lower_primacy_wins
        self.randomise = randomise
        # What the device applies (active_control) against what it answers: the defects that break only the
        # former (ignores-controls, ignores-default, keeps-ended-control, keeps-cancelled) are seen by an
        # observation alone.
        self.apply_events = apply_events
        self.apply_defaults = apply_defaults
        self.keep_ended = keep_ended
        self.keep_cancelled = keep_cancelled
        self.last_completed: Control | None = None
        self.events: dict[str, Event] = {}
        # program href -> (primacy, DefaultDERControl mRID, base values)
        self.defaults: dict[str, tuple[int, str, dict[str, Any]]] = {}

    # --- rules ---------------------------------------------------------------------------------

    def _more_important(self, a: Control, b: Control) -> bool:
        if a.primacy != b.primacy:
            return (a.primacy > b.primacy) if self.lower_primacy_wins else (a.primacy < b.primacy)
        return a.creation_time > b.creation_time

    def _live(self) -> list[Event]:
        return [e for e in self.events.values() if e.state != "done"]

    @staticmethod
    def _overlap(a: Event, b: Event) -> bool:
        (a0, a1), (b0, b1) = a.window, b.window
        return a0 < b1 and b0 < a1 and bool(a.control.base.keys() & b.control.base.keys())

    # --- input ---------------------------------------------------------------------------------

    def update_program(self, program: str, controls: Iterable[Control], now: float) -> list[Reply]:
        """Take a program's DERControlList as just read; return the Replies owed, in order."""
        replies: list[Reply] = []
        seen: set[str] = set()
        for control in controls:
            seen.add(control.mrid)
            event = self.events.get(control.mrid)
            if event is None:
                replies += self._receive(control, now)
                event = self.events[control.mrid]
            else:
                event.control.current_status = control.current_status
            if event.state == "done" or event.silent:
                continue
            if control.current_status in SERVER_CANCELLED:
                replies.append(Reply(event.control, CANCELLED))
                if self.keep_cancelled and event.state == "active":
                    event.silent = True
                else:
                    event.state = "done"
            elif control.current_status == SERVER_SUPERSEDED:
                event.state = "done"
                replies.append(Reply(event.control, SUPERSEDED))
        for mrid, event in list(self.events.items()):
            if event.control.program == program and mrid not in seen:
                # Gone from the list: a server stops serving an event once it is over; one that went early was
                # withdrawn without a cancellation, which 2030.5 does not answer.
                if event.state == "active" and not event.silent and now >= event.window[1] - 1:
                    replies.append(Reply(event.control, COMPLETED))
                    self.last_completed = event.control
                del self.events[mrid]
        return replies

    def _receive(self, control: Control, now: float) -> list[Reply]:
        randomise = self.randomise
        event = Event(control, _draw(self.rng, control.randomize_start) if randomise else 0,
                      _draw(self.rng, control.randomize_duration) if randomise else 0)
        self.events[control.mrid] = event
        replies = [Reply(control, RECEIVED)]
        if now >= event.window[1]:
            event.state = "done"  # over before it was seen: nothing to apply
            return replies
        for other in self._live():
            if other is event or not self._overlap(event, other):
                continue
            loser = other if self._more_important(control, other.control) else event
            loser.state = "done"
            replies.append(Reply(loser.control, SUPERSEDED))
            if loser is event:
                break
        return replies

    def set_default(self, program: str, primacy: int, mrid: str, base: dict[str, Any]) -> None:
        """Record a program's DefaultDERControl."""
        self.defaults[program] = (primacy, mrid, base)

    def forget_program(self, program: str) -> None:
        """Drop a program no longer assigned to the device, with its events and default."""
        self.defaults.pop(program, None)
        for mrid in [m for m, e in self.events.items() if e.control.program == program]:
            del self.events[mrid]

    # --- time ----------------------------------------------------------------------------------

    def tick(self, now: float) -> list[Reply]:
        """Start and complete the events whose window edges have passed; the Replies owed, in order."""
        replies: list[Reply] = []
        for event in sorted(self._live(), key=lambda e: e.window):
            start, end = event.window
            if event.state == "scheduled" and start <= now < end:
                event.state = "active"
                replies.append(Reply(event.control, STARTED))
            elif now >= end:
                if event.state == "active" and not event.silent:
                    replies.append(Reply(event.control, COMPLETED))
                    self.last_completed = event.control
                event.state = "done"
        return replies

    def next_transition(self, now: float) -> float | None:
        """The next instant (device time) at which an event starts or ends, if any."""
        edges = [edge for e in self._live() for edge in e.window if edge > now]
        return min(edges, default=None)

    # --- output --------------------------------------------------------------------------------

    def active_control(self) -> dict[str, Any]:
        """What the DER applies now: the most important active event, else the winning DefaultDERControl."""
        active = [e.control for e in self._live() if e.state == "active"] if self.apply_events else []
        if not active and self.keep_ended and self.last_completed is not None and not (
                self.defaults and self.apply_defaults):
            active = [self.last_completed]
        if active:
            best = active[0]
            for control in active[1:]:
                if self._more_important(control, best):
                    best = control
            return {"source": "DERControl", "mRID": best.mrid, "program": best.program, "base": best.base}
        if self.defaults and self.apply_defaults:
            sign = -1 if self.lower_primacy_wins else 1
            program, (_, mrid, base) = min(self.defaults.items(), key=lambda item: (sign * item[1][0], item[0]))
            return {"source": "DefaultDERControl", "mRID": mrid, "program": program, "base": base}
        return {"source": "none", "mRID": None, "program": None, "base": {}}


def wants(control: Control, status: int) -> bool:
    """Whether responseRequired asks for a Response of this status (bit 0: received, bit 1: the rest)."""
    if status == RECEIVED:
        return bool(control.response_required & 0x01)
    return bool(control.response_required & 0x02)
