"""Whether the harness itself was late to a step that waits on the DUT's clock: then the case is an error.

A `wait` step sleeps until the DUT's clock reads its target; a target already passed returns at once. With
`--time-scale 0.01` one second of harness lag (a loaded machine, a slow action) is 100 s on the DUT's clock, so an
overloaded harness could reach "the event is Active" after the event ended and blame the DUT for it. So every wait
has a lateness tolerance, `late:` in seconds of the DUT's clock: a wait that ends later than its target + late,
and a failed request step right after such a wait sent later than that, are the harness's fault (verdict error,
never failed), with a message saying when it should have acted and when it did.

The tolerance is the step's `late:`, else the run's (`csip-harness run --late S`, `--csip-late S`), else
default_late(scale): LATE_WALL_S seconds of our own clock on the DUT's timeline (LATE_WALL_S / scale), capped at
LATE_CAP_S of the DUT's clock so that a scaled run still judges within the windows CSIP procedures leave after a
wait (an event of 60 s checked 10 s after its start).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.engine.clock import Clock, ClockNotRead

# How far behind its target a wait may end, in seconds of our own (wall) clock, before the scale shrinks it ...
LATE_WALL_S = 5.0
# ... and the most that becomes on the DUT's clock at any scale: at 0.01 the 5 s would be 500 s, longer than the
# windows procedures leave after a wait, so it is capped (0.3 s of wall time at 0.01; 5 s at scale 1).
LATE_CAP_S = 30.0


def default_late(scale: float) -> float:
    """The tolerance (DUT seconds) of a wait with no `late:` in a run with no run-level one, at time scale F."""
    return min(LATE_WALL_S / scale, LATE_CAP_S)


@dataclass(frozen=True)
class WaitTarget:
    """A wait that ended: its target (DUT TimeType, s), what it was for, and its tolerance (DUT s)."""

    until: float
    purpose: str
    late: float


def tolerance(step_late: float | None, run_late: float | None, scale: float) -> float:
    """The lateness tolerance of a wait in DUT seconds: the step's, else the run's, else default_late(scale)."""
    if step_late is not None:
        return step_late
    if run_late is not None:
        return run_late
    return default_late(scale)


def _wall_note(seconds: float, clock: Clock) -> str:
    if clock.scale == 1:
        return ""
    return f", {clock.real_seconds(seconds):.2f} s of wall time at time scale {clock.scale:g}"


def late_message(target: WaitTarget, acted: float, clock: Clock, what: str = "acted") -> str:
    """"the harness was late: ..." for an action at DUT time `acted` after target (see the module docstring)."""
    behind = acted - target.until
    return (f"the harness was late: expected to act at {target.until:.0f} on the DUT's clock ({target.purpose}), "
            f"at most {target.late:g} s after it, {what} at {acted:.0f} ({behind:.0f} s late{_wall_note(behind, clock)}"
            f"); the DUT is not to blame (run on a less loaded machine or at a larger --time-scale, or give the wait "
            f"a larger 'late', or the run a larger --late)")


def wait_lateness(target: WaitTarget, clock: Clock) -> str | None:
    """Why a wait that has just ended is late (its message), or None when it ended within its tolerance."""
    acted = clock.dut_now()
    if acted - target.until > target.late:
        return late_message(target, acted, clock)
    return None


def request_lateness(target: WaitTarget, clock: Clock, started: float) -> str | None:
    """Why a request sent at our wall-clock instant `started`, right after the wait `target`, was sent too late for
    the window the wait led to (its message), or None. The DUT's time at the request is the earliest its clock can
    have read then (from the last reading of its Time), so a request is never called late when it may not be."""
    try:
        sent = clock.dut_at(started)
    except ClockNotRead:
        return None
    if sent - target.until > target.late:
        return late_message(target, sent, clock, "sent the request")
    return None


__all__ = ["LATE_CAP_S", "LATE_WALL_S", "WaitTarget", "default_late", "late_message", "request_lateness",
           "tolerance", "wait_lateness"]
