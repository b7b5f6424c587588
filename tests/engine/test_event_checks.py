"""2030.5 relations of event resources: EventStatus against the interval and the DUT's time; DERControlList order."""

from __future__ import annotations

from typing import Any

import pytest

from harness.engine.events import event_status_mismatches, list_order_mismatches

START, DURATION = 10_000, 60


def event(status: int, *, start: int = START, duration: int = DURATION, since: int = 9_000, created: int = 9_000,
          mrid: str = "A1", **extra: Any) -> dict[str, Any]:
    return {"mRID": mrid, "creationTime": str(created), "interval": {"start": str(start), "duration": str(duration)},
            "EventStatus": {"currentStatus": str(status), "dateTime": str(since)}, **extra}


@pytest.mark.parametrize(("status", "at"), [
    (0, START - 60), (1, START + 5), (1, START + DURATION - 1),
    (2, START - 60), (2, START + 5), (2, START + DURATION + 100), (4, START + 5),
    (0, START + 1), (1, START - 1), (1, START + DURATION + 1),  # within the 2 s tolerance of a boundary
])
def test_statuses_2030_5_allows(status: int, at: int) -> None:
    assert event_status_mismatches(event(status), at, 2) == []


@pytest.mark.parametrize(("status", "at", "phase"), [
    (1, START - 60, "before its effective start"),
    (0, START + 5, "within its effective window"),
    (0, START + DURATION + 30, "after its effective end"),
])
def test_statuses_that_contradict_the_interval_fail_naming_the_rule(status: int, at: int, phase: str) -> None:
    [mismatch] = event_status_mismatches(event(status), at, 2)
    assert mismatch.path == "resource.EventStatus.currentStatus"
    assert phase in mismatch.expected and "IEEE 2030.5 EventStatus" in mismatch.expected


def test_an_ended_event_still_active_is_advised_against_never_failed() -> None:
    # 2030.5 has no "completed" status and no SHALL that the server change it once the event has ended.
    ended = START + DURATION + 30
    assert event_status_mismatches(event(1), ended, 2) == []
    [advice] = event_status_mismatches(event(1), ended, 2, advised=True)
    assert advice.path == "resource.EventStatus.currentStatus" and advice.seen == "1 Active"
    assert "after its effective end" in advice.expected and "no completed status" in advice.expected
    # Within the window, or within the tolerance of its end, Active is what 2030.5 expects.
    assert event_status_mismatches(event(1), START + 5, 2, advised=True) == []
    assert event_status_mismatches(event(1), START + DURATION + 1, 2, advised=True) == []
    # What 2030.5 forbids is a failure, not advice: Scheduled after the start.
    assert event_status_mismatches(event(0), ended, 2, advised=True) == []


def test_randomization_widens_the_window() -> None:
    early = event(1, randomizeStart="-30")
    assert event_status_mismatches(early, START - 20, 0) == []
    longer = event(1, randomizeDuration="30")
    assert event_status_mismatches(longer, START + DURATION + 20, 0) == []


def test_a_status_date_in_the_future_fails() -> None:
    [mismatch] = event_status_mismatches(event(0, since=START - 10), START - 60, 2)
    assert mismatch.path == "resource.EventStatus.dateTime"


def test_every_item_of_a_list_is_judged_with_its_path() -> None:
    listed = {"all": "2", "results": "2", "DERControl": [event(2), event(1, start=START + 500, mrid="B2")]}
    assert event_status_mismatches(listed, START + 505, 2) == []
    [mismatch] = event_status_mismatches(listed, START + 5, 2)
    assert mismatch.path == "resource.DERControl[1].EventStatus.currentStatus"


def test_a_reserved_status_is_not_judged_here() -> None:
    assert event_status_mismatches(event(9), START + 5, 2) == []


def test_dercontrol_list_order_start_ascending_then_creation_and_mrid_descending() -> None:
    ordered = [event(0, start=100, created=5, mrid="01"), event(0, start=200, created=9, mrid="01"),
               event(0, start=200, created=7, mrid="FF"), event(0, start=200, created=7, mrid="0A")]
    assert list_order_mismatches({"DERControl": ordered}, "DERControlList") == []
    [mismatch] = list_order_mismatches({"DERControl": [ordered[1], ordered[0]]}, "DERControlList")
    assert mismatch.path == "resource.DERControl[1]" and "interval.start ascending" in mismatch.expected
    # Start-time ties: the later-created event comes first (the dercontrol-list-wrong-order defect breaks this).
    [tie] = list_order_mismatches({"DERControl": [ordered[2], ordered[1]]}, "DERControlList")
    assert "creationTime 9" in tie.seen


def test_a_range_of_dut_times_accepts_what_any_instant_of_it_allows() -> None:
    # The DUT answered while its clock read somewhere from 2 s before the start to 3 s after it.
    assert event_status_mismatches(event(0), (START - 2, START + 3), 0) == []
    assert event_status_mismatches(event(1), (START - 2, START + 3), 0) == []
    [mismatch] = event_status_mismatches(event(1), (START - 20, START - 5), 2)
    assert "at the DUT's time 9980 to 9995" in mismatch.expected
