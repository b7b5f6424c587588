"""Enumerated codes and bitmaps of the CSIP resources, from IEEE 2030.5-2018.

The schema types these fields as plain integers or hex strings, so the allowed
values are kept here as data and checked by :mod:`harness.sep.checks`.

Keys of :data:`ENUMERATIONS` are paths matched against the *end* of an
element's ancestry, by local name:

* ``"Time/quality"`` matches a ``quality`` element whose parent is ``Time``;
* a component also matches an element whose ``xsi:type`` names it, so
  ``<Resource xsi:type="Time">`` inside a Notification is covered;
* a last component starting with ``@`` names an attribute, and a key of just
  ``"@responseRequired"`` applies to that attribute on any element.

Every rule here yields a **warning** finding, never a failure: the standard types
these fields as plain UInt8/UInt16/HexBinary and marks the other codes "reserved"
in annotation text, so a reserved code is schema-valid (the CSIP procedures
themselves build programs with primacy 4 and 10). A device sending one is shown
in the report, and no verdict depends on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ENUMERATIONS", "Enumeration"]


@dataclass(frozen=True)
class Enumeration:
    """Allowed values of one enumerated field, or allowed bits of one bitmap field."""

    name: str  # what the standard calls it, used in messages
    values: frozenset[int]  # allowed codes; for a bitmap, the defined bit positions
    bitmap: bool = False  # value is hexBinary and every set bit must be a defined one
    # (sibling element, value) that must hold for the rule to apply, for codes
    # whose meaning depends on another field (LogEvent.functionSet on profileID).
    when: tuple[str, int] | None = None


def _codes(*parts: int | Iterable[int]) -> frozenset[int]:
    """Build a value set from single codes and ranges."""
    out: set[int] = set()
    for part in parts:
        if isinstance(part, int):
            out.add(part)
        else:
            out.update(part)
    return frozenset(out)


_POWER_SOURCE = Enumeration("PowerSourceType (0-5)", _codes(range(0, 6)))
# Table 27 (response types by function set).  0 is reserved.
_RESPONSE_STATUS = Enumeration("Response status (Table 27)", _codes(range(1, 15), 252, 253, 254))
_UNIT_REF = Enumeration("DERUnitRefType", _codes(range(0, 9)))
_CONNECT_STATUS = Enumeration("ConnectStatusType bitmap", _codes(range(0, 5)), bitmap=True)
# Bits 0-26 in 2030.5-2018; 27-31 were added by the 2023 revision and are reserved here.
_DER_CONTROL_TYPE = Enumeration("DERControlType bitmap", _codes(range(0, 27)), bitmap=True)
_DEVICE_CATEGORY = Enumeration("DeviceCategoryType bitmap", _codes(range(0, 26)), bitmap=True)
_SERVICE_KIND = Enumeration("ServiceKind", _codes(range(0, 7)))
_USAGE_POINT_STATUS = Enumeration("UsagePoint status (0 off, 1 on)", _codes(0, 1))
_ROLE_FLAGS = Enumeration("RoleFlagsType bitmap", _codes(range(0, 7)), bitmap=True)

ENUMERATIONS: dict[str, Enumeration] = {
    # Common attributes
    "@subscribable": Enumeration("SubscribableType", _codes(range(0, 4))),
    "@responseRequired": Enumeration("responseRequired bitmap", _codes(0, 1, 2), bitmap=True),
    # Time
    "Time/quality": Enumeration("Time quality", _codes(range(3, 8))),
    # End device, device information, power status
    "deviceCategory": _DEVICE_CATEGORY,
    "DeviceInformation/primaryPower": _POWER_SOURCE,
    "DeviceInformation/secondaryPower": _POWER_SOURCE,
    "PowerStatus/batteryStatus": Enumeration("PowerStatus batteryStatus", _codes(range(0, 5))),
    "PowerStatus/currentPowerSource": _POWER_SOURCE,
    # Events and DER programs
    "EventStatus/currentStatus": Enumeration("EventStatus currentStatus", _codes(range(0, 5))),
    # 0-2 defined, 65-191 user-defined; 3-64 and 192-255 reserved.
    "DERProgram/primacy": Enumeration("PrimacyType", _codes(0, 1, 2, range(65, 192))),
    "DERCurve/curveType": Enumeration("DERCurveType", _codes(range(0, 15))),
    "DERCurve/yRefType": _UNIT_REF,
    "opModFixedVar/refType": _UNIT_REF,
    # DER capability, settings and status
    "DERCapability/type": Enumeration("DERType", _codes(range(0, 7), range(80, 84))),
    "DERCapability/modesSupported": _DER_CONTROL_TYPE,
    "DERCapability/rtgAbnormalCategory": Enumeration("rtgAbnormalCategory", _codes(range(0, 4))),
    "DERCapability/rtgNormalCategory": Enumeration("rtgNormalCategory", _codes(range(0, 3))),
    "DERSettings/modesEnabled": _DER_CONTROL_TYPE,
    "DERStatus/alarmStatus": Enumeration("DERStatus alarmStatus bitmap", _codes(range(0, 11)), bitmap=True),
    "DERStatus/genConnectStatus/value": _CONNECT_STATUS,
    "DERStatus/storConnectStatus/value": _CONNECT_STATUS,
    "DERStatus/inverterStatus/value": Enumeration("InverterStatusType", _codes(range(0, 11))),
    "DERStatus/localControlModeStatus/value": Enumeration("LocalControlModeStatusType", _codes(0, 1)),
    "DERStatus/operationalModeStatus/value": Enumeration("OperationalModeStatusType", _codes(range(0, 4))),
    "DERStatus/storageModeStatus/value": Enumeration("StorageModeStatusType", _codes(0, 1, 2)),
    # Metering and mirror metering
    "UsagePoint/roleFlags": _ROLE_FLAGS,
    "UsagePoint/serviceCategoryKind": _SERVICE_KIND,
    "UsagePoint/status": _USAGE_POINT_STATUS,
    "MirrorUsagePoint/roleFlags": _ROLE_FLAGS,
    "MirrorUsagePoint/serviceCategoryKind": _SERVICE_KIND,
    "MirrorUsagePoint/status": _USAGE_POINT_STATUS,
    "ReadingType/accumulationBehaviour": Enumeration("AccumulationBehaviourType", _codes(0, 1, 3, 4, 6, 9, 12)),
    "ReadingType/commodity": Enumeration("CommodityType", _codes(0, 1, 2, 4, range(7, 14))),
    "ReadingType/dataQualifier": Enumeration("DataQualifierType", _codes(0, 2, 8, 9, 12, 29, 30)),
    "ReadingType/flowDirection": Enumeration("FlowDirectionType", _codes(range(0, 5), 19, 20, 21)),
    "ReadingType/kind": Enumeration("KindType", _codes(0, 3, 8, 12, 37)),
    "ReadingType/phase": Enumeration("PhaseCode", _codes(0, 32, 33, 40, 64, 65, 66, 128, 129, 132, 224)),
    "Reading/touTier": Enumeration("TOUType", _codes(range(0, 16))),
    "Reading/consumptionBlock": Enumeration("ConsumptionBlockType", _codes(range(0, 17))),
    # Log events: functionSet codes are 2030.5's only when profileID is 2 (IEEE 2030.5).
    "LogEvent/profileID": Enumeration("LogEvent profileID", _codes(range(0, 5))),
    "LogEvent/functionSet": Enumeration(
        "LogEvent functionSet (IEEE 2030.5)", _codes(range(0, 25)), when=("profileID", 2)
    ),
    # Response
    "Response/status": _RESPONSE_STATUS,
    "DERControlResponse/status": _RESPONSE_STATUS,
    # Publish / subscribe
    "Subscription/encoding": Enumeration("Subscription encoding (0 XML, 1 EXI)", _codes(0, 1)),
    "Notification/status": Enumeration("Notification status", _codes(range(0, 5))),
    # Error
    "Error/reasonCode": Enumeration("Error reasonCode", _codes(range(0, 5))),
}
