"""A pytest plugin for the parallel run whose DUT dies, loaded with `-p parallel_killer_plugin` under `-n 2`.

In the pytest-xdist workers only: the first worker to finish a case kills the DUT (SIGKILL to
CSIP_TEST_KILL_PID) and waits until its port (CSIP_TEST_KILL_PORT) refuses connections; every case a
worker starts after its own first one waits for that, so each worker's first case meets a live DUT and
every later case a dead one, whichever order the workers run in. Coordination is by files in
CSIP_TEST_KILL_DIR: `claimed` (created exclusively by the killer) and `killed`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from dut_killing import kill_dut

_started: list[str] = []
_finished: list[str] = []


def _in_worker() -> bool:
    return bool(os.environ.get("PYTEST_XDIST_WORKER"))


def _wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"expected {path} within {timeout} s (the DUT's kill), saw none")
        time.sleep(0.02)


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    """Hold every case after this worker's first until the DUT is dead."""
    if not _in_worker():
        return
    _started.append(nodeid)
    if len(_started) > 1:
        _wait_for(Path(os.environ["CSIP_TEST_KILL_DIR"]) / "killed")


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    """The first worker to finish a case kills the DUT."""
    if not _in_worker():
        return
    _finished.append(nodeid)
    if len(_finished) != 1:
        return
    folder = Path(os.environ["CSIP_TEST_KILL_DIR"])
    try:
        os.close(os.open(folder / "claimed", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return  # the other worker is the killer
    kill_dut(int(os.environ["CSIP_TEST_KILL_PID"]), int(os.environ["CSIP_TEST_KILL_PORT"]))
    (folder / "killed").touch()
