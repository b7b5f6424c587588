"""The DER client's side of the wire: reading the server's resources and building what it PUTs and POSTs.

Bodies follow IEEE 2030.5-2018 (children in the schema's sequence order) or, with edition "2.2", the newer
edition's shape: the root carries schemaVer="2.2", DERStatus reports connectStatus (ConnectStatusType2) where
2018 has genConnectStatus (deprecated in 2.2), and DERControlResponse carries modesResponded (the DERControl
modes it answers for, a DERControlType bitmap), an element 2018 does not define. Those facts are read from
the 2.2 schema's annotations; nothing else of 2.2 is emitted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lxml import etree

from harness.sep import NS
from harness.sep.safexml import parse_xml

Q = f"{{{NS}}}"
EDITIONS = ("2018", "2.2")
# DERControlType bits (2030.5-2018 §E DERControlType / modesSupported): the DERControlBase modes by bit.
MODE_BITS: dict[str, int] = {
    "opModConnect": 2, "opModEnergize": 3, "opModFixedPFAbsorbW": 4, "opModFixedPFInjectW": 5, "opModFixedVar": 6,
    "opModFixedW": 7, "opModFreqDroop": 8, "opModFreqWatt": 9, "opModHFRTMayTrip": 10, "opModHFRTMustTrip": 11,
    "opModHVRTMayTrip": 12, "opModHVRTMomentaryCessation": 13, "opModHVRTMustTrip": 14, "opModLFRTMayTrip": 15,
    "opModLFRTMustTrip": 16, "opModLVRTMayTrip": 17, "opModLVRTMomentaryCessation": 18, "opModLVRTMustTrip": 19,
    "opModMaxLimW": 20, "opModTargetVar": 21, "opModTargetW": 22, "opModVoltVar": 23, "opModVoltWatt": 24,
    "opModWattPF": 25, "opModWattVar": 26,
}
# What this DER can do: connect/disconnect, a fixed power factor, an active-power limit and volt-var.
SUPPORTED_MODES = ("opModConnect", "opModFixedPFInjectW", "opModMaxLimW", "opModVoltVar")
RATED_W = 5000
RATED_VA = 5000
LOG_EVENT_PEN = 37244  # the IEEE 2030.5 private enterprise number of LogEvents it defines
LOG_PROFILE_ID = 2  # profileID 2: IEEE 2030.5
LE_GEN_SOFTWARE = 1  # Table 34 General Log Events (functionSet 0)


class WireError(ValueError):
    """A server body the device cannot use: the message says what was expected and what was seen."""


def parse(body: bytes, expected: str | tuple[str, ...]) -> etree._Element:
    """The root of a 2030.5 body, checked to be (one of) the expected resource(s); WireError otherwise."""
    try:
        root = parse_xml(body)
    except ValueError as exc:
        raise WireError(str(exc)) from None
    names = (expected,) if isinstance(expected, str) else expected
    name = etree.QName(root).localname
    if etree.QName(root).namespace != NS or name not in names:
        raise WireError(f"expected a {' or '.join(names)} in the 2030.5 namespace, saw {root.tag}")
    return root


def child(root: etree._Element, name: str) -> etree._Element | None:
    """The first child called name (2030.5 namespace), if any."""
    return root.find(Q + name)


def text(root: etree._Element, name: str, default: str = "") -> str:
    """The stripped text of the first child called name, or default."""
    found = root.find(Q + name)
    return (found.text or "").strip() if found is not None else default


def integer(root: etree._Element, name: str, default: int | None = None) -> int | None:
    """The integer value of a child, or default when absent or not an integer."""
    value = text(root, name)
    try:
        return int(value)
    except ValueError:
        return default


def link(root: etree._Element, name: str) -> str | None:
    """The href of a Link/ListLink child, if present."""
    found = root.find(Q + name)
    return found.get("href") if found is not None else None


def poll_rate(root: etree._Element) -> int | None:
    """The pollRate attribute (seconds), if present and valid."""
    value = root.get("pollRate")
    return int(value) if value is not None and value.isdigit() else None


def items(root: etree._Element, name: str) -> list[etree._Element]:
    """The children called name, in list order."""
    return root.findall(Q + name)


def base_values(element: etree._Element | None) -> dict[str, object]:
    """A DERControlBase as {mode: value}: a number or bool for a simple value, a mapping for a structured one
    (e.g. {"displacement": 900, "multiplier": -3}), {"href": ...} for a curve link."""
    if element is None:
        return {}
    return {etree.QName(c).localname: _value(c) for c in element if isinstance(c.tag, str)}


def _value(element: etree._Element) -> object:
    kids = [c for c in element if isinstance(c.tag, str)]
    if kids or element.get("href") is not None:
        nested: dict[str, object] = {etree.QName(c).localname: _value(c) for c in kids}
        if element.get("href") is not None:
            nested["href"] = element.get("href")
        return nested
    raw = (element.text or "").strip()
    if raw in ("true", "false"):
        return raw == "true"
    try:
        return int(raw)
    except ValueError:
        return raw


def modes_bitmap(modes: Iterable[str]) -> str:
    """A DERControlType (HexBinary32) with the bit of each named mode set."""
    value = 0
    for mode in modes:
        if mode in MODE_BITS:
            value |= 1 << MODE_BITS[mode]
    return f"{value:08X}"


# --- building bodies -------------------------------------------------------------------------------


def _el(tag: str, *kids: etree._Element | None, value: object = None, **attrs: object) -> etree._Element:
    element = etree.Element(Q + tag, nsmap={None: NS})
    for key, item in attrs.items():
        if item is not None:
            element.set(key, str(item))
    if value is not None:
        element.text = str(value).lower() if isinstance(value, bool) else str(value)
    for kid in kids:
        if kid is not None:
            element.append(kid)
    return element


def _amount(tag: str, value: int, multiplier: int = 0) -> etree._Element:
    return _el(tag, _el("multiplier", value=multiplier), _el("value", value=value))


def _pf(tag: str, displacement: int, multiplier: int = -3) -> etree._Element:
    return _el(tag, _el("displacement", value=displacement), _el("multiplier", value=multiplier))


def _root(element: etree._Element, edition: str) -> bytes:
    if edition == "2.2":
        element.set("schemaVer", "2.2")
    return etree.tostring(element, encoding="UTF-8")


@dataclass(frozen=True)
class Settings:
    """The DER's nameplate and settings (W, VA, power factor in thousandths)."""

    rtg_max_w: int = RATED_W
    set_max_w: int = RATED_W
    set_grad_w: int = 100  # hundredths of a percent per second of setMaxW
    modes: tuple[str, ...] = SUPPORTED_MODES  # what DERCapability's modesSupported declares
    set_min_pf_over: int = 850  # setMinPFOverExcited displacement, thousandths (rated 850)

    def with_value(self, name: str, value: object) -> Settings:
        """These settings with one DERSettings element changed (setMaxW, setGradW); ValueError otherwise."""
        fields = {"setMaxW": "set_max_w", "setGradW": "set_grad_w"}
        if name not in fields or not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"expected one of {', '.join(fields)} with a non-negative integer, saw {name}={value!r}")
        return Settings(**{**self.__dict__, fields[name]: value})


