"""CORE-014's nameplate checks (harness.engine.rating_checks) on saved 2030.5 values: settings against ratings
with multipliers, magnitudes for signed limits, and what a modesSupported bit makes mandatory (errata 39)."""

from __future__ import annotations

import pytest

from harness.engine.rating_checks import judge_bound, judge_mode_needs, mode_bit_set, scaled
from harness.results import StepRecord


def record() -> StepRecord:
    return StepRecord(index=1, name="check", verdict="passed")


def test_a_quantity_is_its_value_or_displacement_times_its_multiplier() -> None:
    assert scaled({"value": "680", "multiplier": "1"}) == 6800
    assert scaled({"displacement": "850", "multiplier": "-3"}) == pytest.approx(0.85)
    assert scaled(None) is None and scaled({"multiplier": "1"}) is None and scaled({"value": "x"}) is None


@pytest.mark.parametrize(("spec", "above_fails", "problem"), [
    ({"setting": {"value": "500", "multiplier": "1"}, "rating": {"value": "5000"}}, True, None),
    ({"setting": {"value": "501", "multiplier": "1"}, "rating": {"value": "5000"}}, True, "at most its rating 5000"),
    ({"setting": None, "rating": {"value": "5000"}}, True, None),
    ({"setting": None, "rating": None, "when_present": False}, True, "expected a setting"),
    ({"setting": {"value": "5"}, "rating": None}, True, "expected the rating"),
    ({"setting": {"value": "5"}, "rating": None, "needs_rating": False}, True, None),
    ({"setting": {"displacement": "800", "multiplier": "-3"}, "rating": {"displacement": "850", "multiplier": "-3"}},
     False, "at least its rating 0.85, saw 0.8"),
    ({"setting": {"value": "-2000"}, "rating": {"value": "-3000"}, "magnitudes": True}, True, None),
    ({"setting": {"value": "2000"}, "rating": {"value": "3000"}, "magnitudes": True}, True, None),
    ({"setting": {"value": "-4000"}, "rating": {"value": "3000"}, "magnitudes": True}, True, "at most its rating"),
])
def test_a_setting_is_bounded_by_its_rating(spec: dict, above_fails: bool, problem: str | None) -> None:
    found = judge_bound(spec, record(), above_fails=above_fails)
    assert (found is None) if problem is None else (found is not None and problem in found), found


def test_a_mode_bit_makes_its_values_mandatory_only_when_set() -> None:
    assert mode_bit_set("00100020", 20) is True and mode_bit_set("00100020", 6) is False
    assert mode_bit_set("zz", 1) is None
    rec = record()
    problem = judge_mode_needs({"modes": "00000040", "bit": 6, "present": {"rtgMaxVar": None}}, rec)
    assert problem == ("expected rtgMaxVar with modesSupported bit 6 (opModFixedVar) set (00000040), saw it absent")
    assert rec.observed["bit set"] is True
    assert judge_mode_needs({"modes": "00000000", "bit": 6, "present": {"rtgMaxVar": None}}, record()) is None
    assert judge_mode_needs({"modes": "00100000", "bit": 20, "present": {"setMaxW": {"value": "1"}}}, record()) is None
    assert "hexadecimal bitmap" in judge_mode_needs({"modes": "nope", "bit": 1, "present": {"x": None}}, record())
