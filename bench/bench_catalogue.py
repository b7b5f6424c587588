"""The whole server catalogue against the reference server in fast mode: wall time, time split, peak RSS.

Runs `csip-harness run --reference --time-scale 0.01` over every case under testcases/server as a fresh
subprocess (the way a user runs it), samples the peak resident set (VmHWM) of the harness process and of
every process it starts (the reference server) from /proc while it runs, and reads the split between DUT
waiting and harness time from the run's results.json. The baseline, measured in the same run, is the same
command over one case (CORE-005): the fixed cost of a run (interpreter, imports, PKI, server start), so the
catalogue's cost per case beyond it is visible.

Run: .venv/bin/python bench/bench_catalogue.py [--workers N] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TARGET_WALL_S = 180.0
TARGET_RSS_MB = 200.0
BASELINE_CASE = "CORE-005"


def _children(pid: int) -> list[int]:
    """Every descendant of pid, from /proc (Linux)."""
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                text = Path(f"/proc/{parent}/task/{task}/children").read_text()
            except OSError:
                continue
            for child in text.split():
                found.append(int(child))
                frontier.append(int(child))
    return found


def _hwm_kib(pid: int) -> int | None:
    """The process's peak resident set so far (VmHWM, KiB), or None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


class PeakSampler(threading.Thread):
    """Polls the process tree every 50 ms and keeps each process's last-seen VmHWM (a peak, so it only grows)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peaks: dict[int, tuple[int, str]] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for pid in [self.pid, *_children(self.pid)]:
                hwm = _hwm_kib(pid)
                if hwm is not None:
                    label = self.peaks.get(pid, (0, ""))[1] or _cmdline(pid)
                    self.peaks[pid] = (max(hwm, self.peaks.get(pid, (0, ""))[0]), label)
            self.done.wait(0.05)


def run_once(cases: Path, workers: int, out: Path) -> dict:
    """One `csip-harness run --reference` over the cases; wall seconds, peaks (MiB by role), the time split."""
    cli = Path(sys.executable).with_name("csip-harness")
    command = [str(cli), "run", "--reference", "--time-scale", "0.01", "--out", str(out)]
    command += ["--cases", str(cases)]
    if workers > 1:
        command += ["--", "-n", str(workers)]  # pytest-xdist's option, after `--` as csip-harness run takes it
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = PeakSampler(process.pid)
    sampler.start()
    output, _ = process.communicate()
    wall = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    if process.returncode not in (0, 1):
        raise SystemExit(f"csip-harness run exited {process.returncode}:\n{output[-3000:]}")
    results = json.loads((out / "results.json").read_text())
    verdicts: dict[str, int] = {}
    for test in results["tests"]:
        verdicts[test["verdict"]] = verdicts.get(test["verdict"], 0) + 1
    server_kib = max((kib for kib, label in sampler.peaks.values() if "harness.reference" in label), default=0)
    harness_kib = sampler.peaks.get(process.pid, (0, ""))[0]
    workers_kib = max((kib for pid, (kib, label) in sampler.peaks.items()
                       if pid != process.pid and "harness.reference" not in label), default=0)
    return {"wall_s": wall, "timing": results["run"].get("timing", {}), "verdicts": verdicts,
            "harness_mib": harness_kib / 1024, "server_mib": server_kib / 1024, "worker_mib": workers_kib / 1024,
            "tests": len(results["tests"])}


def main(argv: list[str] | None = None) -> int:
    """Run the baseline and the catalogue; print the figures and one SUMMARY line per target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1, help="pytest-xdist workers (-n); 1 runs in-process")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    server_cases = root / "testcases" / "server"
    catalogue = sorted(path.stem for path in server_cases.glob("*.yaml"))
    baselines, runs = [], []
    with tempfile.TemporaryDirectory(prefix="bench-catalogue-") as tmp:
        for index in range(args.rounds):
            baselines.append(run_once(server_cases / f"{BASELINE_CASE}.yaml", 1, Path(tmp) / f"base-{index}"))
            runs.append(run_once(server_cases, args.workers, Path(tmp) / f"all-{index}"))
    base = statistics.median(r["wall_s"] for r in baselines)
    wall = statistics.median(r["wall_s"] for r in runs)
    last = runs[-1]
    timing = last["timing"]
    print(f"cases: {len(catalogue)} ({last['tests']} tests ran), verdicts {last['verdicts']}")
    print(f"baseline (one case, {BASELINE_CASE}): {base:.2f} s wall")
    print(f"catalogue: {wall:.2f} s wall = {wall / base:.1f}x the baseline, "
          f"{(wall - base) / max(1, len(catalogue) - 1):.2f} s per further case")
    if timing:
        tests_s = timing.get("tests_s") or 0.0
        waited = timing.get("dut_s", 0) + timing.get("waits_s", 0)
        print(f"split of the tests' {tests_s:.2f} s: DUT {timing.get('dut_s', 0):.2f} s, "
              f"clock waits {timing.get('waits_s', 0):.2f} s, actions {timing.get('actions_s', 0):.2f} s, "
              f"harness {timing.get('harness_s', 0):.2f} s "
              f"(harness / DUT+waits = {timing.get('harness_s', 0) / max(1e-9, waited):.2f}x)")
    print(f"peak RSS: harness process {last['harness_mib']:.0f} MiB, xdist worker {last['worker_mib']:.0f} MiB, "
          f"reference server {last['server_mib']:.0f} MiB")
    peak = max(last["harness_mib"], last["worker_mib"])
    print(f"SUMMARY catalogue wall {wall:.1f} s with -n {args.workers} "
          f"({'meets' if wall <= TARGET_WALL_S else 'MISSES'} target <= {TARGET_WALL_S:.0f} s)")
    print(f"SUMMARY catalogue peak-rss harness {peak:.0f} MiB "
          f"({'meets' if peak <= TARGET_RSS_MB else 'MISSES'} target <= {TARGET_RSS_MB:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