def der_capability(settings: Settings, edition: str) -> bytes:
    """DERCapability (2030.5 §10.10 DER): a PV inverter (type 4) rated settings.rtg_max_w W."""
    modes = modes_bitmap(settings.modes)
    return _root(_el(
        "DERCapability",
        _el("modesSupported", value=modes),
        _amount("rtgMaxVA", RATED_VA),
        _amount("rtgMaxW", settings.rtg_max_w),
        _pf("rtgMinPFOverExcited", 850),
        _pf("rtgMinPFUnderExcited", 850),
        _el("type", value=4),
    ), edition)


def der_settings(settings: Settings, updated: int, edition: str) -> bytes:
    """DERSettings: the modes enabled and the limits in force, updatedTime = updated (TimeType)."""
    return _root(_el(
        "DERSettings",
        _el("modesEnabled", value=modes_bitmap(SUPPORTED_MODES)),
        _el("setGradW", value=settings.set_grad_w),
        _amount("setMaxVA", RATED_VA),
        _amount("setMaxW", settings.set_max_w),
        _pf("setMinPFOverExcited", settings.set_min_pf_over),
        _pf("setMinPFUnderExcited", 850),
        _el("updatedTime", value=updated),
    ), edition)


def der_status(now: int, connected: bool, edition: str) -> bytes:
    """DERStatus: connection (2018 genConnectStatus, 2.2 connectStatus), inverter and operational status."""
    # ConnectStatusType bits: 0 connected, 1 available, 2 operating.
    connect = "07" if connected else "02"
    connect_tag = "connectStatus" if edition == "2.2" else "genConnectStatus"
    return _root(_el(
        "DERStatus",
        _el(connect_tag, _el("dateTime", value=now), _el("value", value=connect)),
        _el("inverterStatus", _el("dateTime", value=now), _el("value", value=4 if connected else 1)),
        _el("operationalModeStatus", _el("dateTime", value=now), _el("value", value=2)),
        _el("readingTime", value=now),
    ), edition)


