"""The bundled schema is generated from our model: the shipped XSD is the generator's output, the model's
notation is checked, and the schema holds the whole IEEE 2030.5-2018 resource model under its official names."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from harness.sep.schema import SchemaSet
from harness.sep.schema_build import MODEL_PATH, XSD_PATH, ModelError, build_xsd, main, parse_model

XS = "{http://www.w3.org/2001/XMLSchema}"
# Five lines every test model starts with: the first line under test is line 6.
HEADER = (
    "simple SEPVersion xs:string  pattern=[0-9]+[.][0-9]+\nrootattr schemaVer SEPVersion = 2.1\n"
    "revision Rev\n    ...  ##targetNamespace  +\n\n"
)


def test_shipped_xsd_is_the_models_output() -> None:
    model = parse_model(MODEL_PATH.read_text(encoding="utf-8"), str(MODEL_PATH))
    assert XSD_PATH.read_text(encoding="utf-8") == build_xsd(model), (
        "harness2030_5.xsd is not the output of harness2030_5.model: run python -m harness.sep.schema_build"
    )


def test_check_mode_of_the_command(tmp_path: Path) -> None:
    out = tmp_path / "out.xsd"
    result = subprocess.run([sys.executable, "-m", "harness.sep.schema_build", "--out", str(out), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "is not the output of" in result.stderr and "python -m harness.sep.schema_build" in result.stderr
    assert main(["--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == XSD_PATH.read_text(encoding="utf-8")
    assert main(["--out", str(out), "--check"]) == 0


def test_model_declares_the_whole_2030_5_2018_schema() -> None:
    root = etree.parse(str(XSD_PATH)).getroot()
    complex_types = root.findall(XS + "complexType")
    simple_types = root.findall(XS + "simpleType")
    elements = root.findall(XS + "element")
    # The official 2030.5-2018 schema's counts: 364 complex and 29 simple types, 129 global elements.
    assert (len(complex_types), len(simple_types), len(elements)) == (364, 29, 129)
    names = {t.get("name") for t in complex_types + simple_types}
    assert {"HexBinary160", "SFDIType", "Revision2_3Type", "TimeLink", "EndDeviceListLink", "DERCurveLink",
            "DrResponse", "SupportedLocale", "Configuration", "SelfDevice", "DeviceStatus"} <= names
    roots = {e.get("name") for e in elements}
    assert {"SelfDevice", "Configuration", "DeviceStatus", "DrResponse", "SupportedLocale"} <= roots
    assert not {"Resource", "MirrorReadingSet", "Link", "TimeLink"} & roots
    # Every complex type accepts unknown attributes, as the official schema's do.
    assert all(t.find(f".//{XS}anyAttribute") is not None for t in complex_types)


def test_bundled_schema_compiles_in_both_validators() -> None:
    schema = SchemaSet.bundled()
    assert schema.knows("DeviceCapability")
    import xmlschema

    assert xmlschema.XMLSchema(str(XSD_PATH)).is_valid(
        '<Time xmlns="urn:ieee:std:2030.5:ns"><currentTime>1</currentTime><dstEndTime>0</dstEndTime>'
        "<dstOffset>0</dstOffset><dstStartTime>0</dstStartTime><quality>7</quality><tzOffset>0</tzOffset></Time>"
    )


def test_generated_xsd_of_a_small_model() -> None:
    model = parse_model(
        HEADER
        + """
## Tiny
# a comment that travels into the XSD
simple Small  xs:unsignedByte  max=9
value  Code   Small
type Base
    ...
    @href  xs:anyURI  required
type Thing : Base  root
    count  Small  ?  = 3
    item   Code   1..4
    @mode  Small  = 1
links Base: ThingLink
type Pct : Code
    @disabled  xs:boolean  = false
