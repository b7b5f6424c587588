"""Group topologies over the wire: what build-topology and create-fsa make a client see, and their refusals."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from lxml import etree

from harness.pki import TestPki
from harness.reference.process import ReferenceProcess
from harness.sep import NS
from harness.sep.identity import certificate_der, lfdi, sfdi
from harness.sep.tls import client_context

Q = f"{{{NS}}}"


@pytest.fixture()
def device(server: ReferenceProcess, admin: httpx.Client, pki: TestPki) -> Iterator[httpx.Client]:
    """The client certificate's HTTPS client, its EndDevice pre-registered."""
    pair = pki.clients["client"]
    der = certificate_der(pair.cert)
    assert admin.post("/admin/end-devices", json={"lfdi": lfdi(der), "sfdi": sfdi(der)}).status_code in (200, 201)
    with httpx.Client(base_url=server.base_url, verify=client_context(pair.cert, pair.key, pki.ca)) as client:
        yield client


def get(client: httpx.Client, path: str) -> etree._Element:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return etree.fromstring(response.content)


def fsa_programs(client: httpx.Client) -> list[list[tuple[str, int]]]:
    """For each FSA of the client's EndDevice, in list order: its programs' (description, primacy) in list order."""
    edev = get(client, "/edev").find(Q + "EndDevice").get("href")
    fsa_list = get(client, f"{edev}/fsa?l=255")
    out = []
    for fsa in fsa_list.findall(Q + "FunctionSetAssignments"):
        programs = get(client, fsa.find(Q + "DERProgramListLink").get("href") + "?l=255")
        out.append([(p.findtext(Q + "description"), int(p.findtext(Q + "primacy")))
                    for p in programs.findall(Q + "DERProgram")])
    return out


def test_figure_15_gives_a_service_point_the_programs_of_its_path_only(
    admin: httpx.Client, device: httpx.Client, pki: TestPki
) -> None:
    client_lfdi = lfdi(certificate_der(pki.clients["client"].cert))
    answer = admin.put("/admin/topology", json={"topology": "figure-15", "lfdi": client_lfdi, "service_point": "SPB2"})
    assert answer.status_code == 200 and len(answer.json()["fsas"]) == 7
    groups = sorted(program for fsa in fsa_programs(device) for program in fsa)
    assert groups == sorted([("SY", 10), ("ST", 9), ("SS", 8), ("FDB", 7), ("SGB", 6), ("TFB", 5), ("SPB2", 4)])
    # Group programs are reached through FunctionSetAssignments only, not the DeviceCapability DERProgramList.
    listed = get(device, "/derp?l=255").findall(Q + "DERProgram")
    assert all(p.findtext(Q + "description").startswith("CSIP reference program") for p in listed)


def test_building_again_replaces_the_assignment_and_figure_1_is_one_fsa_in_primacy_order(
    admin: httpx.Client, device: httpx.Client, pki: TestPki
) -> None:
    client_lfdi = lfdi(certificate_der(pki.clients["client"].cert))
    for _ in range(2):  # an ensure: twice is once
        assert admin.put("/admin/topology", json={"topology": "figure-1", "lfdi": client_lfdi}).status_code == 200
    assert fsa_programs(device) == [[("SP", 4), ("TF", 5), ("SG", 6), ("FD", 7), ("SS", 8), ("ST", 9), ("SY", 10)]]


def test_create_fsa_gives_equal_primacies_ordered_by_mrid_descending(
    admin: httpx.Client, device: httpx.Client, pki: TestPki
) -> None:
    client_lfdi = lfdi(certificate_der(pki.clients["client"].cert))
    assert admin.put("/admin/end-devices/fsa", json={"lfdi": client_lfdi, "count": 15}).status_code == 200
    lists = fsa_programs(device)
    assert len(lists) == 15 and all(len(programs) == 3 for programs in lists)
    edev = get(device, "/edev").find(Q + "EndDevice").get("href")
    mrids = [f.findtext(Q + "mRID") for f in get(device, f"{edev}/fsa?l=255").findall(Q + "FunctionSetAssignments")]
    assert mrids == sorted(mrids, reverse=True)
    first = get(device, get(device, f"{edev}/fsa/1").find(Q + "DERProgramListLink").get("href"))
    assert first.get("all") == "3" and first.get("results") == "1"  # a bare GET: the first item only


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"topology": "figure-9"}, 422, "is not one of"),
        ({"topology": "figure-2", "service_point": "A1-B2"}, 422, "figure-2 has no service point 'A1-B2'"),
        ({"topology": "figure-1", "lfdi": "AB" * 20}, 404, "no EndDevice with LFDI"),
    ],
)
def test_build_topology_refuses_what_it_cannot_build(
    admin: httpx.Client, params: dict, status: int, words: str
) -> None:
    answer = admin.put("/admin/topology", json=params)
    assert answer.status_code == status and words in answer.json()["error"]
