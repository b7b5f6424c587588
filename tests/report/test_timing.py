"""The split of a run's time between the DUT, DUT-side actions and the harness, from the records alone."""

from __future__ import annotations

from harness.report.timing import time_split


def _test(duration: float, exchanges: list[float], actions: list[float], waited: float = 0.0) -> dict:
    return {
        "duration_s": duration,
        "actions": [{"name": "a", "duration_s": d} for d in actions],
        "steps": [{"exchanges": [{"elapsed_s": e} for e in exchanges], "observed": {"waited_s": waited},
                   "actions": [{"name": "a", "duration_s": d} for d in actions]}],
    }


def test_split_counts_each_part_once() -> None:
    split = time_split([_test(1.0, [0.2, 0.3], [0.1]), _test(2.0, [0.5], [], waited=1.0)], wall_s=3.5)
    assert split.tests == 2
    assert split.tests_s == 3.0
    assert round(split.dut_s, 6) == 1.0
    assert split.actions_s == 0.1  # the step's action is also on its test: counted once
    assert split.waits_s == 1.0
    assert round(split.harness_s, 6) == 0.9
    line = split.line()
    assert line.startswith("2 test(s) took 3.00 s, 3.50 s wall: waiting on the DUT 1.00 s (33%)")
    assert "DUT-side actions 0.10 s (3%)" in line and "harness 0.90 s (30%)" in line
    assert split.to_dict()["harness_s"] == 0.9


def test_split_of_no_tests_and_of_odd_records() -> None:
    assert time_split([]).line() == "0 test(s) took 0.00 s: waiting on the DUT 0.00 s, harness 0.00 s"
    # A test that never reached the DUT (load error) has no steps; a broken figure counts as nothing.
    split = time_split([{"duration_s": None, "steps": None}, {"duration_s": "x", "steps": [{"exchanges": None}]}])
    assert (split.tests, split.tests_s, split.harness_s) == (2, 0.0, 0.0)
