"""Tests for the bundled CSIP schema, the two-stage validator and the own checks."""

from __future__ import annotations

import hashlib
import importlib.resources
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from harness.sep.checks import own_checks
from harness.sep.enums import ENUMERATIONS
from harness.sep.schema import Finding, SchemaLoadError, SchemaSet, element_path

SAMPLES = Path(__file__).parent / "samples"
NS = 'xmlns="urn:ieee:std:2030.5:ns"'
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
LFDI = "3e4f45ab31edfe5b67e343e5e4562e31984e23e5"

# Every resource a CSIP exchange carries; each has a valid sample in samples/<name>.xml.
GLOBAL_ELEMENTS = [
    "DeviceCapability", "Time", "EndDevice", "EndDeviceList", "Registration", "DeviceInformation",
    "PowerStatus", "FunctionSetAssignments", "FunctionSetAssignmentsList", "DERProgram", "DERProgramList",
    "DERControl", "DERControlList", "DefaultDERControl", "DERCurve", "DERCurveList", "DER", "DERList",
    "DERCapability", "DERSettings", "DERStatus", "DERAvailability", "MirrorUsagePoint", "MirrorUsagePointList",
    "MirrorMeterReading", "MirrorMeterReadingList", "UsagePoint", "UsagePointList", "LogEvent", "LogEventList",
    "Response", "DERControlResponse", "ResponseList", "Subscription", "SubscriptionList", "Notification", "Error",
]  # fmt: skip


def parse(text: str) -> etree._Element:
    """Parse a test document the way the harness parser does (lxml, line numbers kept)."""
    return etree.fromstring(text.strip().encode())


def time_doc(body: str | None = None, quality: str = "7") -> str:
    """A Time document, valid unless ``body`` replaces its children."""
    if body is None:
        body = (
            "<currentTime>1700000000</currentTime>\n<dstEndTime>0</dstEndTime>\n<dstOffset>0</dstOffset>\n"
            f"<dstStartTime>0</dstStartTime>\n<quality>{quality}</quality>\n<tzOffset>0</tzOffset>"
        )
    return f'<Time {NS} href="/tm">\n{body}\n</Time>'


@pytest.fixture(scope="module")
def bundled() -> SchemaSet:
    return SchemaSet.bundled()


def schema_findings(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.kind == "schema"]


def check_findings(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.kind == "check"]


# --- the bundled schema ----------------------------------------------------------------------------


def test_bundled_is_cached_and_identified(bundled: SchemaSet) -> None:
    assert SchemaSet.bundled() is bundled
    assert bundled.name == "bundled CSIP schema"
    data = importlib.resources.files("harness.sep").joinpath("schema/csip.xsd").read_bytes()
    assert bundled.sha256 == hashlib.sha256(data).hexdigest()


def test_bundled_schema_is_our_own_file() -> None:
    schema_dir = importlib.resources.files("harness.sep").joinpath("schema")
    assert not schema_dir.joinpath("sep.xsd").is_file()
    text = schema_dir.joinpath("csip.xsd").read_text()
    assert "Written for the csip-harness project from the text of IEEE 2030.5-2018" in text
    assert "NOT the IEEE sep.xsd" in text
    root = etree.fromstring(text.encode())
    assert root.get("targetNamespace") == "urn:ieee:std:2030.5:ns"
    assert root.get("elementFormDefault") == "qualified"


@pytest.mark.parametrize("name", GLOBAL_ELEMENTS)
def test_sample_of_every_global_element_is_valid(bundled: SchemaSet, name: str) -> None:
    root = etree.parse(str(SAMPLES / f"{name}.xml")).getroot()
    assert etree.QName(root).localname == name
    assert bundled.knows(name)
    assert bundled.is_valid(root)
    assert bundled.validate(root, expected_root=name) == []


def test_knows_only_global_elements(bundled: SchemaSet) -> None:
    assert bundled.knows("DeviceCapability")
    assert not bundled.knows("DERControlBase")  # a type used inside DERControl, not a document
    assert not bundled.knows("sep")