def der_availability(now: int, edition: str) -> bytes:
    """DERAvailability: what the DER could deliver at now."""
    return _root(_el(
        "DERAvailability",
        _el("readingTime", value=now),
        _amount("statVarAvail", 2000),
        _amount("statWAvail", 4200),
    ), edition)


def control_response(subject: str, lfdi: str, status: int, created: int, edition: str,
                     base: Mapping[str, object] | None = None) -> bytes:
    """DERControlResponse (2030.5 §10.4 Response function set) for a DERControl mRID."""
    modes = modes_bitmap(base or {}) if edition == "2.2" else None
    return _root(_el(
        "DERControlResponse",
        _el("createdDateTime", value=created),
        _el("endDeviceLFDI", value=lfdi),
        _el("status", value=status),
        _el("subject", value=subject),
        _el("modesResponded", value=modes) if modes is not None else None,
    ), edition)


def log_event(created: int, event_id: int, code: int, edition: str) -> bytes:
    """A general LogEvent (functionSet 0, 2030.5 Table 34), logEventPEN 37244, profileID 2."""
    return _root(_el(
        "LogEvent",
        _el("createdDateTime", value=created),
        _el("details", value="reference DER client alarm"),
        _el("functionSet", value=0),
        _el("logEventCode", value=code),
        _el("logEventID", value=event_id),
        _el("logEventPEN", value=LOG_EVENT_PEN),
        _el("profileID", value=LOG_PROFILE_ID),
    ), edition)


def end_device(sfdi: int, lfdi: str, changed: int, edition: str) -> bytes:
    """An EndDevice for in-band registration (the posts-enddevice defect)."""
    return _root(_el("EndDevice", _el("lFDI", value=lfdi), _el("sFDI", value=sfdi),
                     _el("changedTime", value=changed)), edition)


def _reading_type() -> etree._Element:
    # Real power (kind 37) in W (uom 38), instantaneous (accumulationBehaviour 12), delivered by the DER.
    return _el("ReadingType", _el("accumulationBehaviour", value=12), _el("commodity", value=1),
               _el("dataQualifier", value=2), _el("flowDirection", value=19), _el("kind", value=37),
               _el("phase", value=0), _el("powerOfTenMultiplier", value=0), _el("uom", value=38))


def mirror_usage_point(mrid: str, reading_mrid: str, lfdi: str, post_rate: int, edition: str) -> bytes:
    """A MirrorUsagePoint (Metering Mirror) of the DER's output, with its MirrorMeterReading and ReadingType."""
    return _root(_el(
        "MirrorUsagePoint",
        _el("mRID", value=mrid),
        _el("description", value="DER output"),
        _el("roleFlags", value="49"),  # isMirror, isDER, isSubmeter
        _el("serviceCategoryKind", value=0),
        _el("status", value=1),
        _el("deviceLFDI", value=lfdi),
        _el("MirrorMeterReading", _el("mRID", value=reading_mrid), _el("description", value="real power"),
            _reading_type()),
        _el("postRate", value=post_rate),
    ), edition)


def mirror_meter_reading(reading_mrid: str, now: int, watts: int, edition: str) -> bytes:
    """A MirrorMeterReading with one Reading of the DER's output at now (W)."""
    return _root(_el(
        "MirrorMeterReading",
        _el("mRID", value=reading_mrid),
        _el("Reading", _el("timePeriod", _el("duration", value=0), _el("start", value=now)), _el("value", value=watts)),
    ), edition)
