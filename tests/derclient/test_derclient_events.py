"""The DER client's event rules (harness.reference.derclient.events), on schedules built by hand.

IEEE 2030.5-2018 §12.1.3: supersession by primacy then creationTime when modes overlap, randomised windows,
server cancellation and supersession, responseRequired bits; DefaultDERControl of the lowest primacy value.
"""

from __future__ import annotations

import random

from harness.reference.derclient import events as ev


def control(mrid: str, *, program: str = "/derp/1", primacy: int = 10, created: int = 0, start: int = 100,
            duration: int = 50, base: dict | None = None, status: int = 0, rr: int = 3, **extra: int) -> ev.Control:
    return ev.Control(mrid=mrid, href=f"{program}/derc/{mrid}", program=program, primacy=primacy,
                      creation_time=created, start=start, duration=duration, current_status=status,
                      response_required=rr, reply_to="/rsps/1/rsp", base=base or {"opModMaxLimW": 1}, **extra)


def statuses(replies: list[ev.Reply]) -> list[tuple[str, int]]:
    return [(r.control.mrid, r.status) for r in replies]


def test_an_event_is_received_started_and_completed_at_its_edges() -> None:
    schedule = ev.Schedule(random.Random(1))
    assert statuses(schedule.update_program("/derp/1", [control("A")], now=10)) == [("A", 1)]
    assert schedule.next_transition(10) == 100
    assert schedule.tick(99) == []
    assert statuses(schedule.tick(100)) == [("A", 2)]
    assert schedule.active_control()["mRID"] == "A"
    assert schedule.next_transition(100) == 150
    assert statuses(schedule.tick(150)) == [("A", 3)]
    assert schedule.active_control()["source"] == "none"


def test_a_lower_primacy_value_supersedes_an_overlapping_event_of_the_same_mode() -> None:
    schedule = ev.Schedule(random.Random(1))
    schedule.update_program("/derp/2", [control("LOW", program="/derp/2", primacy=20)], now=10)
    replies = schedule.update_program("/derp/1", [control("HIGH", primacy=4, start=120)], now=11)
    assert statuses(replies) == [("HIGH", 1), ("LOW", 7)]
    assert statuses(schedule.tick(130)) == [("HIGH", 2)]


def test_events_of_different_modes_run_side_by_side() -> None:
    schedule = ev.Schedule(random.Random(1))
    schedule.update_program("/derp/2", [control("PF", program="/derp/2", primacy=20,
                                                base={"opModFixedPFInjectW": {"displacement": 900}})], now=10)
    replies = schedule.update_program("/derp/1", [control("LIM", primacy=4)], now=11)
    assert statuses(replies) == [("LIM", 1)]
    assert sorted(statuses(schedule.tick(100))) == [("LIM", 2), ("PF", 2)]
    assert schedule.active_control()["mRID"] == "LIM"  # the more important of the two


def test_within_a_program_the_newer_event_supersedes() -> None:
    schedule = ev.Schedule(random.Random(1))
    schedule.update_program("/derp/1", [control("OLD", created=1)], now=10)
    replies = schedule.update_program("/derp/1", [control("OLD", created=1), control("NEW", created=5)], now=12)
    assert statuses(replies) == [("NEW", 1), ("OLD", 7)]


def test_the_applies_lower_primacy_rule_inverts_the_winner() -> None:
    schedule = ev.Schedule(random.Random(1), lower_primacy_wins=True)
    schedule.update_program("/derp/2", [control("LOW", program="/derp/2", primacy=20)], now=10)
    replies = schedule.update_program("/derp/1", [control("HIGH", primacy=4)], now=11)
    assert statuses(replies) == [("HIGH", 1), ("HIGH", 7)]
    schedule.set_default("/derp/1", 4, "D1", {"opModMaxLimW": 1})
    schedule.set_default("/derp/2", 20, "D2", {"opModMaxLimW": 2})
    assert ev.Schedule(random.Random(1)).active_control()["source"] == "none"
    assert schedule.active_control()["mRID"] == "D2"


def test_the_default_of_the_lowest_primacy_value_applies_when_no_event_does() -> None:
    schedule = ev.Schedule(random.Random(1))
    schedule.set_default("/derp/2", 20, "D2", {"opModMaxLimW": 2})
    schedule.set_default("/derp/1", 4, "D1", {"opModMaxLimW": 1})
    assert schedule.active_control() == {"source": "DefaultDERControl", "mRID": "D1", "program": "/derp/1",
                                         "base": {"opModMaxLimW": 1}}