def test_xsi_type_extension_validates(bundled: SchemaSet) -> None:
    # A DERControlResponse standing in for a Response item, and a typed Notification payload.
    for name in ("ResponseList", "Notification"):
        text = (SAMPLES / f"{name}.xml").read_text()
        assert "xsi:type=" in text
        assert bundled.validate(etree.fromstring(text.encode())) == []


def test_xsi_type_content_is_validated_against_the_named_type(bundled: SchemaSet) -> None:
    doc = parse(f"""
<Notification {NS} {XSI}>
  <subscribedResource>/tm</subscribedResource>
  <Resource xsi:type="Time" href="/tm">
    <currentTime>1</currentTime>
  </Resource>
  <status>0</status>
  <subscriptionURI>/edev/3/sub/1</subscriptionURI>
</Notification>""")
    findings = schema_findings(bundled.validate(doc))
    assert findings
    assert any(f.path == "/Notification/Resource" and "dstEndTime" in f.message for f in findings)


# --- schema findings: line, path, expected and seen -------------------------------------------------


def test_wrong_order_names_the_misplaced_element(bundled: SchemaSet) -> None:
    doc = parse(f"""
<DeviceCapability {NS} href="/dcap">
  <TimeLink href="/tm"/>
  <!-- a comment must not throw the position off -->
  <DERProgramListLink href="/derp" all="1"/>
</DeviceCapability>""")
    assert not bundled.is_valid(doc)
    [finding] = bundled.validate(doc, expected_root="DeviceCapability")
    assert finding.kind == "schema"
    assert finding.line == 4
    assert finding.path == "/DeviceCapability/DERProgramListLink"
    assert "DERProgramListLink" in finding.message and "out of order" in finding.message
    # The allowed order is spelled out so the reader can see where it belongs.
    assert "DERProgramListLink, FileListLink" in finding.message


def test_wrong_order_inside_der_control_base(bundled: SchemaSet) -> None:
    doc = parse(f"""
<DefaultDERControl {NS} href="/derp/1/dderc">
  <mRID>0FB7000000000000000000000000D001</mRID>
  <DERControlBase>
    <opModTargetW><multiplier>0</multiplier><value>5</value></opModTargetW>
    <opModMaxLimW>5000</opModMaxLimW>
  </DERControlBase>
</DefaultDERControl>""")
    findings = schema_findings(bundled.validate(doc))
    assert [(f.line, f.path) for f in findings] == [(5, "/DefaultDERControl/DERControlBase/opModMaxLimW")]


def test_missing_required_element(bundled: SchemaSet) -> None:
    body = (
        "<currentTime>1</currentTime>\n<dstEndTime>0</dstEndTime>\n<dstOffset>0</dstOffset>\n"
        "<dstStartTime>0</dstStartTime>"
    )
    [finding] = bundled.validate(parse(time_doc(body + "\n<tzOffset>0</tzOffset>")))
    assert finding.path == "/Time/tzOffset"
    assert finding.line == 6
    assert "expected quality" in finding.message and "saw tzOffset" in finding.message

    [finding] = bundled.validate(parse(time_doc(body + "\n<quality>7</quality>")))
    assert finding.path == "/Time"
    assert finding.line == 1
    assert "required element missing" in finding.message and "tzOffset" in finding.message


def test_bad_type(bundled: SchemaSet) -> None:
    body = (
        "<currentTime>noon</currentTime>\n<dstEndTime>0</dstEndTime>\n<dstOffset>0</dstOffset>\n"
        "<dstStartTime>0</dstStartTime>\n<quality>7</quality>\n<tzOffset>0</tzOffset>"
    )
    [finding] = bundled.validate(parse(time_doc(body)))
    assert (finding.line, finding.path, finding.kind) == (2, "/Time/currentTime", "schema")
    assert "saw 'noon'" in finding.message and "expected" in finding.message


