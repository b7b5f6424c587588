"""The reference DER client as a process against the bundled reference server, over real mutual TLS.

Time scale 0.01: a 900 s pollRate is 9 s of real time, an event 1000 s ahead starts 10 s after it is made.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from harness.pki import TestPki, make_device_certificates, make_test_pki
from harness.reference.derclient.process import DerClientError, DerClientProcess, spawn_der_client
from harness.reference.process import ReferenceProcess, spawn_reference_server
from harness.sep.identity import certificate_der, lfdi
from harness.sep.tls import MANDATORY_CIPHER, server_context
from harness.server.http import HttpRequest, HttpResponse, start_http_server

SCALE = 0.01


@pytest.fixture(scope="module")
def der_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    base = tmp_path_factory.mktemp("derclient-pki")
    return make_test_pki(base / "certs", key_dir=base / "keys", profiles=False)


def server(pki: TestPki, certs: list[Path] | None = None, **options: Any) -> ReferenceProcess:
    preregister = [(path, 111115) for path in (certs or [pki.clients["client"].cert])]
    return spawn_reference_server(pki, preregister=preregister, time_scale=SCALE, **options).wait_ready(30)


def server_now(process: ReferenceProcess) -> int:
    assert process.time_origin is not None
    return int(process.time_origin + (time.time() - process.time_origin) / SCALE)


def admin(process: ReferenceProcess, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.request(method, process.admin_url + path, json=body,
                             headers={"Authorization": f"Bearer {process.admin_token}"})
    assert response.status_code in (200, 201), response.text
    return response.json()


def status(client: DerClientProcess) -> list[dict[str, Any]]:
    return httpx.get(client.admin_url + "/status").json()["devices"]


def wait_for(condition: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"condition not met in {timeout} s")


@pytest.fixture
def running(der_pki: TestPki) -> Iterator[tuple[ReferenceProcess, DerClientProcess]]:
    with server(der_pki) as reference, spawn_der_client(
            der_pki, reference.base_url + "/dcap", time_scale=SCALE, seed=7).wait_ready() as client:
        yield reference, client


def test_the_client_discovers_its_enddevice_and_applies_the_default_control(
        running: tuple[ReferenceProcess, DerClientProcess], der_pki: TestPki) -> None:
    reference, client = running
    assert client.devices == [{"lfdi": lfdi(certificate_der(der_pki.clients["client"].cert)),
                               "sfdi": client.devices[0]["sfdi"]}]
    device = wait_for(lambda: next((d for d in status(client) if d["state"] == "running"), None))
    assert device["errors"] == []
    assert device["active_control"]["source"] == "DefaultDERControl"
    assert device["active_control"]["program"] == "/derp/1"
    observed = httpx.get(client.admin_url + "/observe/active-control", params={"device": 0}).json()
    assert observed["source"] == "DefaultDERControl"
    # The reference server's own DERControl (an hour ahead, responseRequired 03) was acknowledged with status 1.
    assert [r["status"] for r in device["responses_sent"]] == [1]
    assert device["responses_sent"][0]["answer"] == 201
    stats = httpx.get(client.admin_url + "/stats").json()
    assert stats["discovered"] == 1 and stats["failures"] == 0 and stats["requests"] >= 15


def run_event(pki: TestPki, defects: tuple[str, ...] = (), edition: str = "2018") -> list[dict[str, Any]]:
    """Schedule an event 1000 s ahead (10 s real: room for a loaded machine to start the client) before the
    client starts; the Responses it sent by the end."""
    with server(pki) as reference:
        start = server_now(reference) + 1000
        made = admin(reference, "POST", "/admin/programs/controls", {
            "program": "1", "start": start, "duration": 100, "control": {"opModMaxLimW": 2500},
            "response_required": "03", "randomize_start": 20})
        with spawn_der_client(pki, reference.base_url + "/dcap", time_scale=SCALE, defects=defects, seed=3,
                              edition=edition).wait_ready() as client:
            active = wait_for(lambda: httpx.get(client.admin_url + "/observe/active-control").json()
                              .get("mRID") == made["mrid"], timeout=40)
            assert active
            wait_for(lambda: any(r["status"] == 3 for r in status(client)[0]["responses_sent"]), timeout=30)
            sent = [r for r in status(client)[0]["responses_sent"] if r["href"] == made["href"]]
            assert all(r["answer"] == 201 for r in sent)
            return sent


def test_an_event_is_answered_received_started_completed_on_time(der_pki: TestPki) -> None:
    sent = run_event(der_pki)
    assert [r["status"] for r in sent] == [1, 2, 3]
    # Completed 100 s after it started (no randomizeDuration), give or take a loaded machine's scheduling delay
    # (0.3 s of real time is 30 s here).
    assert 99 <= sent[2]["time"] - sent[1]["time"] <= 130


def test_the_2_2_edition_responses_are_accepted_too(der_pki: TestPki) -> None:
    assert [r["status"] for r in run_event(der_pki, edition="2.2")] == [1, 2, 3]


def test_skips_response_2_leaves_out_the_started_response(der_pki: TestPki) -> None:
    assert [r["status"] for r in run_event(der_pki, ("skips-response-2",))] == [1, 3]


def test_wrong_lfdi_never_finds_its_enddevice_and_walks_no_further(der_pki: TestPki) -> None:
    with server(der_pki) as reference, spawn_der_client(
            der_pki, reference.base_url + "/dcap", time_scale=SCALE, defects=["wrong-lfdi"]).wait_ready() as client:
        errors = wait_for(lambda: status(client)[0]["errors"])
        assert "no EndDevice with lFDI" in errors[0]
        assert status(client)[0]["state"] == "discovering"


def test_a_logevent_is_posted_to_the_enddevices_link_and_the_defect_uses_a_fixed_path(
        running: tuple[ReferenceProcess, DerClientProcess], der_pki: TestPki) -> None:
    _, client = running
    wait_for(lambda: status(client)[0]["state"] == "running")
    first = httpx.post(client.admin_url + "/actions/trigger-logevent", json={"code": 1}).json()
    second = httpx.post(client.admin_url + "/actions/trigger-logevent", json={}).json()
    assert first["done"] and first["status"] == 201 and first["location"] == "/edev/1/lel/1"
    assert second["logEventID"] == first["logEventID"] + 1
    with server(der_pki) as reference, spawn_der_client(
            der_pki, reference.base_url + "/dcap", time_scale=SCALE,
            defects=["hardcoded-logevent-path"]).wait_ready() as broken:
        wait_for(lambda: status(broken)[0]["state"] == "running")
        answer = httpx.post(broken.admin_url + "/actions/trigger-logevent", json={}).json()
        assert answer["href"] == "/lel" and answer["status"] == 404


def test_the_admin_api_refuses_unknown_actions_and_bad_parameters(
        running: tuple[ReferenceProcess, DerClientProcess]) -> None:
    _, client = running
    unknown = httpx.post(client.admin_url + "/actions/explode", json={})
    assert unknown.status_code == 404 and "trigger-logevent" in unknown.json()["error"]
    bad = httpx.post(client.admin_url + "/actions/trigger-logevent", json={"code": "loud"})
    assert bad.status_code == 400 and "logEventCode" in bad.json()["error"]
    bad_device = httpx.post(client.admin_url + "/actions/stop", json={"device": 5})
    assert bad_device.status_code == 400 and "0..0" in bad_device.json()["error"]
    setting = httpx.post(client.admin_url + "/actions/change-setting", json={"name": "setMaxW", "value": -1})
    assert setting.status_code == 400 and "setMaxW" in setting.json()["error"]
    assert httpx.get(client.admin_url + "/observe/weather").status_code == 404


def test_stop_start_power_cycle_and_change_setting(running: tuple[ReferenceProcess, DerClientProcess]) -> None:
    _, client = running
    wait_for(lambda: status(client)[0]["state"] == "running")
    assert httpx.post(client.admin_url + "/actions/stop", json={}).json()["devices"] == [0]
    assert status(client)[0]["state"] == "stopped"
    httpx.post(client.admin_url + "/actions/start", json={})
    wait_for(lambda: status(client)[0]["state"] == "running")
    httpx.post(client.admin_url + "/actions/power-cycle", json={"device": 0})
    wait_for(lambda: status(client)[0]["state"] == "running")
    changed = httpx.post(client.admin_url + "/actions/change-setting", json={"name": "setMaxW", "value": 4000})
    assert changed.json() == {"done": True, "device": 0, "setting": "setMaxW", "value": 4000, "put": True}
    assert httpx.get(client.admin_url + "/observe/applied-settings").json()["setMaxW"] == 4000


def test_the_client_retries_discovery_until_the_server_comes_up(der_pki: TestPki) -> None:
    first = server(der_pki)
    port = first.https_port
    first.stop()
    with spawn_der_client(der_pki, f"https://127.0.0.1:{port}/dcap", time_scale=SCALE).wait_ready() as client:
        errors = wait_for(lambda: status(client)[0]["errors"])
        assert "ConnectError" in errors[0]
        with server(der_pki, port=port):
            wait_for(lambda: status(client)[0]["state"] == "running", timeout=30)


def test_several_devices_each_with_its_own_certificate(der_pki: TestPki, tmp_path: Path) -> None:
    pairs = make_device_certificates(der_pki, 3, tmp_path / "certs", key_dir=tmp_path / "keys")
    keys = {pair.key.read_bytes() for pair in pairs}
    assert len(keys) == 3 and all(oct(p.key.stat().st_mode)[-3:] == "600" for p in pairs)
    ca = x509.load_pem_x509_certificate(der_pki.ca.read_bytes())
    for pair in pairs:
        cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
        ca.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    with server(der_pki, [p.cert for p in pairs]) as reference, spawn_der_client(
            der_pki, reference.base_url + "/dcap", devices=3, device_certs=pairs,
            time_scale=SCALE).wait_ready() as client:
        wait_for(lambda: all(d["state"] == "running" for d in status(client)))
        devices = status(client)
        assert len({d["lfdi"] for d in devices}) == 3
        assert {d["lfdi"] for d in devices} == {lfdi(certificate_der(p.cert)) for p in pairs}


def test_bad_options_fail_with_a_message(der_pki: TestPki) -> None:
    with pytest.raises(ValueError, match="expected DER client defects among"):
        spawn_der_client(der_pki, "https://127.0.0.1:1/dcap", defects=["nonsense"])
    client = spawn_der_client(der_pki, "https://127.0.0.1:1/dcap", extra_args=["--devices", "0"])
    with pytest.raises(DerClientError, match="expected --devices of at least 1"):
        client.wait_ready()


def test_ignores_pollrate_polls_far_more_often_than_advertised(der_pki: TestPki) -> None:
    counts = {}
    for defects in ((), ("ignores-pollrate",)):
        with server(der_pki) as reference, spawn_der_client(
                der_pki, reference.base_url + "/dcap", time_scale=SCALE, defects=defects).wait_ready() as client:
            wait_for(lambda c=client: status(c)[0]["state"] == "running")
            after_walk = status(client)[0]["requests"]
            time.sleep(4)  # 400 s of device time: under the 900 s pollRate, nothing is due; at 60 s, six rounds
            counts[defects] = status(client)[0]["requests"] - after_walk
    assert counts[()] <= 3  # only the 300 s writes: DERStatus, DERAvailability, a MirrorMeterReading
    assert counts[("ignores-pollrate",)] >= 20


def test_timestamps_follow_the_servers_time_unless_the_defect_ignores_it(der_pki: TestPki) -> None:
    gaps = {}
    for defects in ((), ("ignores-server-time",)):
        with server(der_pki) as reference:
            time.sleep(2)  # the server's scaled clock runs 200 s ahead of one that starts now
            with spawn_der_client(der_pki, reference.base_url + "/dcap", time_scale=SCALE,
                                  defects=defects).wait_ready() as client:
                wait_for(lambda c=client: status(c)[0]["state"] == "running")
                answer = httpx.post(client.admin_url + "/actions/trigger-logevent", json={}).json()
                gaps[defects] = abs(answer["createdDateTime"] - server_now(reference))
    assert gaps[()] <= 30
    assert gaps[("ignores-server-time",)] >= 100


@contextlib.contextmanager
def scripted_server(pki: TestPki, answer: Callable[[HttpRequest], HttpResponse], *,
                    ciphers: str | None = None) -> Iterator[str]:
    """A TLS server on a thread answering every request with answer(request); yields its /dcap URL."""
    context = server_context(pki.server.cert, pki.server.key, pki.ca)
    if ciphers:
        context.set_ciphers(ciphers)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    port: list[int] = []

    async def handler(request: HttpRequest) -> HttpResponse:
        return answer(request)

    async def serve() -> None:
        running = await start_http_server(handler, "127.0.0.1", 0, context)
        port.append(running.port)
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(serve()), loop.run_forever()), daemon=True)
    thread.start()
    try:
        assert started.wait(10)
        yield f"https://127.0.0.1:{port[0]}/dcap"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_no_ccm8_cannot_reach_a_server_that_offers_only_the_2030_5_suite(der_pki: TestPki) -> None:
    seen: list[str] = []

    def answer(request: HttpRequest) -> HttpResponse:
        seen.append(request.path)
        return HttpResponse(404)

    with scripted_server(der_pki, answer, ciphers=MANDATORY_CIPHER) as url:
        with spawn_der_client(der_pki, url, time_scale=SCALE).wait_ready() as clean:
            wait_for(lambda: "/dcap" in seen)  # the handshake on 0xC0AE worked; /dcap was asked for
            errors = wait_for(lambda: status(clean)[0]["errors"])
            assert "expected 200, saw 404" in errors[0]
        seen.clear()
        with spawn_der_client(der_pki, url, time_scale=SCALE, defects=["no-ccm8"]).wait_ready() as broken:
            errors = wait_for(lambda: status(broken)[0]["errors"])
            assert any("SSL" in e or "handshake" in e.lower() or "Connect" in e for e in errors), errors
            assert seen == []


@pytest.mark.parametrize(("body", "expected"), [
    (b'<!DOCTYPE d [<!ENTITY x "y">]><DeviceCapability xmlns="urn:ieee:std:2030.5:ns"/>', "DTD"),
    (b"<DeviceCapability", "well-formed"),
    (b'<Time xmlns="urn:ieee:std:2030.5:ns"/>', "expected a DeviceCapability"),
])
def test_a_hostile_or_broken_server_body_is_an_error_the_device_survives(
        der_pki: TestPki, body: bytes, expected: str) -> None:
    def answer(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, [("Content-Type", "application/sep+xml")], body)

    with scripted_server(der_pki, answer) as url, spawn_der_client(der_pki, url, time_scale=SCALE).wait_ready() as c:
        wait_for(lambda: len(status(c)[0]["errors"]) >= 2)  # it came back and tried again
        errors = status(c)[0]["errors"]
        assert expected in errors[0] and status(c)[0]["state"] == "discovering"
        assert c.process.poll() is None


def two_programs(reference: ReferenceProcess) -> None:
    """Programs 1 (primacy 1) and 2 (primacy 2), each with a DefaultDERControl of its own."""
    admin(reference, "POST", "/admin/programs/ensure", {"count": 2})
    admin(reference, "PUT", "/admin/programs/default", {"program": "2", "control": {"opModMaxLimW": 1500}})


@pytest.mark.parametrize("defects", [(), ("applies-lower-primacy",), ("no-list-paging",)])
def test_programs_by_primacy_and_the_defects_that_get_them_wrong(der_pki: TestPki, defects: tuple[str, ...]) -> None:
    with server(der_pki) as reference:
        two_programs(reference)
        with spawn_der_client(der_pki, reference.base_url + "/dcap", time_scale=SCALE,
                              defects=defects).wait_ready() as client:
            device = wait_for(lambda: next((d for d in status(client) if d["state"] == "running"), None))
    lists = [r["target"] for r in device["recent_requests"] if r["target"].startswith("/edev/1/fsa/1/derp")
             or r["target"].startswith("/derp?") or r["target"] == "/derp"]
    applied = device["active_control"]
    if defects == ("no-list-paging",):
        assert [p["href"] for p in device["programs"]] == ["/derp/1"]  # the server's default page holds one
        assert lists and all("s=" not in target for target in lists)
        return
    assert [{k: p[k] for k in ("href", "primacy")} for p in device["programs"]] == [
        {"href": "/derp/1", "primacy": 1}, {"href": "/derp/2", "primacy": 2}]
    assert all(len(p["mRID"]) == 32 for p in device["programs"])
    assert lists and all("s=" in target and "l=" in target for target in lists)
    assert applied["source"] == "DefaultDERControl"
    assert applied["program"] == ("/derp/2" if defects else "/derp/1")


@pytest.mark.parametrize("defects", [(), ("posts-enddevice", "settings-exceed-rating")])
def test_registration_is_never_posted_and_settings_stay_within_the_rating(
        der_pki: TestPki, defects: tuple[str, ...]) -> None:
    with server(der_pki) as reference, spawn_der_client(
            der_pki, reference.base_url + "/dcap", time_scale=SCALE, defects=defects).wait_ready() as client:
        device = wait_for(lambda: next((d for d in status(client) if d["state"] == "running"), None))
        settings = httpx.get(client.admin_url + "/observe/applied-settings").json()
    posts = [r for r in device["recent_requests"] if r["method"] == "POST" and r["target"].startswith("/edev?")
             or (r["method"] == "POST" and r["target"] == "/edev")]
    puts = [r["target"] for r in device["recent_requests"] if r["method"] == "PUT"]
    assert puts[:2] == ["/edev/1/der/1/dercap", "/edev/1/der/1/derg"]
    if defects:
        assert posts and settings["setMaxW"] > settings["rtgMaxW"]
    else:
        assert posts == [] and settings["setMaxW"] <= settings["rtgMaxW"]


def polled_tree(device_lfdi: str) -> dict[str, bytes]:
    """A minimal tree with the distinct pollRates of CORE-003 (P1 300, P2 240, P3 180, P4 120 s)."""
    ns = 'xmlns="urn:ieee:std:2030.5:ns"'
    return {
        "/dcap": f'<DeviceCapability {ns} href="/dcap" pollRate="300"><EndDeviceListLink href="/edev" all="1"/>'
                 f'</DeviceCapability>'.encode(),
        "/edev": f'<EndDeviceList {ns} href="/edev" all="1" results="1" pollRate="240"><EndDevice href="/edev/1">'
                 f'<lFDI>{device_lfdi}</lFDI><sFDI>1</sFDI></EndDevice></EndDeviceList>'.encode(),
        "/edev/1": f'<EndDevice {ns} href="/edev/1"><lFDI>{device_lfdi}</lFDI><sFDI>1</sFDI>'
                   f'<FunctionSetAssignmentsListLink href="/edev/1/fsa" all="1"/><RegistrationLink href="/edev/1/rg"/>'
                   f'</EndDevice>'.encode(),
        "/edev/1/rg": f'<Registration {ns} href="/edev/1/rg"><dateTimeRegistered>1</dateTimeRegistered>'
                      f'<pIN>111115</pIN></Registration>'.encode(),
        "/edev/1/fsa": f'<FunctionSetAssignmentsList {ns} href="/edev/1/fsa" all="1" results="1" pollRate="180">'
                       f'<FunctionSetAssignments href="/edev/1/fsa/1"><DERProgramListLink href="/derp" all="1"/>'
                       f'<mRID>01</mRID></FunctionSetAssignments></FunctionSetAssignmentsList>'.encode(),
        "/edev/1/fsa/1": f'<FunctionSetAssignments {ns} href="/edev/1/fsa/1"><DERProgramListLink href="/derp" all="1"/>'
                         f'<mRID>01</mRID></FunctionSetAssignments>'.encode(),
        "/derp": f'<DERProgramList {ns} href="/derp" all="1" results="1" pollRate="120"><DERProgram href="/derp/1">'
                 f'<mRID>02</mRID><DERControlListLink href="/derp/1/derc" all="0"/><primacy>1</primacy></DERProgram>'
                 f'</DERProgramList>'.encode(),
        "/derp/1/derc": f'<DERControlList {ns} href="/derp/1/derc" all="0" results="0"/>'.encode(),
    }


def test_each_list_is_polled_at_its_own_pollrate(der_pki: TestPki) -> None:
    tree = polled_tree(lfdi(certificate_der(der_pki.clients["client"].cert)))
    seen: list[tuple[float, str]] = []

    def answer(request: HttpRequest) -> HttpResponse:
        seen.append((time.monotonic(), request.path))
        body = tree.get(request.path)
        if body is None:
            return HttpResponse(404)
        return HttpResponse(200, [("Content-Type", "application/sep+xml")], body)

    with scripted_server(der_pki, answer) as url, spawn_der_client(der_pki, url, time_scale=SCALE).wait_ready() as c:
        time.sleep(9)  # 900 s of device time
        assert status(c)[0]["errors"] == []
    for path, rate in (("/dcap", 300), ("/edev", 240), ("/edev/1/fsa", 180), ("/derp", 120), ("/derp/1/derc", 120)):
        times = [at for at, seen_path in seen if seen_path == path]
        gaps = [(b - a) / SCALE for a, b in zip(times, times[1:], strict=False)]
        assert len(gaps) >= 900 // rate - 2, (path, gaps)
        # Never faster than the pollRate; later only by the loaded machine's scheduling (0.2 s real is 20 s).
        assert all(rate - 3 <= gap <= rate + 20 for gap in gaps), (path, gaps)
    assert [p for _, p in seen].count("/edev/1/rg") == 1  # the Registration is read once, at discovery
