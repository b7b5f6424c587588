"""A pytest plugin that interrupts the run after its first case, as Ctrl-C would: `-p interrupt_plugin`."""

from __future__ import annotations

_finished: list[str] = []


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    """Raise KeyboardInterrupt once the first case has finished."""
    _finished.append(nodeid)
    if len(_finished) == 1:
        raise KeyboardInterrupt