def test_out_of_range_value_and_repeated_sibling_path(bundled: SchemaSet) -> None:
    doc = parse(f"""
<EndDeviceList {NS} href="/edev" all="2" results="2">
  <EndDevice><sFDI>1</sFDI><changedTime>0</changedTime></EndDevice>
  <EndDevice><sFDI>1099511627776</sFDI><changedTime>0</changedTime></EndDevice>
</EndDeviceList>""")
    [finding] = bundled.validate(doc)
    assert finding.path == "/EndDeviceList/EndDevice[2]/sFDI"
    assert finding.line == 3
    assert "1099511627776" in finding.message


def test_too_long_hex_binary(bundled: SchemaSet) -> None:
    doc = parse(f"""
<EndDevice {NS}>
  <lFDI>{LFDI}00</lFDI>
  <sFDI>1</sFDI>
  <changedTime>0</changedTime>
</EndDevice>""")
    [finding] = bundled.validate(doc)
    assert (finding.line, finding.path) == (2, "/EndDevice/lFDI")
    assert "20" in finding.message


def test_unknown_element(bundled: SchemaSet) -> None:
    body = (
        "<currentTime>1</currentTime>\n<dstEndTime>0</dstEndTime>\n<dstOffset>0</dstOffset>\n"
        "<dstStartTime>0</dstStartTime>\n<quality>7</quality>\n<tzOffset>0</tzOffset>\n<leapSecond>1</leapSecond>"
    )
    [finding] = bundled.validate(parse(time_doc(body)))
    assert (finding.line, finding.path) == (8, "/Time/leapSecond")
    assert "leapSecond" in finding.message


def test_bad_and_missing_attributes(bundled: SchemaSet) -> None:
    doc = parse(f"""
<DeviceCapability {NS} href="/dcap">
  <DERProgramListLink href="/derp" all="many"/>
  <TimeLink/>
</DeviceCapability>""")
    findings = bundled.validate(doc)
    by_path = {f.path: f for f in findings}
    assert set(by_path) == {"/DeviceCapability/DERProgramListLink", "/DeviceCapability/TimeLink"}
    assert "all" in by_path["/DeviceCapability/DERProgramListLink"].message
    assert "many" in by_path["/DeviceCapability/DERProgramListLink"].message
    assert "href" in by_path["/DeviceCapability/TimeLink"].message
    assert by_path["/DeviceCapability/TimeLink"].message == "in TimeLink: missing required attribute 'href'"
    assert by_path["/DeviceCapability/TimeLink"].line == 3


def test_error_requires_reason_code(bundled: SchemaSet) -> None:
    findings = bundled.validate(parse(f"<Error {NS}><maxRetryDuration>5</maxRetryDuration></Error>"))
    assert len(findings) == 1 and "reasonCode" in findings[0].message


def test_unknown_root_element(bundled: SchemaSet) -> None:
    findings = bundled.validate(parse(f"<Gadget {NS}/>"), expected_root="Time")
    assert any(f.kind == "schema" and "Gadget" in f.message for f in findings)
    assert Finding("expected root element Time, saw Gadget", 1, "/Gadget", "check") in findings


def test_unknown_xsi_type_is_a_finding_not_an_exception(bundled: SchemaSet) -> None:
    doc = parse(f"""
<Notification {NS} {XSI}>
  <subscribedResource>/x</subscribedResource>
  <Resource xsi:type="Bogus" href="/x"/>
  <status>0</status>
  <subscriptionURI>https://h.example/s</subscriptionURI>
</Notification>""")
    findings = bundled.validate(doc)
    assert findings
    assert all(isinstance(f, Finding) for f in findings)
    [finding] = [f for f in findings if "Bogus" in f.message]
    assert (finding.line, finding.path, finding.kind) == (3, "/Notification/Resource", "schema")


def test_xsi_type_not_derived_from_resource(bundled: SchemaSet) -> None:
    doc = parse(f"""
<Notification {NS} {XSI}>
  <subscribedResource>/x</subscribedResource>
  <Resource xsi:type="DateTimeInterval"><duration>1</duration><start>0</start></Resource>
  <status>0</status>
  <subscriptionURI>https://h.example/s</subscriptionURI>
</Notification>""")
    findings = schema_findings(bundled.validate(doc))
    assert any(
        f.line == 3 and f.message == "in Resource: type DateTimeInterval cannot substitute type Resource"
        for f in findings
    ), findings
    assert any(f.message == "in Resource: expected no child elements, saw duration" for f in findings)


