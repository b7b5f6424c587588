"""The DER nameplate checks of a client case (CSIP CORE-014 steps 6, 8 and 10, errata 39): a setting against its
rating with the multipliers applied, and the ratings or settings a modesSupported bit makes mandatory.

Each judge fills the step's expected/observed and returns the failure message, or None when the check holds.
Values are the saved views of 2030.5 elements: {multiplier, value} (ActivePower, ReactivePower...), {displacement,
multiplier} (PowerFactor), a HexBinary32 bitmap (DERControlType, modesSupported).
"""

from __future__ import annotations

from typing import Any

from harness.results import StepRecord

# IEEE 2030.5-2018 DERControlType bit positions, for messages.
MODE_NAMES = {
    0: "charge mode", 1: "discharge mode", 2: "opModConnect", 3: "opModEnergize", 4: "opModFixedPFAbsorbW",
    5: "opModFixedPFInjectW", 6: "opModFixedVar", 7: "opModFixedW", 8: "opModFreqDroop", 9: "opModFreqWatt",
    10: "opModHFRTMayTrip", 11: "opModHFRTMustTrip", 12: "opModHVRTMayTrip", 13: "opModHVRTMomentaryCessation",
    14: "opModHVRTMustTrip", 15: "opModLFRTMayTrip", 16: "opModLFRTMustTrip", 17: "opModLVRTMayTrip",
    18: "opModLVRTMomentaryCessation", 19: "opModLVRTMustTrip", 20: "opModMaxLimW", 21: "opModTargetVar",
    22: "opModTargetW", 23: "opModVoltVar", 24: "opModVoltWatt", 25: "opModWattPF", 26: "opModWattVar",
}


def scaled(value: Any) -> float | None:
    """A 2030.5 value with its power-of-ten multiplier ({multiplier, value} or a PowerFactor's {displacement,
    multiplier}) as one number; None when absent or malformed."""
    if not isinstance(value, dict):
        return None
    number = value.get("value", value.get("displacement"))
    if number is None:
        return None
    try:
        return float(number) * 10 ** int(value.get("multiplier", 0))
    except (TypeError, ValueError):
        return None


def judge_bound(spec: dict[str, Any], record: StepRecord, *, above_fails: bool) -> str | None:
    """not_above (above_fails) or not_below: a setting against its rating (their absolute values with
    magnitudes). An absent setting passes unless when_present is false; a present setting needs its rating unless
    needs_rating is false (then nothing to compare)."""
    setting, rating = scaled(spec.get("setting")), scaled(spec.get("rating"))
    relation = "setting <= rating" if above_fails else "setting >= rating"
    if spec.get("magnitudes"):
        # A limit a server may state signed or as a magnitude (rtgMaxVarNeg): compared without its sign.
        setting, rating = (abs(v) if v is not None else None for v in (setting, rating))
        relation = relation.replace("setting", "|setting|").replace("rating", "|rating|")
    record.expected = {relation: True}
    record.observed = {"setting": spec.get("setting"), "rating": spec.get("rating")}
    if setting is None:
        if spec.get("setting") not in (None, "") or not spec.get("when_present", True):
            return f"expected a setting {{multiplier, value}}, saw {spec.get('setting')!r}"
        return None
    if rating is None:
        if spec.get("rating") in (None, "") and not spec.get("needs_rating", True):
            return None
        return f"expected the rating the setting {setting:g} is bounded by, saw {spec.get('rating')!r}"
    if above_fails and setting > rating:
        return (f"expected the setting to be at most its rating {rating:g}, saw {setting:g} (values with their "
                "multipliers applied)")
    if not above_fails and setting < rating:
        return (f"expected the setting to be at least its rating {rating:g}, saw {setting:g} (values with their "
                "multipliers applied)")
    return None


def mode_bit_set(modes: Any, bit: int) -> bool | None:
    """Whether bit is set in a HexBinary32 bitmap (modesSupported); None when the bitmap is not hex."""
    try:
        return bool(int(str(modes), 16) >> bit & 1)
    except ValueError:
        return None


def judge_mode_needs(spec: dict[str, Any], record: StepRecord) -> str | None:
    """mode_needs: when modesSupported has the bit set, every named value is present (errata 39: a rating or
    setting that depends on a mode is mandatory only when that mode's bit is set)."""
    bit = int(spec["bit"])
    mode = MODE_NAMES.get(bit, f"bit {bit}")
    needed = spec["present"]
    record.expected = {"when bit set": f"{bit} ({mode})", "present": sorted(needed)}
    flag = mode_bit_set(spec["modes"], bit)
    record.observed = {"modesSupported": spec["modes"], "bit set": flag,
                       "present": sorted(name for name, value in needed.items() if value not in (None, ""))}
    if flag is None:
        return f"expected modesSupported as a hexadecimal bitmap, saw {spec['modes']!r}"
    if not flag:
        return None
    missing = sorted(name for name, value in needed.items() if value in (None, ""))
    if missing:
        return (f"expected {', '.join(missing)} with modesSupported bit {bit} ({mode}) set "
                f"({spec['modes']}), saw {'it' if len(missing) == 1 else 'them'} absent")
    return None
