"""Request bodies are valid 2030.5 before anything is stored: 400 with an Error otherwise, and the defect that
stores anything.

reasonCode 0 (invalid request format) for a body that breaks the schema, 1 (invalid request values) for one
whose only failures are values our own checks reject (an undefined enumerated code).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from lxml import etree

from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, start_reference_server
from harness.sep import MEDIA_TYPE_XML, NS
from harness.sep.safexml import local_name, parse_xml
from harness.sep.schema import FAILURE, SchemaSet
from harness.sep.tls import client_context

Q = f"{{{NS}}}"
HEADERS = {"Content-Type": MEDIA_TYPE_XML}


def settings(extra: str = "", attributes: str = "", updated: str = "<updatedTime>1700000000</updatedTime>") -> bytes:
    """A DERSettings body; extra goes after setMaxW, attributes on the root."""
    return (f'<DERSettings xmlns="{NS}"{attributes}><setGradW>50</setGradW><setMaxW><multiplier>0</multiplier>'
            f"<value>4000</value></setMaxW>{extra}{updated}</DERSettings>").encode()


def power_status(source: int) -> bytes:
    return (f'<PowerStatus xmlns="{NS}"><batteryStatus>0</batteryStatus><changedTime>1700000000</changedTime>'
            f"<currentPowerSource>{source}</currentPowerSource></PowerStatus>").encode()


def root_of(response: httpx.Response) -> etree._Element:
    return parse_xml(response.content)


def tls(pki: TestPki, server: ReferenceProcess) -> httpx.Client:
    pair = pki.clients["client"]
    return httpx.Client(base_url=server.base_url, verify=client_context(pair.cert, pair.key, pki.ca), timeout=5)


@pytest.fixture(scope="module")
def servers(pki: TestPki) -> Iterator[dict[str, ReferenceProcess]]:
    options = {"preregister": [(pki.clients["client"].cert, 111115)]}
    with start_reference_server(pki, **options) as clean, \
            start_reference_server(pki, defects=["body-not-validated"], **options) as lax:
        yield {"clean": clean, "body-not-validated": lax}


@pytest.fixture(scope="module")
def http(pki: TestPki, servers: dict[str, ReferenceProcess]) -> Iterator[httpx.Client]:
    with tls(pki, servers["clean"]) as client:
        yield client


@pytest.mark.parametrize(
    ("body", "reason_code"),
    [
        # An element and an attribute no IEEE 2030.5-2018 schema defines, as a newer edition's client sends.
        (settings("<setMaxWhFromNewerEdition>1</setMaxWhFromNewerEdition>"), "0"),
        (settings(updated=""), "0"),  # a required element missing
        (settings().replace(b"<multiplier>0</multiplier><value>4000</value>", b"<value>4000</value><multiplier>0"
                                                                                 b"</multiplier>"), "0"),  # swapped
    ],
)
def test_a_schema_invalid_put_is_400_and_stores_nothing(http: httpx.Client, body: bytes, reason_code: str) -> None:
    before = http.get("/edev/1/der/1/derg").content
    response = http.put("/edev/1/der/1/derg", content=body, headers=HEADERS)
    assert response.status_code == 400 and local_name(root_of(response)) == "Error"
    assert root_of(response).findtext(Q + "reasonCode") == reason_code
    assert http.get("/edev/1/der/1/derg").content == before


def test_an_unknown_attribute_is_accepted_as_the_official_schema_allows(http: httpx.Client) -> None:
    # Every 2030.5-2018 type takes any attribute (xs:anyAttribute, processContents lax): a newer edition's
    # attribute is valid, stored and served back valid; a newer edition's element is not (above).
    body = settings(attributes=' editionOf2030="2023"')
    assert http.put("/edev/1/der/1/derg", content=body, headers=HEADERS).status_code == 204
    served = root_of(http.get("/edev/1/der/1/derg"))
    assert served.get("editionOf2030") == "2023"
    assert [f for f in SchemaSet.bundled().validate(served, "DERSettings") if f.severity == FAILURE] == []


def test_a_reserved_code_is_accepted_as_2030_5_allows(http: httpx.Client) -> None:
    # PowerSourceType 9 is reserved, not forbidden: the schema types it UInt8 and the harness only warns.
    assert http.put("/edev/1/ps", content=power_status(9), headers=HEADERS).status_code == 204
    assert root_of(http.get("/edev/1/ps")).findtext(Q + "currentPowerSource") == "9"
    assert http.put("/edev/1/ps", content=power_status(1), headers=HEADERS).status_code == 204


def test_a_value_2030_5_forbids_is_400_with_reason_code_1(http: httpx.Client) -> None:
    # A schema-valid body whose notificationURI is relative: 2030.5 requires it fully-qualified.
    subscription = (f'<Subscription xmlns="{NS}"><subscribedResource>/edev/1/ps</subscribedResource>'
                    "<encoding>0</encoding><level>+S1</level><limit>1</limit>"
                    "<notificationURI>/ntfy</notificationURI></Subscription>").encode()
    before = root_of(http.get("/edev/1/sub")).get("all")
    response = http.post("/edev/1/sub", content=subscription, headers=HEADERS)
    assert response.status_code == 400 and root_of(response).findtext(Q + "reasonCode") == "1"
    assert root_of(http.get("/edev/1/sub")).get("all") == before
    absolute = subscription.replace(b"<notificationURI>/ntfy", b"<notificationURI>https://client.example/ntfy")
    assert http.post("/edev/1/sub", content=absolute, headers=HEADERS).status_code == 201


def test_posts_are_validated_too(http: httpx.Client) -> None:
    bad_log_event = f'<LogEvent xmlns="{NS}"><createdDateTime>1</createdDateTime></LogEvent>'.encode()
    assert http.post("/edev/1/lel", content=bad_log_event, headers=HEADERS).status_code == 400
    assert root_of(http.get("/edev/1/lel")).get("all") == "0"
    bad_response = f'<Response xmlns="{NS}"><status>1</status></Response>'.encode()
    assert http.post("/rsps/1/rsp", content=bad_response, headers=HEADERS).status_code == 400


def test_what_is_stored_is_served_back_valid(http: httpx.Client) -> None:
    assert http.put("/edev/1/der/1/derg", content=settings(), headers=HEADERS).status_code == 204
    served = root_of(http.get("/edev/1/der/1/derg"))
    assert served.findtext(Q + "setMaxW/" + Q + "value") == "4000"
    assert [f for f in SchemaSet.bundled().validate(served, "DERSettings") if f.severity == FAILURE] == []


def test_body_not_validated_stores_and_serves_a_newer_edition(pki: TestPki, servers: dict) -> None:
    body = settings("<setMaxWhFromNewerEdition>1</setMaxWhFromNewerEdition>", ' editionOf2030="2023"')
    with tls(pki, servers["body-not-validated"]) as lax:
        assert lax.put("/edev/1/der/1/derg", content=body, headers=HEADERS).status_code == 204
        served = root_of(lax.get("/edev/1/der/1/derg"))
    assert served.get("editionOf2030") == "2023" and served.find(Q + "setMaxWhFromNewerEdition") is not None
    # Our own validator rejects our own server's answer: the misbehaviour the independent clients found.
    assert [f for f in SchemaSet.bundled().validate(served, "DERSettings") if f.severity == FAILURE]
