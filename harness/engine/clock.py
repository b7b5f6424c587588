"""The clock a run judges time by: in the server role, the DUT's own clock, read from its Time resource.

CSIP procedures schedule events relative to the server's clock ("start: now + 2 min" on the server's /tm), and
IEEE 2030.5 judges an event's EventStatus against the server's time, so a step that waits for an event or
checks its status must use the DUT's clock, never the harness's wall clock alone. The Clock keeps the last
reading of the DUT's Time (currentTime, and our own clock at the middle of that exchange) and estimates the
DUT's time from it.

`--time-scale F` (0 < F <= 1) is for development runs against the reference server, which then runs its clock
and schedules 1/F times as fast as ours from an origin instant both sides know: what the procedure states in
minutes passes in F times the real time. A certification run uses 1.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

# How often a long wait says again what it waits for, in real seconds.
PROGRESS_EVERY_S = 10.0


class ClockNotRead(LookupError):
    """The DUT's time is needed but no step has read the DUT's Time yet (an authoring fault: an error)."""


@dataclass(frozen=True)
class TimeReading:
    """One reading of the DUT's Time: its currentTime and our wall clock (Unix s) when the exchange began and ended.

    The DUT read its clock somewhere between the two, and truncated it to whole seconds: at `started` the DUT's
    time was at most currentTime + 1, at `ended` at least currentTime.
    """

    current_time: int
    started: float
    ended: float


class Clock:
    """The run's clock: our own (scaled for a DUT that runs faster) and the DUT's, as read from its Time.

    ``scale`` is F of `--time-scale`: the DUT's clock advances 1/F seconds per second of ours (1: a real DUT).
    ``origin`` is the instant (Unix s, our clock) from which a scaled DUT clock runs faster; both the harness
    and the reference server take it from `csip-harness run`. Every time here is a 2030.5 TimeType in seconds.
    """

    def __init__(self, scale: float = 1.0, origin: float | None = None, *, wall: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if not 0 < scale <= 1:
            raise ValueError(f"expected a time scale F with 0 < F <= 1, saw {scale}")
        self.scale = scale
        self._wall = wall
        self._sleep = sleep
        self.origin = wall() if origin is None else origin
        self.reading: TimeReading | None = None

    def wall(self) -> float:
        """Our own clock, unscaled (Unix s): for evidence timestamps and real durations."""
        return self._wall()

    def now(self) -> float:
        """Our clock on the DUT's timeline: the wall clock, or with a time scale the scaled time since origin.

        This is what a correctly set DUT clock would read now (`${now}`, the `near_now` matcher).
        """
        wall = self._wall()
        return wall if self.scale == 1 else self.origin + (wall - self.origin) / self.scale

    def observe_time(self, current_time: int, started: float, elapsed: float) -> None:
        """Take a reading of the DUT's Time from an exchange that started at `started` (wall s) and took elapsed s."""
        self.reading = TimeReading(current_time, started, started + elapsed)

    @property
    def dut_read(self) -> bool:
        """Whether the DUT's Time has been read in this run."""
        return self.reading is not None

    def _read(self) -> TimeReading:
        if self.reading is None:
            raise ClockNotRead("the DUT's clock is not known yet: an earlier step must GET the DUT's Time "
                               "(expect: {schema: Time}) before a step can use the DUT's time")
        return self.reading

    def dut_at(self, wall: float) -> float:
        """The earliest time the DUT's clock can read at our wall-clock instant `wall` (from the last reading of
        its Time): an estimate that is never early, so a wait on it never ends before the DUT's clock reads its
        target. Raises ClockNotRead when no step has read the DUT's Time yet."""
        reading = self._read()
        return reading.current_time + (wall - reading.ended) / self.scale

    def dut_between(self, first: float, last: float) -> tuple[float, float]:
        """The earliest and latest time the DUT's clock can have read during our wall-clock interval [first, last]
        (an exchange): the uncertainty of the reading (its exchange's duration and the truncated second) and the
        interval itself, in the DUT's seconds. Raises ClockNotRead before the DUT's Time was read."""
        reading = self._read()
        earliest = reading.current_time + (first - reading.ended) / self.scale
        latest = reading.current_time + 1 + (last - reading.started) / self.scale
        return earliest, latest

    def dut_now(self) -> float:
        """The DUT's time now (the never-early estimate of dut_at)."""
        return self.dut_at(self._wall())

    def real_seconds(self, dut_seconds: float) -> float:
        """How long dut_seconds on the DUT's clock take on ours."""
        return dut_seconds * self.scale

    async def wait_until(self, dut_time: float, report: Callable[[float], None]) -> float:
        """Sleep until the DUT's clock reads dut_time; report(seconds left on the DUT's clock) now and every
        PROGRESS_EVERY_S real seconds. Returns the real seconds waited."""
        began = self._wall()
        while True:
            left = dut_time - self.dut_now()
            if left <= 0:
                return self._wall() - began
            report(left)
            await self._sleep(min(self.real_seconds(left), PROGRESS_EVERY_S))
