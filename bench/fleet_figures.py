"""What the fleet benches (bench_der_client.py, bench_test_server.py) read off their processes: peak RSS, CPU
seconds, and the reference DER client's /stats once every device has walked; their shared --sizes/--timeout
options and the fleet sizes run each in a scratch folder. Not a bench itself."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
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


def fleet_parser(description: str) -> argparse.ArgumentParser:
    """The fleet benches' command line: --sizes (comma-separated, the first the baseline) and --timeout (s)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sizes", default="1,100,1000", help="fleet sizes, comma-separated; the first is the baseline")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for a fleet's first walk")
    return parser


def run_fleets(sizes: str, prefix: str, measure: Callable[[int, Path], dict[str, Any]],
               describe: Callable[[dict[str, Any]], str]) -> list[dict[str, Any]]:
    """measure(size, scratch folder) for each fleet size of sizes ("1,100,1000"), printing describe(row) after
    each; the rows, the baseline first. The scratch folder (named prefix...) is one for the run, removed after."""
    rows = []
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        for size in (int(s) for s in sizes.split(",")):
            rows.append(measure(size, Path(folder)))
            print(describe(rows[-1]), flush=True)
    return rows
