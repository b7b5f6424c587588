"""The run's clock: the DUT's time from its Time reading and the offset to ours, scaled by --time-scale."""

from __future__ import annotations

import asyncio

import pytest

from harness.engine.clock import PROGRESS_EVERY_S, Clock, ClockNotRead


class FakeTime:
    """A wall clock the test moves; sleeping moves it by the time slept."""

    def __init__(self, start: float) -> None:
        self.value = start
        self.slept: list[float] = []

    def wall(self) -> float:
        return self.value

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.value += seconds


def test_the_dut_time_is_never_early_and_its_bounds_cover_the_uncertainty_of_the_reading() -> None:
    fake = FakeTime(1000.1)
    clock = Clock(wall=fake.wall, sleep=fake.sleep)
    # The DUT's clock is 5000 s ahead of ours; the Time exchange ran from 999.9 to 1000.1.
    clock.observe_time(6000, started=999.9, elapsed=0.2)
    assert clock.dut_now() == pytest.approx(6000)  # at least currentTime when the answer arrived
    fake.value += 30
    assert clock.dut_now() == pytest.approx(6030)
    # During an exchange from 1030.1 to 1030.3 the DUT's clock read between 6030 and 6030.4 + 1 (truncation).
    earliest, latest = clock.dut_between(1030.1, 1030.3)
    assert earliest == pytest.approx(6030) and latest == pytest.approx(6031.4)


def test_with_a_time_scale_the_dut_clock_runs_faster_and_our_expectation_of_it_too() -> None:
    fake = FakeTime(1000.0)
    clock = Clock(0.01, origin=900.0, wall=fake.wall, sleep=fake.sleep)
    assert clock.now() == pytest.approx(900 + 100 / 0.01)
    clock.observe_time(20000, started=1000.0, elapsed=0.0)
    fake.value += 1.5  # 1.5 s of ours are 150 s of the DUT's
    assert clock.dut_now() == pytest.approx(20150)
    assert clock.real_seconds(120) == pytest.approx(1.2)


def test_the_dut_time_before_any_time_was_read_is_an_error_saying_what_to_do() -> None:
    with pytest.raises(ClockNotRead, match="must GET the DUT's Time"):
        Clock().dut_now()


@pytest.mark.parametrize("scale", [0, -1, 1.5])
def test_a_time_scale_outside_0_to_1_is_refused(scale: float) -> None:
    with pytest.raises(ValueError, match="0 < F <= 1"):
        Clock(scale)


def test_a_wait_sleeps_until_the_dut_clock_reads_the_target_and_reports_what_is_left() -> None:
    fake = FakeTime(1000.0)
    clock = Clock(0.5, wall=fake.wall, sleep=fake.sleep)
    clock.observe_time(5000, started=1000.0, elapsed=0.0)
    reports: list[float] = []
    waited = asyncio.run(clock.wait_until(5060, reports.append))
    # 60 s of the DUT's at scale 0.5: 30 s of ours, said again every PROGRESS_EVERY_S real seconds.
    assert waited == pytest.approx(30.0)
    assert clock.dut_now() >= 5060
    assert reports[0] == pytest.approx(60.0)
    assert all(s <= PROGRESS_EVERY_S for s in fake.slept)
    assert len(reports) == len(fake.slept) >= 3


def test_a_target_already_passed_does_not_wait() -> None:
    fake = FakeTime(1000.0)
    clock = Clock(wall=fake.wall, sleep=fake.sleep)
    clock.observe_time(5000, started=1000.0, elapsed=0.0)
    reports: list[float] = []
    assert asyncio.run(clock.wait_until(4990, reports.append)) == 0
    assert reports == [] and fake.slept == []
