"""SchemaStructure: the type facts of an XSD, on the bundled schema, the official one and small hand-written ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.sep.schema import SchemaSet
from harness.sep.structure import AttributeInfo, ChildInfo, SchemaStructure, StructureError, TypeInfo, WildcardInfo


@pytest.fixture(scope="module")
def bundled() -> SchemaStructure:
    return SchemaSet.bundled().structure()


def test_structure_is_built_once_per_schema_set(bundled: SchemaStructure) -> None:
    assert SchemaSet.bundled().structure() is bundled
    assert repr(bundled) == "SchemaStructure(393 types, 129 global elements)"


def test_validation_never_builds_the_structure() -> None:
    # csip-harness validate must stay fast to start: the structure is built only when asked for.
    code = """
import sys
from lxml import etree
from harness.sep.schema import SchemaSet
schema = SchemaSet.bundled()
assert schema.validate(etree.fromstring(b'<Time xmlns="urn:ieee:std:2030.5:ns"/>'))
assert "harness.sep.structure" not in sys.modules, "validation imported the structure module"
schema.structure()
assert "harness.sep.structure" in sys.modules
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_global_elements_and_their_types(bundled: SchemaStructure) -> None:
    names = bundled.element_names()
    assert len(names) == 129
    assert {"DeviceCapability", "SelfDevice", "Configuration", "DrResponse", "SupportedLocale"} <= names
    assert "Resource" not in names and "TimeLink" not in names
    # Each global element's type is anonymous: its named type plus schemaVer.
    assert bundled.global_type("Time") == "Time"
    assert bundled.global_type("DERControlResponse") == "DERControlResponse"
    assert bundled.global_type("Nope") is None
    assert bundled.root_attributes("Time") == {
        "href": AttributeInfo("href", "xs:anyURI", False, None),
        "pollRate": AttributeInfo("pollRate", "UInt32", False, "900"),
        "schemaVer": AttributeInfo("schemaVer", "SEPVersion", False, "2.1"),
    }
    assert "schemaVer" not in bundled.type_info("Time").attributes  # type: ignore[union-attr]
    assert len(bundled.type_names()) == 393
    assert {"HexBinary160", "SFDIType", "Revision2_3Type", "TimeLink"} <= bundled.type_names()


def test_children_in_schema_order_with_inherited_ones(bundled: SchemaStructure) -> None:
    info = bundled.type_info("Time")
    assert isinstance(info, TypeInfo)
    assert (info.name, info.base, info.simple, info.derivation) == ("Time", "Resource", False, "extension")
    assert list(info.children) == [
        "Resource_r2_3", "currentTime", "dstEndTime", "dstOffset", "dstStartTime", "localTime", "quality",
        "tzOffset", "Time_r2_3",
    ]  # fmt: skip
    assert info.children["currentTime"] == ChildInfo("currentTime", "TimeType", 1, 1)
    assert info.children["localTime"] == ChildInfo("localTime", "TimeType", 0, 1)
    assert info.attributes["href"] == AttributeInfo("href", "xs:anyURI", False, None)
    assert info.attributes["pollRate"].default == "900"
    assert info.open_attributes and info.open_content
    assert info.wildcards == (WildcardInfo("##other", 0, None, "lax"),)

    der_control = bundled.type_info("DERControl")
    assert der_control is not None
    # Each type of the hierarchy (Resource, RespondableResource, ...) ends its part with its revision slot.
    assert list(der_control.children)[:5] == ["Resource_r2_3", "RespondableResource_r2_3", "mRID", "description",
                                              "version"]
    assert der_control.children["version"].default == "0"
    assert der_control.attributes["responseRequired"] == AttributeInfo("responseRequired", "HexBinary8", False, "00")
    assert bundled.child_type("DERControl", "DERControlBase") == "DERControlBase"
    assert bundled.child_type("DeviceCapability", "TimeLink") == "TimeLink"
    assert bundled.child_type("DeviceCapability", "Nope") is None
    assert bundled.child_type("Nope", "TimeLink") is None


def test_links_have_their_own_types(bundled: SchemaStructure) -> None:
    time_link = bundled.type_info("TimeLink")
    assert time_link is not None and time_link.base == "Link"
    assert time_link.attributes["href"].required
    list_link = bundled.type_info("EndDeviceListLink")
    assert list_link is not None and list_link.base == "ListLink"
    assert list_link.attributes["all"] == AttributeInfo("all", "UInt32", False, None)
    curve_link = bundled.type_info("DERCurveLink")
    assert curve_link is not None and curve_link.attributes["disabled"].default == "false"


