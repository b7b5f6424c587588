"""DERCurves, DefaultDERControl settings and figure 3 over the wire: what create-dercurve, create-defaultdercontrol
and build-topology figure-3 make a client see, the refusals, and the curve defects."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from lxml import etree

from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, start_reference_server
from harness.sep import NS
from harness.sep.identity import certificate_der, lfdi, sfdi
from harness.sep.schema import FAILURE, SchemaSet
from harness.sep.tls import client_context

Q = f"{{{NS}}}"
VOLT_VAR = {"program": "1", "curve_type": 11, "points": [[9100, 4000], [9570, 0], [10400, 0], [10600, -4000]],
            "x_multiplier": -2, "y_multiplier": -2, "y_ref_type": 2, "open_loop_tms": 5,
            "autonomous_vref_enable": False, "autonomous_vref_time_constant": 0}


@pytest.fixture(scope="module")
def servers(pki: TestPki) -> Iterator[dict[str, ReferenceProcess]]:
    """A clean server and one per curve defect."""
    names = ("", "curve-points-reordered", "curve-wrong-type", "curve-multipliers-dropped", "curve-settings-dropped")
    started = {name: start_reference_server(pki, defects=[name] if name else []) for name in names}
    try:
        yield started
    finally:
        for server in started.values():
            server.stop()


def admin(server: ReferenceProcess) -> httpx.Client:
    return httpx.Client(base_url=server.admin_url, headers={"Authorization": f"Bearer {server.admin_token}"},
                        timeout=10)


def device(server: ReferenceProcess, pki: TestPki) -> httpx.Client:
    """The client certificate's HTTPS client, its EndDevice pre-registered."""
    pair = pki.clients["client"]
    der = certificate_der(pair.cert)
    with admin(server) as http:
        assert http.post("/admin/end-devices", json={"lfdi": lfdi(der), "sfdi": sfdi(der)}).status_code in (200, 201)
    return httpx.Client(base_url=server.base_url, verify=client_context(pair.cert, pair.key, pki.ca), timeout=10)


def get(client: httpx.Client, path: str, root: str) -> etree._Element:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    element = etree.fromstring(response.content)
    assert [f for f in SchemaSet.bundled().validate(element, expected_root=root) if f.severity == FAILURE] == []
    return element


def served_curve(server: ReferenceProcess, pki: TestPki) -> etree._Element:
    with admin(server) as http:
        answer = http.post("/admin/programs/curves", json=VOLT_VAR)
    assert answer.status_code in (200, 201), answer.text
    with device(server, pki) as client:
        return get(client, answer.json()["href"], "DERCurve")


def test_a_curve_is_served_as_created_schema_valid_and_creating_it_again_changes_nothing(
    servers: dict[str, ReferenceProcess], pki: TestPki
) -> None:
    with admin(servers[""]) as http:
        first, again = http.post("/admin/programs/curves", json=VOLT_VAR), http.post("/admin/programs/curves",
                                                                                     json=VOLT_VAR)
    assert (first.status_code, first.json()["created"]) == (201, True)
    assert (again.status_code, again.json()) == (200, {**first.json(), "created": False})
    curve = served_curve(servers[""], pki)
    assert [(int(p.findtext(Q + "xvalue")), int(p.findtext(Q + "yvalue"))) for p in curve.iter(Q + "CurveData")] \
        == [tuple(p) for p in VOLT_VAR["points"]]
    assert {name: curve.findtext(Q + name) for name in ("curveType", "xMultiplier", "yMultiplier", "yRefType",
                                                        "openLoopTms", "autonomousVRefEnable",
                                                        "autonomousVRefTimeConstant")} == {
        "curveType": "11", "xMultiplier": "-2", "yMultiplier": "-2", "yRefType": "2", "openLoopTms": "5",
        "autonomousVRefEnable": "false", "autonomousVRefTimeConstant": "0"}


def test_a_curve_the_schema_refuses_or_of_an_unknown_program_is_not_created(
    servers: dict[str, ReferenceProcess],
) -> None:
    with admin(servers[""]) as http:
        too_many = http.post("/admin/programs/curves", json={**VOLT_VAR, "points": [[x, 0] for x in range(11)]})
        unknown = http.post("/admin/programs/curves", json={**VOLT_VAR, "program": "no-such-program"})
        no_ref = http.post("/admin/programs/curves", json={k: v for k, v in VOLT_VAR.items() if k != "y_ref_type"})
    assert too_many.status_code == 422 and "points" in too_many.json()["error"]
    assert unknown.status_code == 404 and "no DERProgram 'no-such-program'" in unknown.json()["error"]
    assert no_ref.status_code == 422 and "y_ref_type" in no_ref.json()["error"]


