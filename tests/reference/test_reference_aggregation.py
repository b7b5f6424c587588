"""Aggregators over the wire: create-aggregator-enddevices, what the aggregator and other clients see, refusals."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from lxml import etree

from harness.pki import TestPki
from harness.reference.aggregation import sfdi_of
from harness.reference.process import ReferenceProcess, start_reference_server
from harness.sep import NS
from harness.sep.identity import certificate_der, lfdi, sfdi
from harness.sep.tls import client_context

Q = f"{{{NS}}}"
PLACES = {"EDA1" + "0" * 36: "SPA1", "EDA2" + "0" * 36: "SPA2", "EDB1" + "0" * 36: "SPB1", "EDB2" + "0" * 36: "SPB2"}


def start(pki: TestPki, defects: list[str]) -> ReferenceProcess:
    return start_reference_server(pki, defects=defects, timeout=60)


def admin_of(server: ReferenceProcess) -> httpx.Client:
    return httpx.Client(base_url=server.admin_url, headers={"Authorization": f"Bearer {server.admin_token}"}, timeout=5)


def https_as(server: ReferenceProcess, pki: TestPki, name: str) -> httpx.Client:
    pair = pki.clients[name]
    return httpx.Client(base_url=server.base_url, verify=client_context(pair.cert, pair.key, pki.ca), timeout=5)


def register(admin: httpx.Client, pki: TestPki, name: str) -> str:
    der = certificate_der(pki.clients[name].cert)
    assert admin.post("/admin/end-devices", json={"lfdi": lfdi(der), "sfdi": sfdi(der)}).status_code in (200, 201)
    return lfdi(der)


def place(admin: httpx.Client, aggregator: str) -> httpx.Response:
    return admin.put("/admin/aggregators/end-devices", json={
        "aggregator": aggregator, "topology": "figure-15",
        "end_devices": [{"lfdi": value, "service_point": point} for value, point in PLACES.items()]})


def lfdis(client: httpx.Client) -> set[str]:
    listed = etree.fromstring(client.get("/edev?l=255").content)
    return {d.findtext(Q + "lFDI") for d in listed.findall(Q + "EndDevice")}


@pytest.fixture(scope="module")
def server(pki: TestPki) -> Iterator[ReferenceProcess]:
    with start(pki, []) as started:
        yield started


def test_the_aggregator_sees_and_reaches_the_end_devices_it_manages_and_no_one_else_does(
    server: ReferenceProcess, pki: TestPki
) -> None:
    with admin_of(server) as admin:
        aggregator = register(admin, pki, "aggregator")
        other = register(admin, pki, "other")
        for _ in range(2):  # an ensure: twice is once
            answer = place(admin, aggregator)
            assert answer.status_code == 200, answer.text
        placed = answer.json()["end_devices"]
    assert [(d["lfdi"], d["service_point"], d["sfdi"]) for d in placed] == [
        (value, point, sfdi_of(value)) for value, point in PLACES.items()]
    with https_as(server, pki, "aggregator") as client:
        assert lfdis(client) == {aggregator, *PLACES}
        eda1 = next(d["href"] for d in placed if d["service_point"] == "SPA1")
        fsas = etree.fromstring(client.get(f"{eda1}/fsa?l=255").content).findall(Q + "FunctionSetAssignments")
        assert sorted(f.findtext(Q + "description") for f in fsas) == sorted(
            ["SY", "ST", "SS", "FDA", "SGA", "TFA", "SPA1"])
    with https_as(server, pki, "other") as client:
        assert lfdis(client) == {other}
        assert client.get(f"{eda1}/fsa").status_code == 403


def test_the_sfdi_is_the_one_2030_5_derives_from_the_lfdi() -> None:
    # 6.3.3: the SFDI is the certificate fingerprint's first 36 bits, in decimal, with a check digit.
    assert sfdi_of("EDA1" + "0" * 36) == int(f"{0xEDA100000}{(10 - sum(map(int, str(0xEDA100000))) % 10) % 10}")


@pytest.mark.parametrize(("params", "words"), [
    ({"aggregator": "AB" * 20}, "no EndDevice with LFDI " + "AB" * 20 + " for the aggregator"),
    ({"topology": "figure-2"}, "figure-2 has no service point 'SPA1'"),
])
def test_what_it_cannot_carry_out_is_refused(server: ReferenceProcess, pki: TestPki, params: dict,
                                             words: str) -> None:
    with admin_of(server) as admin:
        body = {"aggregator": register(admin, pki, "aggregator"), "topology": "figure-15",
                "end_devices": [{"lfdi": "EDA1" + "0" * 36, "service_point": "SPA1"}], **params}
        answer = admin.put("/admin/aggregators/end-devices", json=body)
    assert answer.status_code == 422 and words in answer.json()["error"]


@pytest.mark.parametrize("defect", ["aggregator-sees-own-only", "topology-branch-crossed"])
def test_the_defects(pki: TestPki, defect: str) -> None:
    with start(pki, [defect]) as server, admin_of(server) as admin:
        aggregator = register(admin, pki, "aggregator")
        placed = place(admin, aggregator).json()["end_devices"]
        with https_as(server, pki, "aggregator") as client:
            if defect == "aggregator-sees-own-only":
                assert lfdis(client) == {aggregator}
            else:
                edb1 = next(d["href"] for d in placed if d["service_point"] == "SPB1")
                fsas = etree.fromstring(client.get(f"{edb1}/fsa?l=255").content)
                assert "TFA" in {f.findtext(Q + "description") for f in fsas.findall(Q + "FunctionSetAssignments")}
