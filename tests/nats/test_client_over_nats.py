"""The client role over NATS: the test server as the native responder and the InterSTORE tunnel's cloud side,
the reference DER client speaking both mappings in XML and CUPID's JSON, over a real nats-server with TLS and
certificate-mapped users; the client cases give the verdicts they give over HTTPS."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

import harness.report
from harness.cases.loader import load_case
from harness.cases.profile import load_profile
from harness.cases.yamlload import YamlFileError
from harness.codec.cupid_json import MEDIA_TYPE_JSON
from harness.engine.clock import Clock
from harness.engine.runner import run_case
from harness.paths import project_dir
from harness.pki import TestPki
from harness.reference.derclient.process import spawn_der_client
from harness.reference.natsd import NatsServer
from harness.results import FAILED, NOT_APPLICABLE, PASSED, TestRecord
from harness.sep.identity import certificate_der, lfdi
from harness.sep.schema import SchemaSet
from harness.sep.tls import client_context
from harness.server.clientrun import start_test_server
from harness.server.reference_client import reference_client_run
from harness.transport.base import Request
from harness.transport.nats import NatsMapping, NatsTransport
from tests.client_proofs import CLIENT_PROOFS
from tests.server.test_client_pytest import cases, junit_case, pytest_run

CASES = project_dir("testcases") / "client"
PROFILE = project_dir("fixtures") / "profiles" / "reference-der-client.yaml"
CLI = Path(sys.executable).with_name("csip-harness")
SCALE = 0.01


def client_cases(tmp_path: Path, *ids: str) -> Path:
    """A folder of copies of the bundled client cases ids (tests.server.test_client_pytest.cases)."""
    return cases(tmp_path, "client", *ids)


def run_cases(pki: TestPki, case_ids: list[str], mapping: str, encoding: str = "xml",
              defects: tuple[str, ...] = ()) -> tuple[dict[str, TestRecord], list]:
    """Run the cases against the reference DER client over NATS; the records by id and the test server's log."""

    async def go() -> tuple[dict[str, TestRecord], list]:
        async with reference_client_run(pki, load_profile(PROFILE), Clock(SCALE), SchemaSet.bundled(),
                                        defects=defects, transport="nats", nats_mapping=mapping,
                                        encoding=encoding) as ctx:
            assert ctx.base_url.startswith("tls://127.0.0.1:")
            records = {case_id: await run_case(load_case(CASES / f"{case_id}.yaml"), ctx) for case_id in case_ids}
            return records, list(ctx.test_server.log)

    return asyncio.run(go())


@pytest.mark.parametrize(("mapping", "encoding"), [("native", "xml"), ("interstore", "xml"), ("native", "json"),
                                                   ("interstore", "json")])
def test_client_cases_pass_over_nats_and_comm_003_is_not_applicable(nats_pki: TestPki, mapping: str,
                                                                      encoding: str) -> None:
    # CORE-003 (pollRate, ~10 s at time scale 0.01) in two of the four combinations, to keep the module short.
    slow = ["CORE-003"] if (mapping, encoding) in (("native", "xml"), ("interstore", "json")) else []
    passing = ["BASIC-027", "CORE-005", "CORE-014", *slow]
    records, log = run_cases(nats_pki, [*passing, "COMM-003"], mapping, encoding)
    for case_id in passing:
        assert records[case_id].verdict == PASSED, f"{case_id}: {records[case_id].reason}"
    assert records["COMM-003"].verdict == NOT_APPLICABLE
    assert "not applicable over NATS: it tests the client's TLS 1.2 session" in records["COMM-003"].reason
    mine = [entry for entry in log if entry.client == "client"]
    # The DER is known by the LFDI the mapping carries: the subject (its NATS TLS certificate's) or the envelope.
    assert mine and {entry.identity_source for entry in mine} == {"subject" if mapping == "native" else "envelope"}
    bodies = [entry for entry in mine if entry.body]
    assert bodies and {entry.encoding for entry in bodies} == {encoding}
    assert all(entry.body.lstrip().startswith(b"<") for entry in bodies)  # judged as the XML the JSON stands for


@pytest.mark.parametrize(("mapping", "case_id", "defect"), [("native", "CORE-010", "no-list-paging"),
                                                            ("interstore", "BASIC-027", "hardcoded-logevent-path")])
def test_a_client_defect_is_failed_over_nats_as_over_https(nats_pki: TestPki, mapping: str, case_id: str,
                                                           defect: str) -> None:
    records, _ = run_cases(nats_pki, [case_id], mapping, defects=(defect,))
    record = records[case_id]
    step, text = CLIENT_PROOFS[case_id][defect]
    assert record.verdict == FAILED, record.reason
    failed = next(s for s in record.steps if s.verdict == FAILED)
    assert (failed.index, text in failed.message) == (step, True), failed.message