@pytest.mark.parametrize(("defect", "field", "served"), [
    ("curve-points-reordered", "CurveData", "10600"),
    ("curve-wrong-type", "curveType", "12"),
    ("curve-multipliers-dropped", "xMultiplier", "0"),
    ("curve-settings-dropped", "openLoopTms", None),
])
def test_each_curve_defect_changes_what_it_names(
    servers: dict[str, ReferenceProcess], pki: TestPki, defect: str, field: str, served: str | None
) -> None:
    curve = served_curve(servers[defect], pki)
    found = curve.find(Q + field)
    seen = None if found is None else (found.findtext(Q + "xvalue") if field == "CurveData" else found.text)
    assert seen == served


def test_default_settings_are_served_beside_the_control_base(
    servers: dict[str, ReferenceProcess], pki: TestPki
) -> None:
    body = {"program": "1", "control": {"opModMaxLimW": 5000}, "settings": {"setSoftGradW": 400, "setGradW": 9000}}
    with admin(servers[""]) as http:
        assert http.put("/admin/programs/default", json=body).status_code == 200
        refused = http.put("/admin/programs/default", json={**body, "settings": {"setGradW": -1}})
    assert refused.status_code == 422
    with device(servers[""], pki) as client:
        default = get(client, "/derp/1/dderc", "DefaultDERControl")
    assert [etree.QName(e).localname for e in default][-3:] == ["DERControlBase", "setGradW", "setSoftGradW"]
    assert (default.findtext(Q + "setGradW"), default.findtext(Q + "setSoftGradW")) == ("9000", "400")


def test_figure_3_gives_the_topology_fsa_and_group_z_and_shares_figure_2s_programs(
    servers: dict[str, ReferenceProcess], pki: TestPki
) -> None:
    client_lfdi = lfdi(certificate_der(pki.clients["client"].cert))
    with device(servers[""], pki) as client, admin(servers[""]) as http:
        assert http.put("/admin/topology", json={"topology": "figure-2"}).status_code == 200
        before = len(http.get("/admin/state").json()["end_devices"]), http.get("/admin/state").json()["programs"]
        answer = http.put("/admin/topology", json={"topology": "figure-3", "lfdi": client_lfdi})
        assert answer.status_code == 200 and len(answer.json()["fsas"]) == 2
        assert http.get("/admin/state").json()["programs"] == before[1] + 1  # only Group-Z is new
        edev = get(client, "/edev", "EndDeviceList").find(Q + "EndDevice").get("href")
        fsas = get(client, f"{edev}/fsa?l=255", "FunctionSetAssignmentsList").findall(Q + "FunctionSetAssignments")
        lists = [get(client, fsa.find(Q + "DERProgramListLink").get("href") + "?l=255", "DERProgramList")
                 for fsa in fsas]
        groups = sorted([p.findtext(Q + "description") for p in found.findall(Q + "DERProgram")] for found in lists)
        assert groups == [["A1-B1-C1-D1-E1-F1-G1", "A1-B1-C1-D1-E1-F1", "A1-B1-C1-D1-E1", "A1-B1-C1-D1", "A1-B1-C1",
                           "A1-B1", "A1"], ["Group-Z"]]
        per_group = http.put("/admin/topology", json={"topology": "figure-3-groups", "lfdi": client_lfdi})
        assert len(per_group.json()["fsas"]) == 8


def test_replace_feeder_moves_the_client_below_the_new_feeder_and_retires_the_old_hrefs(
    servers: dict[str, ReferenceProcess], pki: TestPki
) -> None:
    client_lfdi = lfdi(certificate_der(pki.clients["client"].cert))
    move = {"lfdi": client_lfdi, "remove": "A1-B1-C1-D1", "add": "A1-B1-C1-D2"}
    with device(servers[""], pki) as client, admin(servers[""]) as http:
        before = http.put("/admin/topology", json={"topology": "figure-3-groups", "lfdi": client_lfdi,
                                                   "service_point": "A1-B1-C1-D1-E1-F1-G1"}).json()["fsas"]
        after = http.put("/admin/topology/feeder", json=move)
        assert after.status_code == 200, after.text
        assert http.put("/admin/topology/feeder", json=move).json() == after.json()  # an ensure: twice is once
        moved = after.json()["fsas"]
        # A1, A1-B1, A1-B1-C1 and Group-Z keep their hrefs; the four below the feeder are new ones.
        assert len(moved) == 8 and len(set(moved) & set(before)) == 4
        assert all(client.get(href).status_code == 404 for href in set(before) - set(moved))
        edev = get(client, "/edev", "EndDeviceList").find(Q + "EndDevice").get("href")
        fsas = get(client, f"{edev}/fsa?l=255", "FunctionSetAssignmentsList").findall(Q + "FunctionSetAssignments")
        assert sorted(f.findtext(Q + "description") for f in fsas) == sorted(
            ["A1", "A1-B1", "A1-B1-C1", "A1-B1-C1-D2", "A1-B1-C1-D2-E1", "A1-B1-C1-D2-E1-F1",
             "A1-B1-C1-D2-E1-F1-G1", "Group-Z"])
        assert http.put("/admin/topology/feeder", json={**move, "remove": "A1-B2", "add": "A1-B3"}).status_code == 422