def test_repeatable_children(bundled: SchemaStructure) -> None:
    assert bundled.repeatable("EndDeviceList") == {"EndDevice"}
    assert bundled.repeatable("DERCurve") == {"CurveData"}  # 1..10
    assert bundled.type_info("DERCurve").children["CurveData"].max_occurs == 10  # type: ignore[union-attr]
    assert bundled.repeatable("Time") == frozenset()
    assert bundled.repeatable("Nope") == frozenset()


def test_derived_types_are_what_xsi_type_may_name(bundled: SchemaStructure) -> None:
    links = bundled.derived_types("Link")
    assert {"Link", "ListLink", "TimeLink", "EndDeviceListLink", "DERCurveLink"} <= links
    assert "Resource" not in links
    assert bundled.derived_types("ListLink") >= {"EndDeviceListLink", "ListLink"}
    assert "TimeLink" not in bundled.derived_types("ListLink")
    assert bundled.derived_types("TimeLink") == {"TimeLink"}
    resources = bundled.derived_types("Resource")
    assert {"Resource", "Time", "DERControlResponse", "DrResponse", "SupportedLocale", "List"} <= resources
    assert "Link" not in resources and "DateTimeInterval" not in resources
    assert bundled.derived_types("Response") == {
        "Response", "DERControlResponse", "DefaultDERControlResponse", "DrResponse",
        "FlowReservationResponseResponse", "PriceResponse", "TextResponse",
    }  # fmt: skip
    # Simple types: restrictions (SubscribableType) and value types extending them (PowerSourceType).
    assert {"UInt8", "SubscribableType", "PowerSourceType", "DERType"} <= bundled.derived_types("UInt8")
    assert bundled.derived_types("UInt40") == {"UInt40", "SFDIType"}
    assert {"xs:string", "String32", "SEPVersion", "LocaleType"} <= bundled.derived_types("xs:string")
    assert bundled.derived_types("Nope") == frozenset()


def test_simple_types_and_value_types(bundled: SchemaStructure) -> None:
    uint40 = bundled.type_info("UInt40")
    assert uint40 is not None
    assert (uint40.simple, uint40.base, uint40.derivation) == (True, "xs:unsignedLong", "restriction")
    assert uint40.facets == {"maxInclusive": "281474976710655"}  # the official bound, 2^48-1
    assert bundled.type_info("Int48").facets == {  # type: ignore[union-attr]
        "minInclusive": "-140737488355328", "maxInclusive": "140737488355328",
    }
    assert bundled.type_info("HexBinary160").facets == {"maxLength": "20"}  # type: ignore[union-attr]
    sfdi = bundled.type_info("SFDIType")
    assert sfdi is not None
    assert (sfdi.simple, sfdi.base, sfdi.derivation, sfdi.children) == (True, "UInt40", "extension", {})
    assert sfdi.open_attributes and not sfdi.open_content
    assert bundled.builtin_base("SFDIType") == "xs:unsignedLong"
    assert bundled.builtin_base("PerCentControlType") == "xs:unsignedShort"  # complex content over a value type
    assert bundled.type_info("PerCentControlType").simple  # type: ignore[union-attr]
    assert bundled.builtin_base("Time") is None
    assert bundled.builtin_base("Nope") is None
    revision = bundled.type_info("Revision2_3Type")
    assert revision is not None and revision.children == {}
    assert revision.wildcards == (WildcardInfo("##targetNamespace", 1, None, "lax"),)


# --- the official schema, when a licensed copy is available ------------------------------------------


def test_official_schema_has_the_same_structure(official_path: Path, bundled: SchemaStructure) -> None:
    official = SchemaStructure.from_path(official_path)
    assert official.element_names() == bundled.element_names()
    assert official.type_names() == bundled.type_names()
    for name in sorted(official.element_names()):
        assert official.global_type(name) == bundled.global_type(name), name
        assert official.root_attributes(name) == bundled.root_attributes(name), name
    for name in sorted(official.type_names()):
        theirs, ours = official.type_info(name), bundled.type_info(name)
        assert theirs is not None and ours is not None
        assert theirs.children == ours.children, name
        assert list(theirs.children) == list(ours.children), name  # the order too
        assert (theirs.base, theirs.simple, theirs.derivation, theirs.facets, theirs.attributes,
                theirs.open_attributes, theirs.open_content, theirs.wildcards) == (
            ours.base, ours.simple, ours.derivation, ours.facets, ours.attributes,
            ours.open_attributes, ours.open_content, ours.wildcards,
        ), name
        assert official.derived_types(name) == bundled.derived_types(name), name


# --- other schemas: includes, groups, choices, references --------------------------------------------


XS_HEAD = '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:t="urn:t" targetNamespace="urn:t"'