# --- own checks -------------------------------------------------------------------------------------


def test_wrong_root(bundled: SchemaSet) -> None:
    findings = bundled.validate(parse(time_doc()), expected_root="DeviceCapability")
    assert findings == [Finding("expected root element DeviceCapability, saw Time", 1, "/Time", "check", "failure")]
    assert bundled.validate(parse(time_doc()), expected_root="Time") == []
    assert bundled.validate(parse(time_doc())) == []


def test_root_outside_the_2030_5_namespace() -> None:
    findings = own_checks(parse('<Time xmlns="urn:example"/>'), expected_root="Time")
    assert [f.message for f in findings] == [
        "expected root element in namespace urn:ieee:std:2030.5:ns, saw urn:example"
    ]
    findings = own_checks(parse("<Time/>"))
    assert findings[0].message.endswith("saw no namespace")


def test_results_must_match_items_and_not_exceed_all(bundled: SchemaSet) -> None:
    doc = parse(f"""
<EndDeviceList {NS} href="/edev" all="1" results="3">
  <EndDevice><sFDI>1</sFDI><changedTime>0</changedTime></EndDevice>
  <EndDevice><sFDI>2</sFDI><changedTime>0</changedTime></EndDevice>
</EndDeviceList>""")
    findings = bundled.validate(doc)
    assert schema_findings(findings) == []
    messages = [f.message for f in check_findings(findings)]
    assert messages == [
        'EndDeviceList: expected results to equal the number of items (2), saw results="3"',
        'EndDeviceList: expected results <= all, saw results="3" and all="1"',
    ]
    assert {(f.line, f.path) for f in findings} == {(1, "/EndDeviceList/@results")}


def test_consistent_paged_list_passes() -> None:
    # A page of a longer list: results counts this page, all counts the whole list.
    doc = parse(f"""
<DERCurveList {NS} href="/dc" all="5" results="0"/>""")
    assert own_checks(doc, "DERCurveList") == []


def test_nested_list_inside_notification_is_counted() -> None:
    doc = parse(f"""
<Notification {NS} {XSI}>
  <subscribedResource>/derc</subscribedResource>
  <Resource xsi:type="DERControlList" href="/derc" all="1" results="1"/>
  <status>0</status>
  <subscriptionURI>https://h.example/s</subscriptionURI>
</Notification>""")
    [finding] = own_checks(doc)
    assert finding.path == "/Notification/Resource/@results"
    assert finding.line == 3


