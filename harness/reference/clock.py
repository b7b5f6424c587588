"""The reference server's clock: current time and the Time resource's zone and US daylight-saving fields."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

DEFAULT_TZ_OFFSET = -18000  # US Eastern standard time, as CORE-005 suggests
DST_OFFSET = 3600


def now() -> int:
    """Current UTC time as a 2030.5 TimeType (whole seconds since the epoch)."""
    return int(time.time())


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
