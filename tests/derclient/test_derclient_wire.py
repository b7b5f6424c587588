"""What the DER client sends is schema-valid 2030.5-2018, and with --edition 2.2 has the newer edition's shape."""

from __future__ import annotations

import pytest
from lxml import etree

from harness.reference.derclient import wire
from harness.sep.schema import FAILURE, SchemaSet

LFDI = "0123456789ABCDEF0123456789ABCDEF01234567"
MRID = "0A" * 16


def bodies(edition: str) -> dict[str, bytes]:
    return {
        "DERCapability": wire.der_capability(wire.Settings(), edition),
        "DERSettings": wire.der_settings(wire.Settings(), 100, edition),
        "DERStatus": wire.der_status(100, True, edition),
        "DERAvailability": wire.der_availability(100, edition),
        "DERControlResponse": wire.control_response(MRID, LFDI, 2, 100, edition, {"opModMaxLimW": {"value": 1}}),
        "LogEvent": wire.log_event(100, 1, wire.LE_GEN_SOFTWARE, edition),
        "EndDevice": wire.end_device(123456789, LFDI, 100, edition),
        "MirrorUsagePoint": wire.mirror_usage_point(MRID, "0B" * 16, LFDI, 300, edition),
        "MirrorMeterReading": wire.mirror_meter_reading("0B" * 16, 100, 4200, edition),
    }


@pytest.mark.parametrize("name", sorted(bodies("2018")))
def test_every_2018_body_is_schema_valid(name: str) -> None:
    root = etree.fromstring(bodies("2018")[name])
    assert root.get("schemaVer") is None
    failures = [f for f in SchemaSet.bundled().validate(root, expected_root=name) if f.severity == FAILURE]
    assert failures == []


def test_the_2018_shape_has_genconnectstatus_and_no_modesresponded() -> None:
    status = etree.fromstring(bodies("2018")["DERStatus"])
    assert wire.child(status, "genConnectStatus") is not None and wire.child(status, "connectStatus") is None
    response = etree.fromstring(bodies("2018")["DERControlResponse"])
    assert wire.child(response, "modesResponded") is None


def test_the_2_2_shape_has_schemaver_connectstatus_and_modesresponded() -> None:
    made = bodies("2.2")
    assert all(etree.fromstring(body).get("schemaVer") == "2.2" for body in made.values())
    status = etree.fromstring(made["DERStatus"])
    assert wire.child(status, "connectStatus") is not None and wire.child(status, "genConnectStatus") is None
    response = etree.fromstring(made["DERControlResponse"])
    assert wire.text(response, "modesResponded") == f"{1 << 20:08X}"  # opModMaxLimW is bit 20


def test_settings_stay_within_the_rating_the_capability_declares() -> None:
    capability = etree.fromstring(wire.der_capability(wire.Settings(), "2018"))
    settings = etree.fromstring(wire.der_settings(wire.Settings(), 1, "2018"))
    rated = int(wire.text(wire.child(capability, "rtgMaxW"), "value"))
    assert int(wire.text(wire.child(settings, "setMaxW"), "value")) <= rated
    modes = int(wire.text(capability, "modesSupported"), 16)
    assert modes & (1 << 20) and modes & (1 << 5)  # opModMaxLimW and opModFixedPFInjectW, so CORE-014 checks them


def test_a_control_base_reads_as_values() -> None:
    base = etree.fromstring(
        b'<DERControlBase xmlns="urn:ieee:std:2030.5:ns"><opModConnect>true</opModConnect>'
        b'<opModFixedPFInjectW><displacement>900</displacement><multiplier>-3</multiplier></opModFixedPFInjectW>'
        b'<opModVoltVar href="/derp/1/dc/1"/></DERControlBase>')
    assert wire.base_values(base) == {"opModConnect": True,
                                      "opModFixedPFInjectW": {"displacement": 900, "multiplier": -3},
                                      "opModVoltVar": {"href": "/derp/1/dc/1"}}


def test_a_body_of_the_wrong_kind_is_refused_with_what_was_expected() -> None:
    with pytest.raises(wire.WireError, match="expected a DeviceCapability"):
        wire.parse(b'<Time xmlns="urn:ieee:std:2030.5:ns"/>', "DeviceCapability")
    with pytest.raises(wire.WireError, match="DTD"):
        wire.parse(b'<!DOCTYPE x [<!ENTITY a "b">]><DeviceCapability/>', "DeviceCapability")