@pytest.mark.parametrize(
    ("xml", "path", "expected_text"),
    [
        (time_doc(quality="9"), "/Time/quality", "9 is a reserved code (defined Time quality codes: 3-7"),
        (
            f"<PowerStatus {NS}><batteryStatus>5</batteryStatus><changedTime>0</changedTime>"
            "<currentPowerSource>9</currentPowerSource></PowerStatus>",
            "/PowerStatus/batteryStatus",
            "5 is a reserved code",
        ),
        (
            f"<DERStatus {NS}><inverterStatus><dateTime>0</dateTime><value>11</value></inverterStatus>"
            "<readingTime>0</readingTime></DERStatus>",
            "/DERStatus/inverterStatus/value",
            "11 is a reserved code (defined InverterStatusType codes: 0-10",
        ),
        (
            f"<DERStatus {NS}><genConnectStatus><dateTime>0</dateTime><value>21</value></genConnectStatus>"
            "<readingTime>0</readingTime></DERStatus>",
            "/DERStatus/genConnectStatus/value",
            "reserved bit 5 set in 21",
        ),
        (
            f"<DERStatus {NS}><operationalModeStatus><dateTime>0</dateTime><value>4</value>"
            "</operationalModeStatus><readingTime>0</readingTime></DERStatus>",
            "/DERStatus/operationalModeStatus/value",
            "4 is a reserved code",
        ),
        (
            f"<DERStatus {NS}><readingTime>0</readingTime><storageModeStatus><dateTime>0</dateTime>"
            "<value>3</value></storageModeStatus></DERStatus>",
            "/DERStatus/storageModeStatus/value",
            "3 is a reserved code",
        ),
        (
            f"<DERCapability {NS}><modesSupported>00000001</modesSupported><rtgMaxW><multiplier>0</multiplier>"
            "<value>1</value></rtgMaxW><type>7</type></DERCapability>",
            "/DERCapability/type",
            "7 is a reserved code (defined DERType codes: 0-6, 80-83",
        ),
        (
            f"<Response {NS}><endDeviceLFDI>{LFDI}</endDeviceLFDI><status>0</status><subject>00</subject></Response>",
            "/Response/status",
            "0 is a reserved code",
        ),
        (
            f"<DERControlResponse {NS}><endDeviceLFDI>{LFDI}</endDeviceLFDI><status>99</status>"
            "<subject>00</subject></DERControlResponse>",
            "/DERControlResponse/status",
            "99 is a reserved code",
        ),
        (
            f"<Error {NS}><reasonCode>7</reasonCode></Error>",
            "/Error/reasonCode",
            "7 is a reserved code (defined Error reasonCode codes: 0-4",
        ),
        (
            f"<LogEvent {NS}><createdDateTime>0</createdDateTime><functionSet>25</functionSet>"
            "<logEventCode>0</logEventCode><logEventID>1</logEventID><logEventPEN>1</logEventPEN>"
            "<profileID>2</profileID></LogEvent>",
            "/LogEvent/functionSet",
            "25 is a reserved code",
        ),
        (
            f"<LogEvent {NS}><createdDateTime>0</createdDateTime><functionSet>0</functionSet>"
            "<logEventCode>0</logEventCode><logEventID>1</logEventID><logEventPEN>1</logEventPEN>"
            "<profileID>9</profileID></LogEvent>",
            "/LogEvent/profileID",
            "9 is a reserved code",
        ),
        (
            f"<DERProgram {NS}><mRID>01</mRID><primacy>30</primacy></DERProgram>",
            "/DERProgram/primacy",
            "30 is a reserved code (defined PrimacyType codes: 0-2, 65-191",
        ),
        (
            f"<EndDevice {NS} subscribable='4'><sFDI>1</sFDI><changedTime>0</changedTime></EndDevice>",
            "/EndDevice/@subscribable",
            "4 is a reserved code",
        ),
    ],
)
def test_bad_enumerated_codes(bundled: SchemaSet, xml: str, path: str, expected_text: str) -> None:
    findings = bundled.validate(parse(xml))
    assert schema_findings(findings) == []  # the schema accepts any integer here ...
    matching = [f for f in check_findings(findings) if f.path == path]  # ... the own checks do not
    assert matching, findings
    assert expected_text in matching[0].message
    assert matching[0].severity == "warning"  # a reserved code is shown, never a failure
    assert matching[0].line == (6 if path == "/Time/quality" else 1)


def test_event_status_and_response_required_in_der_control(bundled: SchemaSet) -> None:
    text = (SAMPLES / "DERControl.xml").read_text()
    text = text.replace('responseRequired="03"', 'responseRequired="08"')
    text = text.replace("<currentStatus>0</currentStatus>", "<currentStatus>5</currentStatus>")
    findings = bundled.validate(etree.fromstring(text.encode()), expected_root="DERControl")
    assert schema_findings(findings) == []
    by_path = {f.path: f.message for f in findings}
    assert by_path["/DERControl/@responseRequired"] == (
        "DERControl/@responseRequired: reserved bit 3 set in 08 (defined bits of responseRequired bitmap: 0-2; "
        "a warning, never a failure)"
    )
    assert "5 is a reserved code" in by_path["/DERControl/EventStatus/currentStatus"]
    assert {f.severity for f in findings} == {"warning"}