def test_the_test_server_answers_both_mappings_and_refuses_an_unknown_lfdi(nats_pki: TestPki) -> None:
    """Requests straight from NatsTransport: a known LFDI is served the Time in both mappings, JSON is read
    and answered as JSON, and an LFDI no identity of the run has gets 403 with a finding naming where it came."""
    known = "0123456789abcdef0123456789abcdef01234567"

    async def go() -> tuple[list, list]:
        schema = SchemaSet.bundled()
        with NatsServer() as natsd:
            profile = load_profile(PROFILE)
            ctx = await start_test_server(profile, None, Clock(), schema, {"client": nats_pki.clients["client"].cert},
                                          nats_url=natsd.url)
            server = ctx.test_server
            server.clients[known.upper()] = "client"
            answers = []
            try:
                for mode, lfdi in (("native", known), ("interstore", known), ("interstore", "ab" * 20)):
                    transport = NatsTransport(natsd.url, NatsMapping(mode), lfdi=lfdi, sfdi="1", timeout=5)
                    answers.append(await transport.exchange(Request("GET", f"{natsd.url}/tm",
                                                                    [("Accept", MEDIA_TYPE_JSON)])))
                    await transport.aclose()
                return answers, list(server.log)
            finally:
                await server.close()

    answers, log = asyncio.run(go())
    native, tunnel, stranger = answers
    for exchange in (native, tunnel):
        assert exchange.error is None and exchange.response.status == 200, exchange.error
        assert exchange.response.header("Content-Type") == MEDIA_TYPE_JSON
        assert json.loads(exchange.response.body)["time"]["quality"] == 7  # CUPID wraps in the xjc name
    assert stranger.response.status == 403
    assert [(e.identity_source, e.client) for e in log] == [("subject", "client"), ("envelope", "client"),
                                                           ("envelope", "unknown")]
    assert f"a tunnel envelope naming LFDI {'AB' * 20}" in log[2].findings[0].message


