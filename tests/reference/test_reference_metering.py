"""The Metering Mirror over mutual TLS: MirrorUsagePoints, MirrorMeterReadings, and the UsagePoints under /upt.

Rules a-l of the 2030.5 Metering Mirror application guidelines: 201 for a new mirror, 204 with its Location
for a known mRID, readings POSTed to the mirror (201/204 with the MeterReading's Location), 400 for a new
MirrorMeterReading without a ReadingType, first-level elements only on a GET of the mirror.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from lxml import etree

from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, start_reference_server
from harness.sep import MEDIA_TYPE_XML, NS
from harness.sep.identity import certificate_der, lfdi
from harness.sep.safexml import local_name, parse_xml
from harness.sep.schema import FAILURE, SchemaSet
from harness.sep.tls import client_context

Q = f"{{{NS}}}"
HEADERS = {"Content-Type": MEDIA_TYPE_XML}
READING_TYPE = (
    "<ReadingType><accumulationBehaviour>12</accumulationBehaviour><commodity>1</commodity>"
    "<dataQualifier>2</dataQualifier><flowDirection>1</flowDirection><intervalLength>300</intervalLength>"
    "<kind>37</kind><phase>0</phase><powerOfTenMultiplier>0</powerOfTenMultiplier><uom>38</uom></ReadingType>"
)


def mirror(mrid: str, device_lfdi: str, description: str = "site meter", readings: str = "") -> bytes:
    return (f'<MirrorUsagePoint xmlns="{NS}"><mRID>{mrid}</mRID><description>{description}</description>'
            f"<roleFlags>49</roleFlags><serviceCategoryKind>0</serviceCategoryKind><status>1</status>"
            f"<deviceLFDI>{device_lfdi}</deviceLFDI>{readings}</MirrorUsagePoint>").encode()


def meter_reading(mrid: str, *, reading_type: bool = True, value: int | None = None, sets: str = "",
                  namespace: bool = False) -> str:
    xmlns = f' xmlns="{NS}"' if namespace else ""
    reading = f"<Reading><value>{value}</value></Reading>" if value is not None else ""
    return (f"<MirrorMeterReading{xmlns}><mRID>{mrid}</mRID><description>real power</description>{sets}"
            f"{reading}{READING_TYPE if reading_type else ''}</MirrorMeterReading>")


def reading_set(mrid: str, start: int, values: list[int]) -> str:
    readings = "".join(
        f"<Reading><timePeriod><duration>300</duration><start>{start + 300 * n}</start></timePeriod>"
        f"<value>{value}</value><localID>{n + 1:02X}</localID></Reading>" for n, value in enumerate(values)
    )
    return (f"<MirrorReadingSet><mRID>{mrid}</mRID><timePeriod><duration>{300 * len(values)}</duration>"
            f"<start>{start}</start></timePeriod>{readings}</MirrorReadingSet>")


def reading_list(*readings: str) -> bytes:
    return (f'<MirrorMeterReadingList xmlns="{NS}" all="{len(readings)}" results="{len(readings)}">'
            f"{''.join(readings)}</MirrorMeterReadingList>").encode()


def root_of(response: httpx.Response) -> etree._Element:
    return parse_xml(response.content)


def texts(root: etree._Element, tag: str) -> list[str]:
    return [e.findtext(Q + "value") or "" for e in root.findall(Q + tag)]


def start(pki: TestPki, *defects: str) -> ReferenceProcess:
    return start_reference_server(pki, defects=list(defects), preregister=[(pki.clients["client"].cert, 111115)])


def tls(pki: TestPki, server: ReferenceProcess) -> httpx.Client:
    pair = pki.clients["client"]
    return httpx.Client(base_url=server.base_url, verify=client_context(pair.cert, pair.key, pki.ca), timeout=5)


@pytest.fixture(scope="module")
def device_lfdi(pki: TestPki) -> str:
    return lfdi(certificate_der(pki.clients["client"].cert))


@pytest.fixture(scope="module")
def server(pki: TestPki) -> Iterator[ReferenceProcess]:
    with start(pki) as started:
        yield started


@pytest.fixture(scope="module")
def http(pki: TestPki, server: ReferenceProcess) -> Iterator[httpx.Client]:
    with tls(pki, server) as client:
        yield client


def post(http: httpx.Client, path: str, body: bytes) -> httpx.Response:
    return http.post(path, content=body, headers=HEADERS)


def test_a_new_mirror_is_201_and_a_get_shows_only_its_first_level(http: httpx.Client, device_lfdi: str) -> None:
    created = post(http, "/mup", mirror("01" * 16, device_lfdi, readings=meter_reading("A1" * 16, value=1500)))
    assert (created.status_code, created.content) == (201, b"")
    location = created.headers["location"]
    served = root_of(http.get(location))
    assert served.get("href") == location
    assert [local_name(c) for c in served] == ["mRID", "description", "roleFlags", "serviceCategoryKind",
                                              "status", "deviceLFDI"]
    listed = root_of(http.get("/mup", params={"l": 255}))
    assert [m.get("href") for m in listed.findall(Q + "MirrorUsagePoint")] == [location]
    assert listed.find(Q + "MirrorUsagePoint/" + Q + "MirrorMeterReading") is None


def test_the_mirror_appears_under_upt(http: httpx.Client, device_lfdi: str) -> None:
    response = post(http, "/mup", mirror("02" * 16, device_lfdi, readings=meter_reading("B1" * 16, value=2500)))
    index = response.headers["location"].rsplit("/", 1)[1]
    usage_points = root_of(http.get("/upt", params={"l": 255}))
    assert root_of(http.get("/dcap")).find(Q + "UsagePointListLink").get("all") == usage_points.get("all")
    [usage_point] = [u for u in usage_points.findall(Q + "UsagePoint") if u.get("href") == f"/upt/{index}"]
    assert [(local_name(c), c.text) for c in usage_point][:6] == [
        ("mRID", "02" * 16), ("description", "site meter"), ("roleFlags", "49"), ("serviceCategoryKind", "0"),
        ("status", "1"), ("deviceLFDI", device_lfdi)]
    assert etree.tostring(usage_point) == etree.tostring(root_of(http.get(f"/upt/{index}")))
    readings = root_of(http.get(usage_point.find(Q + "MeterReadingListLink").get("href"), params={"l": 9}))
    [reading] = readings.findall(Q + "MeterReading")
    assert (reading.get("href"), reading.findtext(Q + "mRID")) == (f"/upt/{index}/mr/1", "B1" * 16)
    reading_type = root_of(http.get(reading.find(Q + "ReadingTypeLink").get("href")))
    assert (reading_type.findtext(Q + "uom"), reading_type.findtext(Q + "kind")) == ("38", "37")
    latest = root_of(http.get(reading.find(Q + "ReadingLink").get("href")))
    assert (local_name(latest), latest.findtext(Q + "value")) == ("Reading", "2500")
    assert reading.find(Q + "ReadingSetListLink").get("all") == "0"


def test_readings_posted_to_the_mirror(http: httpx.Client, device_lfdi: str) -> None:
    created = post(http, "/mup", mirror("03" * 16, device_lfdi, readings=meter_reading("C1" * 16)))
    mup = created.headers["location"]
    upt = mup.replace("/mup/", "/upt/")
    # h.1: the same mRID updates that MeterReading (204), its Location the MeterReading (f).
    sets = reading_set("D1" * 16, 1_700_000_000, [10, 20, 30])
    updated = post(http, mup, meter_reading("C1" * 16, reading_type=False, sets=sets, namespace=True).encode())
    assert (updated.status_code, updated.headers["location"]) == (204, f"{upt}/mr/1")
    sets_list = root_of(http.get(f"{upt}/mr/1/rs", params={"l": 9}))
    [posted_set] = sets_list.findall(Q + "ReadingSet")
    assert posted_set.findtext(Q + "mRID") == "D1" * 16
    readings = root_of(http.get(posted_set.find(Q + "ReadingListLink").get("href"), params={"l": 9}))
    assert texts(readings, "Reading") == ["10", "20", "30"]
    assert [r.findtext(Q + "localID") for r in readings.findall(Q + "Reading")] == ["01", "02", "03"]
    assert root_of(http.get(f"{upt}/mr/1/rs/1/r/2")).findtext(Q + "value") == "20"
    assert root_of(http.get(f"{upt}/mr/1/r")).findtext(Q + "value") == "30"  # the latest reading
    page = root_of(http.get(f"{upt}/mr/1/rs/1/r", params={"s": 1, "l": 1}))
    assert (page.get("all"), page.get("results"), texts(page, "Reading")) == ("3", "1", ["20"])
    # i.1: a MirrorReadingSet of a known mRID replaces it; i.2: a new one is added, newest start first.
    replace = reading_set("D1" * 16, 1_700_000_000, [11, 21])
    newer = reading_set("D2" * 16, 1_700_000_900, [40])
    again = post(http, mup, meter_reading("C1" * 16, reading_type=False, sets=replace + newer, namespace=True).encode())
    assert again.status_code == 204
    sets_list = root_of(http.get(f"{upt}/mr/1/rs", params={"l": 9}))
    assert [s.findtext(Q + "mRID") for s in sets_list.findall(Q + "ReadingSet")] == ["D2" * 16, "D1" * 16]
    assert texts(root_of(http.get(f"{upt}/mr/1/rs/1/r", params={"l": 9})), "Reading") == ["11", "21"]
    after = root_of(http.get(f"{upt}/mr/1/rs", params={"a": 1_700_000_000, "l": 9}))
    assert [s.findtext(Q + "mRID") for s in after.findall(Q + "ReadingSet")] == ["D2" * 16]


def test_new_meter_readings_need_a_reading_type(http: httpx.Client, device_lfdi: str) -> None:
    mup = post(http, "/mup", mirror("04" * 16, device_lfdi)).headers["location"]
    upt = mup.replace("/mup/", "/upt/")
    refused = post(http, mup, meter_reading("E1" * 16, reading_type=False, value=1, namespace=True).encode())
    assert refused.status_code == 400 and root_of(refused).findtext(Q + "reasonCode") == "1"
    assert root_of(http.get(f"{upt}/mr")).get("all") == "0"
    created = post(http, mup, meter_reading("E1" * 16, value=1, namespace=True).encode())
    assert (created.status_code, created.headers["location"]) == (201, f"{upt}/mr/1")
    # A list answers with the MeterReadingList (g): 201 when it created one, 204 when it only updated.
    both = reading_list(meter_reading("E1" * 16, value=2), meter_reading("E2" * 16, value=3))
    assert (post(http, mup, both).status_code, post(http, mup, both).status_code) == (201, 204)
    assert post(http, mup, both).headers["location"] == f"{upt}/mr"
    # One MirrorMeterReading of a list failing h.3 refuses the whole list.
    mixed = reading_list(meter_reading("E1" * 16, value=4), meter_reading("E3" * 16, reading_type=False))
    assert post(http, mup, mixed).status_code == 400
    listing = root_of(http.get(f"{upt}/mr", params={"l": 9}))
    assert [m.findtext(Q + "mRID") for m in listing.findall(Q + "MeterReading")] == ["E1" * 16, "E2" * 16]
    assert root_of(http.get(f"{upt}/mr/1/r")).findtext(Q + "value") == "2"


@pytest.mark.parametrize(
    "body",
    [
        b"<MirrorUsagePoint/>",
        f'<MirrorUsagePoint xmlns="{NS}"/>'.encode(),
        f'<EndDevice xmlns="{NS}"><sFDI>1</sFDI><changedTime>1</changedTime></EndDevice>'.encode(),
        f'<MirrorMeterReading xmlns="{NS}"><description>no mRID</description></MirrorMeterReading>'.encode(),
    ],
)
def test_a_wrong_body_on_a_mirror_is_400(http: httpx.Client, device_lfdi: str, body: bytes) -> None:
    mup = post(http, "/mup", mirror("05" * 16, device_lfdi)).headers["location"]
    response = post(http, mup, body)
    assert response.status_code == 400 and local_name(root_of(response)) == "Error"
    assert root_of(response).findtext(Q + "reasonCode") == "0"


def test_a_known_mrid_overwrites_the_mirror(http: httpx.Client, device_lfdi: str) -> None:
    first = post(http, "/mup", mirror("0E" * 16, device_lfdi, "first"))
    count = root_of(http.get("/mup")).get("all")
    again = post(http, "/mup", mirror("0e" * 16, device_lfdi, "second", readings=meter_reading("F1" * 16, value=9)))
    # Rule a.4: written over the existing mirror (mRIDs compare as hex, whatever their case), 204 No Content
    # with the mirror's Location.
    assert (again.status_code, again.headers["location"], again.content) == (204, first.headers["location"], b"")
    assert root_of(http.get("/mup")).get("all") == count
    upt = first.headers["location"].replace("/mup/", "/upt/")
    assert root_of(http.get(upt)).findtext(Q + "description") == "second"
    assert root_of(http.get(f"{upt}/mr/1/r")).findtext(Q + "value") == "9"


def test_deleting_a_mirror_deletes_its_usage_point(http: httpx.Client, device_lfdi: str) -> None:
    mup = post(http, "/mup", mirror("07" * 16, device_lfdi, readings=meter_reading("A7" * 16))).headers["location"]
    upt = mup.replace("/mup/", "/upt/")
    assert http.get(upt).status_code == 200
    assert http.delete(mup).status_code == 204
    assert (http.get(mup).status_code, http.get(upt).status_code, http.get(f"{upt}/mr/1").status_code) == (
        404, 404, 404)


def test_every_metering_resource_is_schema_valid(http: httpx.Client, device_lfdi: str) -> None:
    sets = reading_set("A8" * 16, 1_700_000_000, [1, 2])
    created = post(http, "/mup", mirror("08" * 16, device_lfdi, readings=meter_reading("B8" * 16, value=5, sets=sets)))
    upt = created.headers["location"].replace("/mup/", "/upt/")
    schema = SchemaSet.bundled()
    seen: dict[str, list[str]] = {}
    todo = ["/mup", "/upt"]
    while todo:
        href = todo.pop()
        if href in seen:
            continue
        response = http.get(href, params={"l": 255})
        assert response.status_code == 200, href
        root = root_of(response)
        seen[href] = [f.message for f in schema.validate(root) if f.severity == FAILURE]
        todo += [e.get("href") for e in root.iter() if e.get("href") and e.get("href") not in seen]
    assert {f"{upt}/mr/1/rt", f"{upt}/mr/1/r", f"{upt}/mr/1/rs/1/r/2"} <= seen.keys()
    assert {href: problems for href, problems in seen.items() if problems} == {}


# --- defects ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def defect_servers(pki: TestPki) -> Iterator[dict[str, ReferenceProcess]]:
    names = ["mup-duplicate-mrid", "mup-get-includes-readings", "mup-readings-refused", "upt-empty"]
    started = {name: start(pki, name) for name in names}
    try:
        yield started
    finally:
        for process in started.values():
            process.stop()


def test_mup_duplicate_mrid_creates_a_second_mirror(defect_servers: dict, pki: TestPki, device_lfdi: str) -> None:
    with tls(pki, defect_servers["mup-duplicate-mrid"]) as http:
        first = post(http, "/mup", mirror("09" * 16, device_lfdi))
        second = post(http, "/mup", mirror("09" * 16, device_lfdi))
        assert (first.status_code, second.status_code) == (201, 201)
        assert first.headers["location"] != second.headers["location"]
        assert root_of(http.get("/mup")).get("all") == "2"


def test_mup_get_includes_readings(defect_servers: dict, pki: TestPki, device_lfdi: str) -> None:
    with tls(pki, defect_servers["mup-get-includes-readings"]) as http:
        mup = post(http, "/mup", mirror("0A" * 16, device_lfdi, readings=meter_reading("AA" * 16))).headers["location"]
        served = root_of(http.get(mup))
        assert served.find(Q + "MirrorMeterReading") is not None


def test_mup_readings_refused(defect_servers: dict, pki: TestPki, device_lfdi: str) -> None:
    with tls(pki, defect_servers["mup-readings-refused"]) as http:
        mup = post(http, "/mup", mirror("0B" * 16, device_lfdi)).headers["location"]
        refused = post(http, mup, meter_reading("BB" * 16, value=1, namespace=True).encode())
        assert (refused.status_code, refused.headers["allow"]) == (405, "GET, HEAD, DELETE")


def test_upt_empty(defect_servers: dict, pki: TestPki, device_lfdi: str) -> None:
    with tls(pki, defect_servers["upt-empty"]) as http:
        mup = post(http, "/mup", mirror("0C" * 16, device_lfdi, readings=meter_reading("CC" * 16))).headers["location"]
        assert root_of(http.get("/upt")).get("all") == "0"
        assert http.get(mup.replace("/mup/", "/upt/")).status_code == 404