def test_log_event_function_set_is_only_checked_for_the_2030_5_profile() -> None:
    doc = parse(f"""
<LogEvent {NS}><createdDateTime>0</createdDateTime><functionSet>200</functionSet><logEventCode>0</logEventCode>
<logEventID>1</logEventID><logEventPEN>1</logEventPEN><profileID>1</profileID></LogEvent>""")
    assert own_checks(doc) == []


def test_enum_rules_follow_xsi_type() -> None:
    doc = parse(f"""
<Notification {NS} {XSI}>
  <subscribedResource>/tm</subscribedResource>
  <Resource xsi:type="Time" href="/tm">
    <currentTime>1</currentTime><dstEndTime>0</dstEndTime><dstOffset>0</dstOffset>
    <dstStartTime>0</dstStartTime><quality>2</quality><tzOffset>0</tzOffset>
  </Resource>
  <status>6</status>
  <subscriptionURI>https://h.example/s</subscriptionURI>
</Notification>""")
    findings = own_checks(doc)
    assert {(f.path, f.line) for f in findings} == {
        ("/Notification/Resource/quality", 5),
        ("/Notification/status", 7),
    }


def test_enumeration_table_is_well_formed() -> None:
    assert {"Time/quality", "PowerStatus/batteryStatus", "Response/status", "DERCapability/type",
            "EventStatus/currentStatus", "@responseRequired", "LogEvent/functionSet", "LogEvent/profileID",
            "Error/reasonCode", "DERStatus/inverterStatus/value"} <= ENUMERATIONS.keys()  # fmt: skip
    for path, rule in ENUMERATIONS.items():
        assert rule.values, path
        assert all(part and ("@" not in part or part is path.split("/")[-1]) for part in path.split("/")), path
        if rule.bitmap:
            assert max(rule.values) < 32, path


def test_element_path_helper() -> None:
    root = parse(f"<A {NS}><B/><C/><C><D/></C></A>")
    assert element_path(root) == "/A"
    assert element_path(root[0]) == "/A/B"
    assert element_path(root[2][0]) == "/A/C[2]/D"


# --- schemas loaded from a path ----------------------------------------------------------------------


TINY_XSD = """<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:test:widgets"
           xmlns="urn:test:widgets" elementFormDefault="qualified">
  <xs:element name="Widget">
    <xs:complexType>
      <xs:sequence><xs:element name="size" type="xs:int"/></xs:sequence>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""


def test_from_path_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "sep.xsd"
    with pytest.raises(SchemaLoadError, match="schema file not found: .*sep.xsd"):
        SchemaSet.from_path(missing)
    with pytest.raises(SchemaLoadError, match="directory"):
        SchemaSet.from_path(tmp_path)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("<xs:schema", "not well-formed"),
        ("<notASchema/>", "not an XML Schema"),
        (
            '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="A" type="Nope"/></xs:schema>',
            "not a valid XML Schema",
        ),
    ],
)
def test_from_path_invalid_schema_is_a_clear_error(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "broken.xsd"
    path.write_text(content)
    with pytest.raises(SchemaLoadError, match=match):
        SchemaSet.from_path(path)


def test_schema_imports_are_never_fetched_from_the_network(tmp_path: Path) -> None:
    path = tmp_path / "remote.xsd"
    path.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
        '<xs:import namespace="urn:remote" schemaLocation="http://192.0.2.1/remote.xsd"/>'
        '<xs:element name="A" type="xs:int"/></xs:schema>'
    )
    with pytest.raises(SchemaLoadError):
        SchemaSet.from_path(path)


def test_schema_passed_by_path_is_used(tmp_path: Path) -> None:
    path = tmp_path / "widgets.xsd"
    path.write_text(TINY_XSD)
    schema = SchemaSet.from_path(path)
    assert schema.name == str(path)
    assert schema.sha256 == hashlib.sha256(TINY_XSD.encode()).hexdigest()
    assert schema.knows("Widget") and not schema.knows("DeviceCapability")

    good = parse('<Widget xmlns="urn:test:widgets"><size>3</size></Widget>')
    assert schema.is_valid(good)
    assert schema_findings(schema.validate(good)) == []

    bad = parse('<Widget xmlns="urn:test:widgets">\n<size>big</size>\n</Widget>')
    [finding] = schema_findings(schema.validate(bad))
    assert (finding.line, finding.path) == (2, "/Widget/size")

    # A 2030.5 document is unknown to this schema: the chosen schema really is the one used.
    dcap = etree.parse(str(SAMPLES / "DeviceCapability.xml")).getroot()
    assert not schema.is_valid(dcap)
    assert schema_findings(schema.validate(dcap))


def test_schema_with_local_include(tmp_path: Path) -> None:
    (tmp_path / "part.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" xmlns="urn:t">'
        '<xs:element name="Part" type="xs:int"/></xs:schema>'
    )
    main = tmp_path / "main.xsd"
    main.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" xmlns="urn:t">'
        '<xs:include schemaLocation="part.xsd"/><xs:element name="Whole" type="xs:int"/></xs:schema>'
    )
    schema = SchemaSet.from_path(main)
    assert schema.knows("Part") and schema.knows("Whole")
    [finding] = schema_findings(schema.validate(parse('<Part xmlns="urn:t">x</Part>')))
    assert finding.path == "/Part"


# --- start-up cost ---------------------------------------------------------------------------------


def test_xmlschema_is_imported_only_for_invalid_documents() -> None:
    code = f"""
