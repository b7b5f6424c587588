"""A device's clock: the server's time as learnt from its Time resource, run 1/F times as fast by --time-scale.

IEEE 2030.5 §6.4 (Time function set): a client keeps the server's time, so every TimeType it sends
(createdDateTime, readingTime) and every event instant it acts on is read on the server's clock (CSIP
CORE-005). Until the first Time read the device counts from the process's start on its own clock.
"""

from __future__ import annotations

import asyncio
import time


class DeviceClock:
    """Device time in TimeType seconds; scale F (0 < F <= 1) makes one real second 1/F device seconds."""

    def __init__(self, scale: float = 1.0, *, follow_server: bool = True) -> None:
        if not 0 < scale <= 1:
            raise ValueError(f"expected a time scale F with 0 < F <= 1, saw {scale}")
        self.scale = scale
        self.follow_server = follow_server
        self._base_device = time.time()
        self._base_real = time.monotonic()
        self.synchronised = False

    def now(self) -> float:
        """The device's current time, seconds since the epoch on the server's (scaled) clock."""
        return self._base_device + (time.monotonic() - self._base_real) / self.scale

    def timestamp(self) -> int:
        """now() as a TimeType (whole seconds)."""
        return int(self.now())

    def set_server_time(self, current_time: int) -> None:
        """Take the server's Time.currentTime, read just now (ignored by a device that keeps its own clock)."""
        self.synchronised = True
        if self.follow_server:
            # currentTime is truncated to the second: the server's instant lies in [t, t + 1).
            self._base_device, self._base_real = current_time + 0.5, time.monotonic()

    def real_delay(self, device_seconds: float) -> float:
        """The real seconds that device_seconds of device time take."""
        return max(0.0, device_seconds * self.scale)

    async def sleep(self, device_seconds: float) -> None:
        """Sleep device_seconds of device time."""
        await asyncio.sleep(self.real_delay(device_seconds))
