"""Another rendering of the same 2030.5 quantity: the reference server's `power-factor-rescaled` variation.

A PowerFactorWithExcitation (IEEE 2030.5-2018 §10.10, DERControlBase opModFixedPFInjectW / opModFixedPFAbsorbW)
states its power factor as displacement x 10^multiplier, so 0.9 is 900 x 10^-3 as well as 90 x 10^-2. A server
that stores what it was given may serve it in either form; the cases must judge the quantity, never the pair.
"""

from __future__ import annotations

from lxml import etree

POWER_FACTOR_MODES = ("opModFixedPFAbsorbW", "opModFixedPFInjectW")
# displacement is a UInt16 and multiplier a PowerOfTenMultiplierType (-9 .. 9).
_DISPLACEMENT_MAX = 65535


def rescale_power_factors(base: etree._Element) -> None:
    """Rewrite, in place, each power factor of a DERControlBase to the same quantity in another encoding:
    one power of ten coarser where the displacement is a multiple of 10 (900 x 10^-3 -> 90 x 10^-2), else one
    finer (905 x 10^-3 -> 9050 x 10^-4). A power factor that fits neither is left as it is."""
    for mode in base:
        if etree.QName(mode).localname not in POWER_FACTOR_MODES:
            continue
        displacement, multiplier = _child(mode, "displacement"), _child(mode, "multiplier")
        if displacement is None or multiplier is None:
            continue
        try:
            digits, power = int(str(displacement.text).strip()), int(str(multiplier.text).strip())
        except ValueError:
            continue
        if digits and digits % 10 == 0 and power < 9:
            digits, power = digits // 10, power + 1
        elif digits * 10 <= _DISPLACEMENT_MAX and power > -9:
            digits, power = digits * 10, power - 1
        else:
            continue
        displacement.text, multiplier.text = str(digits), str(power)


def _child(parent: etree._Element, name: str) -> etree._Element | None:
    return next((child for child in parent if etree.QName(child).localname == name), None)