import sys
from lxml import etree
from harness.sep.schema import SchemaSet
schema = SchemaSet.bundled()
root = etree.parse({str(SAMPLES / "DeviceCapability.xml")!r}).getroot()
assert schema.validate(root, "DeviceCapability") == []
assert "xmlschema" not in sys.modules, "xmlschema imported for a valid document"
assert schema.validate(etree.fromstring(b'<Time xmlns="urn:ieee:std:2030.5:ns"/>'))
assert "xmlschema" in sys.modules
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("xml", "path"),
    [
        (f"<Notification {NS}><subscribedResource>/tm</subscribedResource><status>0</status>"
         "<subscriptionURI>/edev/3/sub/1</subscriptionURI></Notification>", "/Notification/subscriptionURI"),
        (f"<Notification {NS}><subscribedResource>/tm</subscribedResource><newResourceURI>edev/4</newResourceURI>"
         "<status>2</status><subscriptionURI>https://h.example/s</subscriptionURI></Notification>",
         "/Notification/newResourceURI"),
        (f"<Subscription {NS}><subscribedResource>/tm</subscribedResource><encoding>0</encoding><level>+S1</level>"
         "<limit>1</limit><notificationURI>//client.example/ntfy</notificationURI></Subscription>",
         "/Subscription/notificationURI"),
    ],
)
def test_uris_2030_5_requires_absolute_fail_when_relative(bundled: SchemaSet, xml: str, path: str) -> None:
    findings = bundled.validate(parse(xml))
    assert schema_findings(findings) == []  # xs:anyURI takes a relative reference ...
    [finding] = check_findings(findings)  # ... 2030.5 does not
    assert finding.path == path and finding.severity == "failure"
    assert "expected a fully-qualified absolute URI (IEEE 2030.5: it SHALL be a fully-qualified absolute URI" in (
        finding.message)


def test_absolute_uri_rule_follows_xsi_type_and_ignores_other_owners() -> None:
    doc = parse(f"""
<Notification {NS} {XSI}>
  <subscribedResource>/edev/1/sub</subscribedResource>
  <Resource xsi:type="Subscription" href="/edev/1/sub/2">
    <subscribedResource>/tm</subscribedResource><encoding>0</encoding><level>+S1</level><limit>1</limit>
    <notificationURI>/ntfy</notificationURI>
  </Resource>
  <status>0</status>
  <subscriptionURI>https://h.example/s</subscriptionURI>
</Notification>""")
    assert [(f.path, f.line) for f in own_checks(doc)] == [("/Notification/Resource/notificationURI", 5)]
