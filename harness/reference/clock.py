"""The reference server's clock: current time and the Time resource's zone and US daylight-saving fields.

With a time scale F (0 < F <= 1, `--time-scale`) the clock runs 1/F times as fast as the real one from an origin
instant (`--time-origin`, Unix s), so everything scheduled on it (event starts and ends, EventStatus changes)
happens F times sooner in real time: a development run compresses a procedure's minutes. The harness is given
the same scale and origin, so that its expectation of the DUT's time agrees with this clock.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

DEFAULT_TZ_OFFSET = -18000  # US Eastern standard time, as CORE-005 suggests
DST_OFFSET = 3600

_scale = 1.0
_origin = 0.0


def configure(scale: float = 1.0, origin: float | None = None) -> None:
    """Run the clock 1/scale times as fast as the real one from origin (default: now); scale 1 is real time."""
    global _scale, _origin
    if not 0 < scale <= 1:
        raise ValueError(f"expected a time scale F with 0 < F <= 1, saw {scale}")
    _scale, _origin = scale, time.time() if origin is None else origin


def scale() -> float:
    """The clock's time scale (1: real time)."""
    return _scale


def now() -> int:
    """Current UTC time as a 2030.5 TimeType (whole seconds since the epoch), scaled from the origin."""
    real = time.time()
    return int(real if _scale == 1 else _origin + (real - _origin) / _scale)


def _nth_sunday(year: int, month: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    first_sunday = first + dt.timedelta(days=(6 - first.weekday()) % 7)
    return first_sunday + dt.timedelta(weeks=n - 1)


def _epoch(day: dt.date, hour: int) -> int:
    return int(dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC).timestamp())


@dataclass(frozen=True)
class TimeFields:
    """The values of a Time resource at one instant."""

    current_time: int
    dst_end_time: int
    dst_offset: int
    dst_start_time: int
    local_time: int
    tz_offset: int


def time_fields(at: int, tz_offset: int = DEFAULT_TZ_OFFSET, *, dst: bool = True) -> TimeFields:
    """Time resource values at UTC instant at, using US rules (2nd Sunday of March to 1st of November)."""
    year = dt.datetime.fromtimestamp(at, dt.UTC).year
    if not dst:
        return TimeFields(at, 0, 0, 0, at + tz_offset, tz_offset)
    # Both changes happen at 02:00 local wall-clock time: standard time in March, daylight time in November.
    start = _epoch(_nth_sunday(year, 3, 2), 2) - tz_offset
    end = _epoch(_nth_sunday(year, 11, 1), 2) - tz_offset - DST_OFFSET
    in_dst = start <= at < end
    local = at + tz_offset + (DST_OFFSET if in_dst else 0)
    return TimeFields(at, end, DST_OFFSET, start, local, tz_offset)
