"""What the fleet benches (bench_der_client.py, bench_test_server.py) read off their processes: peak RSS, CPU
seconds, and the reference DER client's /stats once every device has walked. Not a bench itself."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import httpx


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, s (/proc/PID/stat utime and stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_walked(admin_url: str, size: int, timeout: float) -> dict[str, Any]:
    """The DER client's /stats (its admin listener at admin_url) once `discovered` reaches size, polled every
    0.5 s; the last seen when timeout seconds pass first ({} when none was read)."""
    deadline = time.monotonic() + timeout
    stats: dict[str, Any] = {}
    while time.monotonic() < deadline:
        stats = httpx.get(admin_url + "/stats", timeout=60).json()
        if stats["discovered"] >= size:
            break
        time.sleep(0.5)
    return stats
