"""Where a run's time went: waiting on the DUT, DUT-side actions, and the harness itself.

A vendor whose suite is slow needs to know whether to look at the device or at the harness. The figures
come from the records alone (results.json), so a re-rendered report or a merged parallel run gives the same
split as the run itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class TimeSplit:
    """Seconds spent, summed over the tests of a run.

    tests_s: the tests' own durations (run_case from start to verdict); dut_s: inside exchanges, from the
    request's first byte to the response's last (network, TLS and the DUT's processing); actions_s: DUT-side
    actions (setup and action steps: the vendor's admin API, commands, operator prompts); waits_s: steps that
    waited on the DUT's clock (an event window); harness_s: the rest of tests_s (building requests, parsing,
    schema, checks, evidence). wall_s is the run's wall time when known; under parallel workers the tests'
    sum may exceed it.
    """

    tests: int
    tests_s: float
    dut_s: float
    actions_s: float
    waits_s: float
    harness_s: float
    wall_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures, rounded to milliseconds."""
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def line(self) -> str:
        """One line for the terminal: the split with each part's share of the tests' time."""

        def share(value: float) -> str:
            return f"{value:.2f} s ({value / self.tests_s:.0%})" if self.tests_s > 0 else f"{value:.2f} s"

        parts = [f"waiting on the DUT {share(self.dut_s)}"]
        if self.actions_s:
            parts.append(f"DUT-side actions {share(self.actions_s)}")
        if self.waits_s:
            parts.append(f"waiting on the DUT's clock {share(self.waits_s)}")
        parts.append(f"harness {share(self.harness_s)}")
        wall = f", {self.wall_s:.2f} s wall" if self.wall_s is not None else ""
        return f"{self.tests} test(s) took {self.tests_s:.2f} s{wall}: " + ", ".join(parts)


def _number(value: Any) -> float:
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0


def test_times(test: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """One test's seconds (results.json `tests` entry): its duration, in exchanges, in actions, waiting on the clock.

    A test's `actions` hold its setup actions and those of its action steps (each once); a wait step's
    `observed.waited_s` is time spent waiting on the DUT's clock.
    """
    actions_s = sum(_number(a.get("duration_s")) for a in test.get("actions") or ())
    dut_s = waits_s = 0.0
    for step in test.get("steps") or ():
        dut_s += sum(_number(e.get("elapsed_s")) for e in step.get("exchanges") or ())
        waits_s += _number(step.get("waited_s") or (step.get("observed") or {}).get("waited_s"))
    return _number(test.get("duration_s")), dut_s, actions_s, waits_s


def split_of(times: Iterable[tuple[float, float, float, float]], wall_s: float | None = None) -> TimeSplit:
    """The split of a run's time from each test's test_times(), so a writer need not keep the tests themselves."""
    count = 0
    tests_s = dut_s = actions_s = waits_s = 0.0
    for test_s, test_dut_s, test_actions_s, test_waits_s in times:
        count += 1
        tests_s += test_s
        dut_s += test_dut_s
        actions_s += test_actions_s
        waits_s += test_waits_s
    harness_s = max(0.0, tests_s - dut_s - actions_s - waits_s)
    return TimeSplit(count, tests_s, dut_s, actions_s, waits_s, harness_s, wall_s)


def time_split(tests: Iterable[Mapping[str, Any]], wall_s: float | None = None) -> TimeSplit:
    """The split of the tests' time (results.json `tests` entries, format 2 or 3); see test_times."""
    return split_of((test_times(test) for test in tests), wall_s)
