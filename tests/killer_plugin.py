"""A pytest plugin for the interrupted-run tests, loaded with `-p killer_plugin` in a harness subprocess.

After the N-th test case (CSIP_TEST_KILL_AFTER) it kills, with SIGKILL, either the DUT process
(CSIP_TEST_KILL_PID, then waits until CSIP_TEST_KILL_PORT refuses connections, so every later case
meets a dead DUT) or the harness process itself (CSIP_TEST_KILL_PID=self: a crash mid-run).
"""

from __future__ import annotations

import os
import signal

from dut_killing import kill_dut

_finished: list[str] = []


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    """Kill the target once the configured number of cases has finished."""
    _finished.append(nodeid)
    if len(_finished) != int(os.environ["CSIP_TEST_KILL_AFTER"]):
        return
    target = os.environ["CSIP_TEST_KILL_PID"]
    if target == "self":
        os.kill(os.getpid(), signal.SIGKILL)
    kill_dut(int(target), int(os.environ["CSIP_TEST_KILL_PORT"]))