def test_includes_groups_choices_and_references(tmp_path: Path) -> None:
    (tmp_path / "part.xsd").write_text(
        f'{XS_HEAD} xmlns="urn:t" elementFormDefault="qualified">'
        '<xs:simpleType name="Code"><xs:restriction base="xs:int"><xs:enumeration value="1"/>'
        '<xs:enumeration value="2"/></xs:restriction></xs:simpleType>'
        '<xs:element name="note" type="xs:string"/></xs:schema>'
    )
    main = tmp_path / "main.xsd"
    main.write_text(
        f'{XS_HEAD} elementFormDefault="qualified">'
        '<xs:include schemaLocation="part.xsd"/>'
        '<xs:include schemaLocation="https://example.invalid/never-fetched.xsd"/>'
        '<xs:attributeGroup name="Stamp"><xs:attribute name="at" type="xs:dateTime" use="required"/>'
        '<xs:anyAttribute/></xs:attributeGroup>'
        '<xs:group name="Tail"><xs:sequence><xs:element name="tail" type="xs:int" maxOccurs="3"/></xs:sequence>'
        "</xs:group>"
        '<xs:complexType name="Base"><xs:sequence><xs:element name="id" type="xs:int"/></xs:sequence>'
        '<xs:attributeGroup ref="t:Stamp"/></xs:complexType>'
        '<xs:complexType name="Thing"><xs:complexContent><xs:extension base="t:Base"><xs:sequence>'
        '<xs:choice><xs:element name="a" type="t:Code"/><xs:element name="b" type="xs:string"/></xs:choice>'
        '<xs:element ref="t:note" minOccurs="0"/><xs:group ref="t:Tail" maxOccurs="2"/>'
        '</xs:sequence></xs:extension></xs:complexContent></xs:complexType>'
        '<xs:complexType name="Price"><xs:simpleContent><xs:restriction base="t:Money">'
        '<xs:maxInclusive value="100"/></xs:restriction></xs:simpleContent></xs:complexType>'
        '<xs:complexType name="Money"><xs:simpleContent><xs:extension base="xs:decimal">'
        '<xs:attribute name="currency" type="xs:string" default="EUR"/></xs:extension></xs:simpleContent>'
        "</xs:complexType>"
        '<xs:element name="Thing" type="t:Thing"/></xs:schema>'
    )
    structure = SchemaStructure.from_path(main)
    assert structure.element_names() == {"Thing", "note"}
    assert structure.global_type("Thing") == "Thing"
    assert structure.type_names() == {"Code", "Base", "Thing", "Price", "Money"}
    thing = structure.type_info("Thing")
    assert thing is not None
    assert thing.children == {
        "id": ChildInfo("id", "xs:int", 1, 1),
        "a": ChildInfo("a", "Code", 0, 1),  # one branch of a choice may be absent
        "b": ChildInfo("b", "xs:string", 0, 1),
        "note": ChildInfo("note", "xs:string", 0, 1),
        "tail": ChildInfo("tail", "xs:int", 1, 6),  # group once or twice, element one to three times each
    }
    assert thing.attributes == {"at": AttributeInfo("at", "xs:dateTime", True, None)}
    assert thing.open_attributes and not thing.open_content
    assert structure.repeatable("Thing") == {"tail"}
    assert structure.type_info("Code").facets == {"enumeration": "1|2"}  # type: ignore[union-attr]
    price = structure.type_info("Price")
    assert price is not None
    assert (price.simple, price.base, price.derivation, price.facets) == (
        True, "Money", "restriction", {"maxInclusive": "100"}
    )
    assert price.attributes["currency"].default == "EUR"
    assert structure.builtin_base("Price") == "xs:decimal"
    assert structure.derived_types("xs:decimal") == {"xs:decimal", "Money", "Price"}


def test_a_schema_without_target_namespace(tmp_path: Path) -> None:
    path = tmp_path / "plain.xsd"
    path.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
        '<xs:complexType name="Box"><xs:sequence><xs:element name="size" type="xs:int"/></xs:sequence>'
        '</xs:complexType><xs:element name="Box" type="Box"/></xs:schema>'
    )
    structure = SchemaStructure.from_path(path)
    assert structure.global_type("Box") == "Box"
    assert structure.child_type("Box", "size") == "xs:int"


def test_not_a_schema_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StructureError, match="expected an xs:schema root element, saw Widget"):
        SchemaStructure.from_bytes(b"<Widget/>")
    with pytest.raises(StructureError, match="not well-formed"):
        SchemaStructure.from_bytes(b"<xs:schema")
    with pytest.raises(FileNotFoundError):
        SchemaStructure.from_path(tmp_path / "missing.xsd")