""",
        "tiny.model",
    )
    xsd = build_xsd(model)
    assert "<!-- == Tiny == -->" in xsd and "<!-- a comment that travels into the XSD -->" in xsd
    assert '<xs:element name="count" type="Small" minOccurs="0" default="3"/>' in xsd
    assert '<xs:element name="item" type="Code" maxOccurs="4"/>' in xsd
    # The revision slot sits before the trailing wildcard, and every link type gets one.
    assert ('<xs:element name="Base_r2_3" type="Rev" minOccurs="0"/>\n'
            '      <xs:any namespace="##other" processContents="lax" minOccurs="0" maxOccurs="unbounded"/>') in xsd
    assert '<xs:element name="ThingLink_r2_3" type="Rev" minOccurs="0"/>' in xsd
    assert "Pct_r2_3" not in xsd  # simple content: no element slot
    schema = etree.XMLSchema(etree.fromstring(xsd.encode()))

    def valid(attributes: str, item: str) -> bool:
        return bool(schema.validate(etree.fromstring(
            f'<Thing xmlns="urn:ieee:std:2030.5:ns" href="/t" {attributes}><item>{item}</item></Thing>'.encode()
        )))

    assert valid('schemaVer="2.1" x="1"', "9")
    assert not valid("", "10")  # Small's max is 9
    assert not valid('schemaVer="2"', "1")  # the root attribute keeps its type


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("type A\n    b  Missing\n", "element A/b names type 'Missing', which the model does not declare"),
        ("simple A xs:int\nsimple A xs:int\n", "m:7: A is declared twice"),
        ("type A\n    b  xs:int  many\n", "m:7: expected an occurrence (?, *, +, MIN..MAX), saw 'many'"),
        ("simple A xs:int  size=3\n", "m:6: expected a facet (min, max, maxLength, pattern)=VALUE, saw 'size=3'"),
        ("    b  xs:int\n", "m:6: an indented line must follow a type declaration"),
        ("type A\n    ...\n    b  xs:int\n", "m:8: a child element after '...' would make the content ambiguous"),
        ("simple S xs:int\ntype A : S\n", "type A extends simple type S; use 'value'"),
        ("frobnicate A\n", "m:6: expected simple, value, type, links, revision, rootattr or '## ', saw 'frobnicate'"),
        ("type A\n    @x  xs:int  required  = 1\n", "m:7: a required attribute has no default"),
        ("type A\n    b  xs:int  3..2\n", "occurrence '3..2' has its maximum below its minimum"),
    ],
)
def test_model_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ModelError) as caught:
        parse_model(HEADER + text, "m")
    assert message in str(caught.value)


def test_built_package_ships_the_schema_and_its_model(built_package: Path, tmp_path: Path) -> None:
    build = built_package
    schema_dir = build / "harness" / "sep" / "schema"
    assert sorted(p.name for p in schema_dir.iterdir()) == ["harness2030_5.model", "harness2030_5.xsd"]
    env = {**os.environ, "PYTHONPATH": str(build)}
    check = subprocess.run([sys.executable, "-m", "harness.sep.schema_build", "--check"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60, check=False)
    assert check.returncode == 0, check.stderr
    xsd, model = schema_dir / "harness2030_5.xsd", schema_dir / "harness2030_5.model"
    assert check.stdout.strip() == f"{xsd} matches {model}"  # the built copy, not the checkout's


def test_no_text_of_the_official_schema_is_ours(official_path: Path) -> None:
    # Only with CSIP_OFFICIAL_SCHEMA: no sentence of the official file's documentation (nor its notice)
    # appears in what we ship.
    ours = re.sub(r"\s+", " ", (XSD_PATH.read_text(encoding="utf-8") + MODEL_PATH.read_text(encoding="utf-8")))
    official = etree.parse(str(official_path)).getroot()
    sentences = set()
    for doc in official.iter(XS + "documentation"):
        for sentence in re.split(r"(?<=[.;:])\s+", re.sub(r"\s+", " ", doc.text or "")):
            if len(sentence.split()) >= 6:
                sentences.add(sentence.strip())
    assert len(sentences) > 500
    assert [s for s in sentences if s in ours] == []