def test_server_cancellation_and_supersession_are_answered_6_and_7() -> None:
    schedule = ev.Schedule(random.Random(1))
    schedule.update_program("/derp/1", [control("A"), control("B", start=300, base={"opModConnect": True})], now=10)
    schedule.tick(100)
    replies = schedule.update_program("/derp/1", [control("A", status=2), control("B", status=4)], now=110)
    assert statuses(replies) == [("A", 6), ("B", 7)]
    assert schedule.tick(1000) == []  # ended: no status 3 after a cancellation


def test_randomised_windows_stay_within_their_bounds_and_the_defect_removes_them() -> None:
    offsets = set()
    for seed in range(40):
        schedule = ev.Schedule(random.Random(seed))
        schedule.update_program("/derp/1", [control("A", randomize_start=60, randomize_duration=-30)], now=0)
        start, end = schedule.events["A"].window
        assert 100 <= start <= 160 and 20 <= end - start <= 50  # a negative randomizeDuration shortens it
        offsets.add((start, end - start))
    assert len({start for start, _ in offsets}) > 5 and len({length for _, length in offsets}) > 5
    plain = ev.Schedule(random.Random(1), randomise=False)
    plain.update_program("/derp/1", [control("A", randomize_start=60)], now=0)
    assert plain.events["A"].window == (100, 150)


def test_response_required_bits_select_the_responses() -> None:
    assert ev.wants(control("A", rr=1), ev.RECEIVED) and not ev.wants(control("A", rr=1), ev.STARTED)
    assert ev.wants(control("A", rr=2), ev.COMPLETED) and not ev.wants(control("A", rr=2), ev.RECEIVED)
    assert not ev.wants(control("A", rr=0), ev.CANCELLED)


def test_an_event_seen_after_it_ended_is_only_acknowledged() -> None:
    schedule = ev.Schedule(random.Random(1))
    assert statuses(schedule.update_program("/derp/1", [control("A")], now=500)) == [("A", 1)]
    assert schedule.tick(501) == []


def test_the_defects_that_break_only_what_is_applied_answer_as_a_conforming_device() -> None:
    # ignores-controls, ignores-default, keeps-ended-control: the same Responses, another control in force.
    for flags, during, after in [({}, "A", "none"), ({"apply_events": False}, "none", "none"),
                                 ({"keep_ended": True}, "A", "A")]:
        schedule = ev.Schedule(random.Random(1), **flags)
        assert statuses(schedule.update_program("/derp/1", [control("A")], now=10)) == [("A", 1)]
        assert statuses(schedule.tick(100)) == [("A", 2)]
        assert schedule.active_control()["mRID" if during != "none" else "source"] == during
        assert statuses(schedule.tick(150)) == [("A", 3)]
        assert schedule.active_control()["mRID" if after != "none" else "source"] == after
    with_default = ev.Schedule(random.Random(1), keep_ended=True)
    with_default.set_default("/derp/1", 10, "D1", {"opModMaxLimW": 9})
    with_default.update_program("/derp/1", [control("A")], now=10)
    with_default.tick(100)
    with_default.tick(150)
    assert with_default.active_control()["mRID"] == "D1"  # keeps-ended-control only where no default applies
    ignoring = ev.Schedule(random.Random(1), apply_defaults=False)
    ignoring.set_default("/derp/1", 10, "D1", {"opModMaxLimW": 9})
    assert ignoring.active_control()["source"] == "none"


def test_keeps_cancelled_answers_6_then_applies_the_event_to_its_end_without_more_responses() -> None:
    schedule = ev.Schedule(random.Random(1), keep_cancelled=True)
    schedule.update_program("/derp/1", [control("A")], now=10)
    schedule.tick(100)
    assert statuses(schedule.update_program("/derp/1", [control("A", status=2)], now=110)) == [("A", 6)]
    assert schedule.update_program("/derp/1", [control("A", status=2)], now=120) == []
    assert schedule.active_control()["mRID"] == "A"
    assert schedule.tick(150) == []
    assert schedule.active_control()["source"] == "none"
