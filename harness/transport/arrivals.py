"""What a listener has received so far, and waiting for the next arrival on a path (HTTPS and NATS listeners).

A mixin over two attributes the listener owns: ``received`` (its arrivals in order, each with ``seq`` from 1 and
``path``) and ``_arrived`` (an asyncio.Condition made in start(), notified on every arrival).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class Arrival(Protocol):
    """One thing received: its sequence number (from 1) and the path it came for."""

    seq: int
    path: str


A = TypeVar("A", bound=Arrival)


class ArrivalLog(Generic[A]):
    """after() and wait_for() over the listener's ``received`` list; _announce() wakes the waiters."""

    received: list[A]
    _arrived: asyncio.Condition | None

    def after(self, path: str, seq: int) -> A | None:
        """The first arrival on path with a sequence number above seq, if one has arrived."""
        return next((r for r in self.received if r.seq > seq and r.path == path), None)

    async def wait_for(self, path: str, seq: int, timeout: float,
                       tick: Callable[[float], None] | None = None) -> A | None:
        """The first arrival on path after seq, waiting at most timeout seconds (None when none came).

        tick, when given, hears the seconds left about every five seconds while it waits.
        """
        assert self._arrived is not None, "start() first"
        deadline = time.monotonic() + timeout
        while True:
            found = self.after(path, seq)
            if found is not None:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if tick is not None:
                tick(left)
            async with self._arrived:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), min(left, 5.0))

    async def _announce(self) -> None:
        """Wake every wait_for() (after an arrival was appended to received)."""
        if self._arrived is not None:
            async with self._arrived:
                self._arrived.notify_all()
