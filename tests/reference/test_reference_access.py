"""Per-client authorisation: a device certificate sees and changes only its own EndDevice and mirrors.

Two registered device certificates ("client" and "other") on one server, over real mutual TLS. A foreign
per-client resource that exists is 403 Forbidden (2030.5 §6.2.3 ACL denies it), one that does not exist 404.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from lxml import etree

from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, start_reference_server
from harness.sep import MEDIA_TYPE_XML, NS
from harness.sep.identity import certificate_der, lfdi, sfdi
from harness.sep.safexml import parse_xml
from harness.sep.tls import client_context

Q = f"{{{NS}}}"
HEADERS = {"Content-Type": MEDIA_TYPE_XML}
OWN_PATHS = ["", "/rg", "/di", "/ps", "/fsa", "/fsa/1", "/der", "/der/1", "/der/1/dercap", "/der/1/derg",
             "/der/1/ders", "/der/1/dera", "/lel", "/sub"]
SHARED_PATHS = ["/dcap", "/tm", "/derp", "/derp/1", "/derp/1/dderc", "/derp/1/derc", "/derp/1/derc/1", "/derp/1/dc",
                "/derp/1/dc/1", "/rsps/1/rsp"]


def start(pki: TestPki, *defects: str) -> ReferenceProcess:
    """A server with "client" (/edev/1) and "other" (/edev/2) pre-registered and two synthetic EndDevices."""
    preregister = [(pki.clients["client"].cert, 111115), (pki.clients["other"].cert, 111115)]
    return start_reference_server(pki, defects=list(defects), preregister=preregister, extra_enddevices=2)


def tls(pki: TestPki, server: ReferenceProcess, name: str) -> httpx.Client:
    pair = pki.clients[name]
    return httpx.Client(base_url=server.base_url, verify=client_context(pair.cert, pair.key, pki.ca), timeout=5)


def root_of(response: httpx.Response) -> etree._Element:
    return parse_xml(response.content)


def identity(pki: TestPki, name: str) -> tuple[str, int]:
    der = certificate_der(pki.clients[name].cert)
    return lfdi(der), sfdi(der)


def end_device_body(lfdi_value: str | None, sfdi_value: int, changed: int) -> bytes:
    lfdi_element = f"<lFDI>{lfdi_value}</lFDI>" if lfdi_value else ""
    return (f'<EndDevice xmlns="{NS}">{lfdi_element}<sFDI>{sfdi_value}</sFDI>'
            f"<changedTime>{changed}</changedTime></EndDevice>").encode()


def mirror_body(mrid: str, device_lfdi: str) -> bytes:
    return (f'<MirrorUsagePoint xmlns="{NS}"><mRID>{mrid}</mRID><roleFlags>49</roleFlags>'
            f"<serviceCategoryKind>0</serviceCategoryKind><status>1</status><deviceLFDI>{device_lfdi}</deviceLFDI>"
            "</MirrorUsagePoint>").encode()


@pytest.fixture(scope="module")
def server(pki: TestPki) -> Iterator[ReferenceProcess]:
    with start(pki) as started:
        yield started


@pytest.fixture(scope="module")
def alice(pki: TestPki, server: ReferenceProcess) -> Iterator[httpx.Client]:
    """The "client" certificate: /edev/1."""
    with tls(pki, server, "client") as http:
        yield http


@pytest.fixture(scope="module")
def bob(pki: TestPki, server: ReferenceProcess) -> Iterator[httpx.Client]:
    """The "other" certificate: /edev/2."""
    with tls(pki, server, "other") as http:
        yield http


def test_end_device_list_holds_only_the_clients_own(alice: httpx.Client, bob: httpx.Client, pki: TestPki) -> None:
    for http, name, href in ((alice, "client", "/edev/1"), (bob, "other", "/edev/2")):
        listing = root_of(http.get("/edev", params={"l": 255}))
        devices = listing.findall(Q + "EndDevice")
        assert (listing.get("all"), listing.get("results")) == ("1", "1")
        assert [d.get("href") for d in devices] == [href]
        assert devices[0].findtext(Q + "lFDI") == identity(pki, name)[0]
        dcap = root_of(http.get("/dcap"))
        assert dcap.find(Q + "EndDeviceListLink").get("all") == "1"


@pytest.mark.parametrize("tail", OWN_PATHS)
def test_own_end_device_resources_answer(alice: httpx.Client, tail: str) -> None:
    response = alice.get("/edev/1" + tail)
    assert response.status_code == 200 and root_of(response).get("href") == "/edev/1" + tail


@pytest.mark.parametrize("tail", OWN_PATHS)
def test_foreign_end_device_resources_are_forbidden(alice: httpx.Client, tail: str) -> None:
    for foreign in ("/edev/2", "/edev/3"):  # the other certificate's and a synthetic EndDevice
        response = alice.get(foreign + tail)
        assert (response.status_code, response.content) == (403, b""), foreign + tail


def test_missing_end_device_is_404_not_403(alice: httpx.Client) -> None:
    assert alice.get("/edev/99").status_code == 404
    assert alice.get("/edev/99/der/1/derg").status_code == 404


def test_foreign_writes_are_forbidden_and_change_nothing(alice: httpx.Client, bob: httpx.Client) -> None:
    settings = (f'<DERSettings xmlns="{NS}"><setGradW>1</setGradW><setMaxW><multiplier>0</multiplier>'
                "<value>1</value></setMaxW><updatedTime>1</updatedTime></DERSettings>").encode()
    before = bob.get("/edev/2/der/1/derg").content
    assert alice.put("/edev/2/der/1/derg", content=settings, headers=HEADERS).status_code == 403
    assert alice.delete("/edev/2").status_code == 403
    assert alice.post("/edev/2/lel", content=b"<x/>", headers=HEADERS).status_code == 403
    assert bob.get("/edev/2/der/1/derg").content == before
    assert bob.get("/edev/2").status_code == 200


@pytest.mark.parametrize("path", SHARED_PATHS)
def test_shared_resources_answer_every_registered_client(alice: httpx.Client, bob: httpx.Client, path: str) -> None:
    assert alice.get(path).status_code == bob.get(path).status_code == 200


def test_post_of_own_end_device_updates_it_in_place(alice: httpx.Client, pki: TestPki) -> None:
    own_lfdi, own_sfdi = identity(pki, "client")
    changed = int(root_of(alice.get("/edev/1")).findtext(Q + "changedTime"))
    response = alice.post("/edev", content=end_device_body(own_lfdi, own_sfdi, changed + 1), headers=HEADERS)
    assert (response.status_code, response.headers["location"], response.content) == (204, "/edev/1", b"")
    assert root_of(alice.get("/edev/1")).findtext(Q + "changedTime") == str(changed + 1)
    # Identified by sFDI alone it is the same EndDevice; lower-case hex lFDI is the same lFDI.
    response = alice.post("/edev", content=end_device_body(None, own_sfdi, changed), headers=HEADERS)
    assert (response.status_code, response.headers["location"]) == (204, "/edev/1")
    response = alice.post("/edev", content=end_device_body(own_lfdi.lower(), own_sfdi, changed), headers=HEADERS)
    assert (response.status_code, response.headers["location"]) == (204, "/edev/1")
    assert root_of(alice.get("/edev")).get("all") == "1"


def test_post_of_another_identity_is_forbidden(alice: httpx.Client, pki: TestPki) -> None:
    other_lfdi, other_sfdi = identity(pki, "other")
    assert alice.post("/edev", content=end_device_body(other_lfdi, other_sfdi, 1), headers=HEADERS).status_code == 403
    # A device certificate registers no other device (CSIP: in-band registration of others is refused).
    assert alice.post("/edev", content=end_device_body(None, 123456789016, 1), headers=HEADERS).status_code == 403


def test_post_of_own_lfdi_with_another_sfdi_is_400(alice: httpx.Client, pki: TestPki) -> None:
    own_lfdi, own_sfdi = identity(pki, "client")
    response = alice.post("/edev", content=end_device_body(own_lfdi, own_sfdi + 10, 1), headers=HEADERS)
    assert response.status_code == 400
    assert root_of(response).findtext(Q + "reasonCode") == "1"


def test_mirrors_are_scoped_by_the_creating_certificate(alice: httpx.Client, bob: httpx.Client, pki: TestPki) -> None:
    mrid = "AB" * 16
    created = alice.post("/mup", content=mirror_body(mrid, identity(pki, "client")[0]), headers=HEADERS)
    assert created.status_code == 201
    mine = created.headers["location"]
    index = mine.rsplit("/", 1)[1]
    listing = root_of(alice.get("/mup", params={"l": 9}))
    assert [m.get("href") for m in listing.findall(Q + "MirrorUsagePoint")] == [mine]
    assert root_of(bob.get("/mup", params={"l": 9})).get("all") == "0"
    assert root_of(bob.get("/upt", params={"l": 9})).get("all") == "0"
    assert root_of(bob.get("/dcap")).find(Q + "MirrorUsagePointListLink").get("all") == "0"
    for path in (mine, f"/upt/{index}", f"/upt/{index}/mr"):
        assert bob.get(path).status_code == 403, path
    assert bob.delete(mine).status_code == 403
    assert bob.post(mine, content=b"<x/>", headers=HEADERS).status_code == 403
    # The same mRID from another client is not an update of someone else's mirror (rule e).
    assert bob.post("/mup", content=mirror_body(mrid, identity(pki, "other")[0]), headers=HEADERS).status_code == 403
    # Even with readings the standard would refuse (a new MirrorMeterReading without ReadingType): 403 first.
    readings = (b"<MirrorMeterReading><mRID>" + b"EF" * 16 + b"</mRID><description>x</description>"
                b"<Reading><value>1</value></Reading></MirrorMeterReading></MirrorUsagePoint>")
    with_readings = mirror_body(mrid, identity(pki, "other")[0]).replace(b"</MirrorUsagePoint>", readings)
    assert bob.post("/mup", content=with_readings, headers=HEADERS).status_code == 403
    assert alice.post("/mup", content=with_readings, headers=HEADERS).status_code == 400
    assert alice.get(mine).status_code == 200 and alice.get(f"/upt/{index}").status_code == 200
    assert bob.get("/mup/99").status_code == 404


# --- defects ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def defect_servers(pki: TestPki) -> Iterator[dict[str, ReferenceProcess]]:
    names = {"edev-not-scoped": ["edev-not-scoped"], "mup-not-scoped": ["mup-not-scoped"],
             "edev-duplicate-lfdi": ["edev-duplicate-lfdi"],
             "edev-list-wrong-order": ["edev-not-scoped", "edev-list-wrong-order"]}
    started = {name: start(pki, *defects) for name, defects in names.items()}
    try:
        yield started
    finally:
        for process in started.values():
            process.stop()


def test_edev_not_scoped_shows_and_changes_every_end_device(defect_servers: dict, pki: TestPki) -> None:
    with tls(pki, defect_servers["edev-not-scoped"], "client") as alice:
        assert root_of(alice.get("/edev", params={"l": 255})).get("all") == "4"
        assert alice.get("/edev/2/rg").status_code == 200
        other_lfdi, other_sfdi = identity(pki, "other")
        update = alice.post("/edev", content=end_device_body(other_lfdi, other_sfdi, 7), headers=HEADERS)
        assert (update.status_code, update.headers["location"]) == (204, "/edev/2")
        assert root_of(alice.get("/edev/2")).findtext(Q + "changedTime") == "7"


def test_mup_not_scoped_shows_another_clients_mirror(defect_servers: dict, pki: TestPki) -> None:
    server = defect_servers["mup-not-scoped"]
    with tls(pki, server, "client") as alice, tls(pki, server, "other") as bob:
        created = alice.post("/mup", content=mirror_body("CD" * 16, identity(pki, "client")[0]), headers=HEADERS)
        assert created.status_code == 201
        assert root_of(bob.get("/mup")).get("all") == "1"
        assert bob.get(created.headers["location"]).status_code == 200


def test_edev_duplicate_lfdi_creates_a_second_end_device(defect_servers: dict, pki: TestPki) -> None:
    own_lfdi, own_sfdi = identity(pki, "client")
    with tls(pki, defect_servers["edev-duplicate-lfdi"], "client") as alice:
        response = alice.post("/edev", content=end_device_body(own_lfdi, own_sfdi, 5), headers=HEADERS)
        assert (response.status_code, response.headers["location"]) == (201, "/edev/5")


def test_edev_list_wrong_order_shows_once_lists_are_not_scoped(defect_servers: dict, pki: TestPki) -> None:
    def changed_times(server: ReferenceProcess) -> list[int]:
        with tls(pki, server, "client") as http:
            listing = root_of(http.get("/edev", params={"l": 255}))
        return [int(d.findtext(Q + "changedTime")) for d in listing.findall(Q + "EndDevice")]

    unscoped = changed_times(defect_servers["edev-not-scoped"])
    wrong = changed_times(defect_servers["edev-list-wrong-order"])
    assert len(set(wrong)) > 1
    assert unscoped == sorted(unscoped, reverse=True) and wrong == sorted(wrong)


def test_a_registrar_registers_devices_in_band_and_sees_only_those(pki: TestPki) -> None:
    device_lfdi, device_sfdi = identity(pki, "client")
    with start_reference_server(pki, registrars=[pki.clients["other"].cert]) as server, \
            tls(pki, server, "other") as registrar, tls(pki, server, "client") as device:
        assert device.get("/edev").status_code == 403  # not registered yet
        created = registrar.post("/edev", content=end_device_body(device_lfdi, device_sfdi, 1), headers=HEADERS)
        assert created.status_code == 201
        href = created.headers["location"]
        assert root_of(registrar.get("/edev")).get("all") == "1"
        assert registrar.get(href).status_code == 200
        listed = root_of(device.get("/edev?l=255"))  # the device, now registered, sees its own EndDevice
        assert listed.get("all") == "1" and listed[0].get("href") == href
