"""Members CUPID's own examples carry under pre-2018 names, with the IEEE 2030.5-2018 names that replaced them.

CUPID's examples for EndDevice, SelfDevice, AbstractDevice, DERControl(Base), DefaultDERControl,
DERCapability and DERSettings use names of the 2013 draft schema; the 2018 classes have no such field, so
Gson drops them without a word. The harness names each one and the 2018 member(s) meant instead.
"""

from __future__ import annotations

# JSON member (xjc field name) -> the 2018 JSON member(s) that replaced it.
LEGACY_MEMBERS: dict[str, tuple[str, ...]] = {
    "loadShedDeviceCategory": ("deviceCategory",),
    "opModFixedPF": ("opModFixedPFInjectW", "opModFixedPFAbsorbW"),
    "rtgA": ("rtgMaxA",),
    "rtgAh": ("rtgMaxAh",),
    "rtgVA": ("rtgMaxVA",),
    "rtgVar": ("rtgMaxVar",),
    "rtgVarNeg": ("rtgMaxVarNeg",),
    "rtgW": ("rtgMaxW",),
    "rtgWh": ("rtgMaxWh",),
    "rtgMinPF": ("rtgMinPFOverExcited",),
    "rtgMinPFNeg": ("rtgMinPFUnderExcited",),
    "setMinPF": ("setMinPFOverExcited",),
    "setMinPFNeg": ("setMinPFUnderExcited",),
}
