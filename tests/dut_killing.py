"""Killing the DUT mid-run, for the plugins that interrupt a harness run (killer_plugin, parallel_killer_plugin):
they are loaded with `-p` in a harness subprocess whose PYTHONPATH holds this folder."""

from __future__ import annotations

import os
import signal
import socket
import time


def kill_dut(pid: int, port: int, timeout: float = 20.0) -> None:
    """SIGKILL process `pid` and return once 127.0.0.1:`port` refuses connections, so every later case meets a
    dead DUT; raise RuntimeError if the port still accepts after `timeout` seconds."""
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return
        time.sleep(0.05)
    raise RuntimeError(f"expected port {port} to refuse connections after SIGKILL, saw it still accepting")
