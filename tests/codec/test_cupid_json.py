"""CUPID's JSON dialect: names, shapes, both readers' forms, the lossy points as findings, and round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from harness.codec.cupid_json import dumps, json_to_xml, validate_json, xml_to_json
from harness.codec.legacy import LEGACY_MEMBERS
from harness.codec.mapping import table_for
from harness.codec.xjc import field_name, wrapper_key
from harness.sep.findings import FAILURE, WARNING
from harness.sep.schema import SchemaSet
from tests.codec.resources import ResourceBuilder

SETTINGS = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                    suppress_health_check=list(HealthCheck))
SCHEMA = SchemaSet.bundled()
STRUCTURE = SCHEMA.structure()
ROOTS = sorted(STRUCTURE.element_names())


def canonical(root: etree._Element) -> bytes:
    etree.cleanup_namespaces(root)  # an xsi declaration no element uses is no content
    return etree.tostring(root, method="c14n")


# xjc field names as CUPID's generated classes (sep.xsd 2.1.0) declare them, XML name -> Java field.
XJC_FIELDS = {
    "DERListLink": "derListLink", "IPInterfaceListLink": "ipInterfaceListLink", "DERControlBase": "derControlBase",
    "EventStatus": "eventStatus", "lFDI": "lfdi", "sFDI": "sfdi", "mRID": "mrid", "pIN": "pin", "dBOF": "dbof",
    "kOF": "kof", "opModHFRTMustTrip": "opModHFRTMustTrip", "IEEE_802_15_4": "ieee802154", "loWPAN": "loWPAN",
    "href": "href", "pollRate": "pollRate", "replyTo": "replyTo", "EUI64": "eui64", "CSIPAux": "csipAux",
}


@pytest.mark.parametrize(("xml_name", "java"), sorted(XJC_FIELDS.items()))
def test_member_names_are_xjc_field_names(xml_name: str, java: str) -> None:
    assert field_name(xml_name) == java


def test_wrapper_key_lowercases_only_the_first_character() -> None:
    assert [wrapper_key(n) for n in ("EndDevice", "DERControl", "IPInterface", "mRIDType")] == [
        "endDevice", "dERControl", "iPInterface", "mRIDType"]


def test_shapes_of_a_list_of_end_devices() -> None:
    xml = (b'<EndDeviceList xmlns="urn:ieee:std:2030.5:ns" href="/edev" all="1" results="1" pollRate="900">'
           b'<EndDevice href="/edev/1"><DERListLink href="/edev/1/der" all="0"/><lFDI>3E4F45AB</lFDI>'
           b'<sFDI>167261211391</sFDI><changedTime>1700000000</changedTime></EndDevice></EndDeviceList>')
    out = xml_to_json(etree.fromstring(xml), STRUCTURE)
    assert out.result == {"endDeviceList": {
        "endDevice": [{"changedTime": 1700000000, "derListLink": {"all": 0, "href": "/edev/1/der"},
                       "lfdi": [62, 79, 69, -85], "sfdi": {"value": 167261211391}, "href": "/edev/1"}],
        "pollRate": 900, "all": 1, "results": 1, "href": "/edev"}}
    # Gson's order: the most-derived class's fields first, Resource's href last.
    assert list(out.result["endDeviceList"]) == ["endDevice", "pollRate", "all", "results", "href"]
    assert list(out.result["endDeviceList"]["endDevice"][0])[-1] == "href"
    [signed] = out.findings
    assert signed.severity == WARNING and signed.path == "/endDeviceList/endDevice/0/lfdi" and "-85" in signed.message


def test_time_is_bare_seconds_and_time_offset_is_wrapped() -> None:
    xml = (b'<Time xmlns="urn:ieee:std:2030.5:ns" href="/tm" pollRate="900"><currentTime>1700000000</currentTime>'
           b'<dstEndTime>0</dstEndTime><dstOffset>3600</dstOffset><dstStartTime>0</dstStartTime>'
           b'<quality>7</quality><tzOffset>-28800</tzOffset></Time>')
    body = xml_to_json(etree.fromstring(xml), STRUCTURE).result["time"]
    assert body["currentTime"] == 1700000000 and body["tzOffset"] == {"value": -28800} and body["quality"] == 7


DER_CONTROL = {"derControlBase": {"opModConnect": True, "opModMaxLimW": {"value": 80}},
               "creationTime": 1700000000,
               "eventStatus": {"currentStatus": 0, "dateTime": 1700000000, "potentiallySuperseded": False},
               "interval": {"duration": 300, "start": 1700000000},
               "mrid": {"value": [18, 52, 86, 120, 18, 52, 86, 120, 18, 52, 86, 120, 18, 52, 86, 120]},
               "description": "cap", "version": {"value": 1}, "responseRequired": [3], "href": "/derp/1/derc/7"}


@pytest.mark.parametrize("key", ["dERControl", "DERControl", "derControl", "DERCONTROL", None])
def test_every_form_cupid_reads_gives_the_same_valid_resource(key: str | None) -> None:
    data = {key: DER_CONTROL} if key else DER_CONTROL
    out = validate_json(json.dumps(data), SCHEMA, "DERControl")
    assert out.findings == [] and out.root_name == "DERControl" and out.wrapped == (key is not None)
    assert out.result.find("{urn:ieee:std:2030.5:ns}mRID").text == "12345678" * 4
    assert out.result.get("responseRequired") == "03"


def test_a_wrapper_names_the_resource_when_nothing_is_expected() -> None:
    assert json_to_xml(json.dumps({"dERControl": DER_CONTROL}), STRUCTURE).root_name == "DERControl"
    bare = json_to_xml(json.dumps(DER_CONTROL), STRUCTURE)
    assert bare.result is None and "cannot tell which 2030.5 resource" in bare.findings[0].message


def test_schema_findings_point_at_the_json_member() -> None:
    broken = {**DER_CONTROL, "interval": {"start": 1700000000}}
    out = validate_json(json.dumps({"dERControl": broken}), SCHEMA)
    [missing] = out.failures
    assert missing.path.startswith("/dERControl/interval") and "duration" in missing.message
    assert "XML /DERControl" in missing.message


@pytest.mark.parametrize(("old", "new"), sorted(LEGACY_MEMBERS.items()))
def test_pre_2018_names_get_a_finding_naming_the_2018_member(old: str, new: tuple[str, ...]) -> None:
    table = table_for(STRUCTURE)
    owners = [t for t in STRUCTURE.type_names() if all(n in table.by_json(t) for n in new)]
    assert owners, f"no 2018 type has {new}"
    roots = [e for e in ROOTS if STRUCTURE.global_type(e) in owners]
    # DERControlBase is no resource of its own: its members sit in a DERControl's derControlBase.
    root, prefix = (roots[0], []) if roots else ("DERControl", ["derControlBase"])
    body: dict[str, object] = {old: {"value": 1}}
    for key in reversed(prefix):
        body = {key: body}
    out = json_to_xml(json.dumps(body), STRUCTURE, root)
    [finding] = [f for f in out.findings if f.path == "/" + "/".join([*prefix, old])]
    assert finding.severity == FAILURE and "pre-2018" in finding.message and new[0] in finding.message


@pytest.mark.parametrize(("member", "value", "fragment"), [
    ("lfdi", [300], "-128..255"), ("lfdi", "3E4F", "array of byte values"), ("changedTime", "soon", "JSON number"),
    ("enabled", 1, "true or false"), ("sfdi", 5, '{"value": ...}'), ("derListLink", 7, "expected a JSON object"),
])
def test_wrong_json_types_are_failures_naming_the_member(member: str, value: object, fragment: str) -> None:
    out = json_to_xml(json.dumps({"endDevice": {"changedTime": 1, member: value}}), STRUCTURE)
    assert any(f.severity == FAILURE and f.path == f"/endDevice/{member}" and fragment in f.message
               for f in out.findings), out.findings


def test_unsigned_and_signed_bytes_read_alike_and_big_numbers_are_noted() -> None:
    signed = json_to_xml('{"endDevice": {"changedTime": 9007199254740993, "lfdi": [-85, 171]}}', STRUCTURE)
    assert signed.result.find("{urn:ieee:std:2030.5:ns}lFDI").text == "ABAB"
    assert signed.result.find("{urn:ieee:std:2030.5:ns}changedTime").text == "9007199254740993"
    [big] = signed.findings
    assert big.severity == WARNING and big.path == "/endDevice/changedTime" and "2^53" in big.message


def test_not_json_is_a_parse_failure() -> None:
    out = json_to_xml(b"<EndDevice/>", STRUCTURE, "EndDevice")
    assert out.result is None and out.findings[0].kind == "parse"


@pytest.mark.parametrize("root_name", ROOTS)
@given(data=st.data())
@settings(SETTINGS, max_examples=3)
def test_round_trip_is_identical_for_what_the_dialect_carries(root_name: str, data: st.DataObject) -> None:
    root = ResourceBuilder(STRUCTURE, data.draw).document(root_name)
    there = xml_to_json(root, STRUCTURE)
    assert all(f.severity == WARNING for f in there.findings)
    back = json_to_xml(dumps(there.result), STRUCTURE)
    assert [f for f in back.findings if f.severity == FAILURE] == []
    assert canonical(back.result) == canonical(root)
    bare = json_to_xml(dumps(xml_to_json(root, STRUCTURE, wrap=False).result), STRUCTURE, root_name)
    assert canonical(bare.result) == canonical(root)


@pytest.mark.parametrize("root_name", [r for r in ROOTS if r.endswith("List") or r in (
    "Notification", "DERControl", "DeviceCapability", "EndDevice", "Time", "DERProgram")])
@given(data=st.data())
@settings(SETTINGS, max_examples=4)
def test_what_the_dialect_cannot_carry_gets_a_named_finding(root_name: str, data: st.DataObject) -> None:
    builder = ResourceBuilder(STRUCTURE, data.draw, lossy=True)
    root = builder.document(root_name)
    there = xml_to_json(root, STRUCTURE)
    back = json_to_xml(dumps(there.result), STRUCTURE)
    for name in builder.uncarried:
        member = field_name(name)
        assert any(member in (f.path or "") or name in (f.path or "") for f in there.findings), (name, there.findings)
    if not builder.uncarried:
        assert canonical(back.result) == canonical(root)