def test_csip_harness_run_role_client_over_nats(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run([str(CLI), "run", "--role", "client", "--reference", "--transport", "nats",
                           "--nats-mapping", "interstore", "--encoding", "json", "--time-scale", str(SCALE),
                           "-k", "BASIC-027", "--out", str(out), "-q"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "eof_received" not in done.stderr
    results = json.loads((out / "results.json").read_text())
    jsonschema.validate(results, json.loads((Path(harness.report.__file__).with_name("schema") /
                                             "results.schema.json").read_text()))
    assert (results["run"]["transport"], results["run"]["encoding"]) == ("nats", "json")
    assert results["run"]["nats"]["mapping"] == "interstore" and "envelope" in results["run"]["nats"]["identity"]
    assert {t["id"]: t["verdict"] for t in results["tests"]} == {"BASIC-027": "passed"}
    exchanges = [e for step in results["tests"][0]["steps"] for e in step.get("exchanges", [])]
    assert exchanges and all(e["url"].startswith("tls://127.0.0.1:") and e["transport"] == "nats-interstore"
                             for e in exchanges)


def test_json_without_nats_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run([str(CLI), "run", "--role", "client", "--reference", "--encoding", "json",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "expected --transport nats" in done.stderr and "Traceback" not in done.stderr


def test_over_nats_tls_a_device_is_known_by_its_certificate_and_cannot_speak_for_another(
        nats_pki: TestPki, natsd_tls: NatsServer) -> None:
    """NATS TLS with certificate-mapped users: the subject's LFDI is the certificate's, so the test server knows
    the device by it; a device publishing on another device's subject is dropped by the NATS server (a timeout
    naming the subject), never served as the other."""
    client, other, responder = (nats_pki.clients[name] for name in ("client", "other", "responder"))

    async def go() -> tuple[list, list]:
        ctx = await start_test_server(load_profile(PROFILE), None, Clock(), SchemaSet.bundled(),
                                      {"client": client.cert, "other": other.cert}, nats_url=natsd_tls.url,
                                      nats_context=client_context(responder.cert, responder.key, nats_pki.ca))
        answers = []
        try:
            for claimed in (client, other):
                transport = NatsTransport(natsd_tls.url, NatsMapping("native"),
                                          ssl_context=client_context(client.cert, client.key, nats_pki.ca),
                                          lfdi=lfdi(certificate_der(claimed.cert)), timeout=1.5)
                answers.append(await transport.exchange(Request("GET", f"{natsd_tls.url}/tm")))
                await transport.aclose()
            return answers, list(ctx.test_server.log)
        finally:
            await ctx.test_server.close()

    (own, impersonated), log = asyncio.run(go())
    assert own.error is None and own.response.status == 200
    assert impersonated.response is None and impersonated.error_kind == "timeout"
    assert f"ieee2030.server.{lfdi(certificate_der(other.cert)).lower()}" in impersonated.error
    assert [(entry.client, entry.identity_source) for entry in log] == [("client", "subject")]


def test_a_real_client_device_over_nats_meets_the_test_server_on_its_nats_server(nats_pki: TestPki,
                                                                                natsd: NatsServer,
                                                                                tmp_path: Path) -> None:
    """--role client --profile DEVICE.yaml --transport nats --dut nats://…: the device (here the reference DER client
    started on its own, as a vendor's device would be) already talks to its NATS server; the test server joins it."""
    with spawn_der_client(nats_pki, f"{natsd.url}/dcap", time_scale=SCALE, nats_mapping="interstore") as device:
        device.wait_ready()
        profile = tmp_path / "device.yaml"
        profile.write_text(PROFILE.read_text().replace("http://127.0.0.1:9000", device.admin_url).replace(
            "identity:\n", f"identity:\n  cert: {nats_pki.clients['client'].cert}\n", 1)
            + "nats: {mapping: interstore}\n")  # the profile's key names the mapping the report describes
        out = tmp_path / "out"
        done = subprocess.run([str(CLI), "run", "--role", "client", "--profile", str(profile), "--transport", "nats",
                               "--dut", natsd.url, "--time-scale", str(SCALE), "-k", "BASIC-027", "--out", str(out)],
                              capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    device_lfdi = lfdi(certificate_der(nats_pki.clients["client"].cert)).lower()
    assert f"native requests on: ieee2030.server.{device_lfdi}" in done.stdout
    results = json.loads((out / "results.json").read_text())
    assert results["run"]["transport"] == "nats" and results["tests"][0]["verdict"] == "passed"
    assert results["run"]["nats"]["mapping"] == "interstore" and "envelope" in results["run"]["nats"]["identity"]


def test_a_profiles_nats_keys_are_checked_with_their_line(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("role: server\nbase_url: tls://127.0.0.1:4222\nencoding: json\nnats: {mapping: interstore}\n")
    assert load_profile(good).raw["nats"] == {"mapping": "interstore"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("role: server\nnats:\n  mapping: native\n  tunel_requests: x\n")
    with pytest.raises(YamlFileError, match=r"bad.yaml:\d+: .*tunel_requests"):
        load_profile(bad)


def test_a_real_client_device_over_nats_needs_the_nats_server(tmp_path: Path) -> None:
    done = subprocess.run([str(CLI), "run", "--role", "client", "--profile", str(PROFILE), "--transport", "nats",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "expected --dut nats://HOST:PORT" in done.stderr and "Traceback" not in done.stderr


# -- the one client-role path: plain pytest (`--csip-role client`), which `csip-harness run --role client` runs --


def test_plain_pytest_runs_the_client_role_over_nats(tmp_path: Path) -> None:
    """`pytest --csip-role client --csip-reference --csip-transport nats`: the reference DER client over a private
    nats-server, in the mapping and encoding asked for; the run's identity says so as the command's does."""
    folder = client_cases(tmp_path, "BASIC-027")
    out = tmp_path / "out"
    done = pytest_run(tmp_path, str(folder), "--csip-role", "client", "--csip-reference", "--csip-transport", "nats",
                      "--csip-encoding", "json", "--csip-time-scale", str(SCALE), "--csip-out", str(out),
                      f"--junitxml={out / 'junit.xml'}")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    jsonschema.validate(results, json.loads((Path(harness.report.__file__).with_name("schema") /
                                             "results.schema.json").read_text()))
    run = results["run"]
    assert (run["transport"], run["encoding"], run["nats"]["mapping"]) == ("nats", "json", "native")
    assert "request subject" in run["nats"]["identity"] and run["dut"]["test_server"].startswith("tls://127.0.0.1:")
    assert {t["id"]: t["verdict"] for t in results["tests"]} == {"BASIC-027": "passed"}
    exchanges = [e for step in results["tests"][0]["steps"] for e in step.get("exchanges", [])]
    assert exchanges and all(e["transport"] == "nats" for e in exchanges)
    properties, _ = junit_case(out / "junit.xml", "BASIC-027")
    assert properties == {"csip_id": "BASIC-027", "verdict": "passed"}


def test_plain_pytest_meets_a_real_device_on_its_nats_tls_server(nats_pki: TestPki, natsd_tls: NatsServer,
                                                                  tmp_path: Path) -> None:
    """A real client device over NATS TLS under plain pytest: --csip-dut tls://…, --csip-cert/--csip-key the test
    server's NATS TLS user (allowed to answer), --csip-ca the NATS server's CA; the device (the reference DER
    client started on its own) is told the subjects and judged; the CA goes into the bundle's pki/."""
    responder = nats_pki.clients["responder"]
    # At 0.1, not SCALE: a device met natively before the test server subscribes starts up (its first GETs
    # unanswered meanwhile) over more than BASIC-027's first 120 s wait at 0.01 (1.2 s), as through the old runner.
    with spawn_der_client(nats_pki, f"{natsd_tls.url}/dcap", time_scale=0.1) as device:
        device.wait_ready()
        profile = tmp_path / "device.yaml"
        profile.write_text(PROFILE.read_text().replace("http://127.0.0.1:9000", device.admin_url).replace(
            "identity:\n", f"identity:\n  cert: {nats_pki.clients['client'].cert}\n", 1))
        out = tmp_path / "out"
        done = pytest_run(tmp_path, str(client_cases(tmp_path, "BASIC-027")), "--csip-profile", str(profile),
                          "--csip-transport", "nats", "--csip-dut", natsd_tls.url, "--csip-cert", str(responder.cert),
                          "--csip-key", str(responder.key), "--csip-ca", str(nats_pki.ca),
                          "--csip-time-scale", "0.1", "--csip-out", str(out))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    device_lfdi = lfdi(certificate_der(nats_pki.clients["client"].cert)).lower()
    told = done.stdout.index(f"the test server answers 2030.5 over the NATS server {natsd_tls.url}")
    assert done.stdout.index(f"native requests on: ieee2030.server.{device_lfdi}") > told
    results = json.loads((out / "results.json").read_text())
    assert (results["run"]["transport"], results["run"]["nats"]["mapping"]) == ("nats", "native")
    assert "NATS TLS client certificate" in results["run"]["nats"]["identity"]
    assert results["tests"][0]["verdict"] == "passed", results["tests"][0]["reason"]
    assert (out / "pki" / Path(nats_pki.ca).name).read_bytes() == Path(nats_pki.ca).read_bytes()
    assert not list(out.rglob("*.key"))


@pytest.mark.parametrize(("args", "expected"), [
    (["--csip-role", "client", "--csip-reference", "--csip-encoding", "json"],
     "--csip-role client --csip-encoding json: expected --csip-transport nats (CUPID's JSON travels over NATS"),
    (["--csip-role", "client", "--csip-reference", "--csip-transport", "nats", "--csip-dut", "nats://127.0.0.1:4222"],
     "so there is no --csip-dut (except --csip-transport nats with a real device"),
    (["--csip-role", "client", "--csip-reference", "--csip-transport", "nats", "--csip-nats-mapping", "sideways"],
     "--csip-transport nats: nats mapping: expected one of native, interstore, saw 'sideways'"),
    (["--csip-profile", "der.yaml", "--csip-transport", "nats"],
     "--csip-transport nats with a real device: expected --csip-dut nats://HOST:PORT or tls://HOST:PORT (the NATS "
     "server the device uses), saw none"),
    (["--csip-profile", "der-cert.yaml", "--csip-transport", "nats", "--csip-dut", "https://127.0.0.1:4222"],
     "expected --csip-dut nats://HOST:PORT or tls://HOST:PORT (the NATS server the device uses), saw https://"),
    (["--csip-profile", "der.yaml", "--csip-transport", "nats", "--csip-dut", "nats://127.0.0.1:4222"],
     "expected the device's certificate as identity: {cert: ...} in "),
    (["--csip-profile", "der-cert.yaml", "--csip-transport", "nats", "--csip-dut", "tls://127.0.0.1:4222"],
     "--csip-dut tls://127.0.0.1:4222: expected --csip-cert/--csip-key/--csip-ca, the test server's NATS TLS client "
     "certificate"),
])
def test_client_role_nats_mistakes_are_usage_errors_before_anything_starts(nats_pki: TestPki, tmp_path: Path,
                                                                           args: list[str], expected: str) -> None:
    folder = client_cases(tmp_path, "BASIC-027")
    (tmp_path / "der.yaml").write_text("role: client\n")
    (tmp_path / "der-cert.yaml").write_text(f"role: client\nidentity: {{cert: {nats_pki.clients['client'].cert}}}\n")
    done = pytest_run(tmp_path, str(folder), *args, timeout=60)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert expected in done.stderr and "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "csip-results").exists() and list((tmp_path / "tmp").iterdir()) == []
