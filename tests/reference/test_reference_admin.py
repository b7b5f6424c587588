"""The reference server's admin interface: authentication, parameter checks, idempotent operations."""

from __future__ import annotations

import httpx
import pytest

from harness.pki import TestPki
from harness.reference.process import ReferenceProcess
from harness.sep.identity import certificate_der, lfdi, sfdi
from harness.sep.tls import client_context


def test_a_fresh_server_has_no_end_device_and_time_quality_3(server: ReferenceProcess, admin: httpx.Client,
                                                              pki: TestPki) -> None:
    state = admin.get("/admin/state").json()
    assert state["end_devices"] == [] and state["time_quality"] == 3 and state["programs"] == 1
    # Until it is pre-registered, the client's certificate opens only the public resources.
    pair = pki.clients["client"]
    with httpx.Client(base_url=server.base_url, verify=client_context(pair.cert, pair.key, pki.ca)) as client:
        assert client.get("/dcap").status_code == 200
        assert client.get("/edev").status_code == 403


def test_requests_without_the_token_are_refused(server: ReferenceProcess) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}):
        response = httpx.put(f"{server.admin_url}/admin/time", json={"quality": 7}, headers=headers)
        assert response.status_code == 401 and "Bearer" in response.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("PUT", "/admin/time", {"quality": 9}, 422, "9 is greater than the maximum of 7"),
        ("PUT", "/admin/time", {"quality": 7, "colour": "red"}, 422, "'colour' was unexpected"),
        ("POST", "/admin/end-devices/ensure", {}, 422, "'count' is a required property"),
        ("POST", "/admin/resources", {"function_sets": ["Teleportation"]}, 422, "not supported: Teleportation"),
        ("PUT", "/admin/end-devices/pin", {"lfdi": "AB" * 20, "pin": 1}, 404, "no EndDevice with LFDI"),
        ("GET", "/admin/nothing", None, 404, "no admin resource /admin/nothing"),
    ],
)
def test_bad_requests_are_refused_with_the_reason(admin: httpx.Client, method: str, path: str, body: object,
                                                  status: int, words: str) -> None:
    response = admin.request(method, path, json=body)
    assert response.status_code == status and words in response.json()["error"]


def test_wrong_method_and_bad_json(admin: httpx.Client) -> None:
    response = admin.get("/admin/time")
    assert response.status_code == 405 and response.headers["Allow"] == "PUT"
    response = admin.put("/admin/time", content=b"{quality")
    assert response.status_code == 400 and "expected a JSON body" in response.json()["error"]


def test_operations_are_idempotent_and_visible_over_2030_5(server: ReferenceProcess, admin: httpx.Client,
                                                           pki: TestPki) -> None:
    pair = pki.clients["client"]
    der = certificate_der(pair.cert)
    body = {"lfdi": lfdi(der), "sfdi": sfdi(der), "pin": 123455}
    first, again = admin.post("/admin/end-devices", json=body), admin.post("/admin/end-devices", json=body)
    assert (first.status_code, first.json()["created"]) == (201, True)
    assert (again.status_code, again.json()) == (200, {"href": first.json()["href"], "created": False})
    clash = admin.post("/admin/end-devices", json={**body, "sfdi": body["sfdi"] + 1})
    assert clash.status_code == 409
    assert admin.post("/admin/end-devices/ensure", json={"count": 3}).json() == {"total": 3, "created": 2}
    assert admin.post("/admin/end-devices/ensure", json={"count": 2}).json() == {"total": 3, "created": 0}
    assert admin.put("/admin/time", json={"quality": 7, "tz_offset": 3600}).status_code == 200
    with httpx.Client(base_url=server.base_url, verify=client_context(pair.cert, pair.key, pki.ca)) as client:
        # The server holds three EndDevices; a device certificate's EndDeviceList holds its own only.
        listing = client.get("/edev?l=10").text
        assert 'all="1" results="1"' in listing and lfdi(der) in listing.upper()
        registration = client.get(f"{first.json()['href']}/rg").text
        assert "<pIN>123455</pIN>" in registration
        time_resource = client.get("/tm").text
        assert "<quality>7</quality>" in time_resource and "<tzOffset>3600</tzOffset>" in time_resource
