"""Tokens and secrets never reach the evidence: a real run whose admin API echoes every credential it gets."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from harness.paths import project_dir
from harness.pki import TestPki
from harness.redact import MASK, Masker, profile_secrets
from harness.reference.process import ReferenceProcess
from harness.sep.identity import certificate_der, lfdi

ENV_TOKEN = "env-admin-token-5b1f0c"  # admin_token: ${env.CSIP_TEST_ADMIN_TOKEN}
QUERY_TOKEN = "query-token-a9d3e1"  # ?access_token=${env.CSIP_TEST_QUERY_TOKEN}
SITE_CODE = "site-code-77c2"  # site: ${env.CSIP_TEST_SITE}: not secret-named, but from the environment
PASSWORD = "vendor-password-4411"  # vendor_password: literal in the profile, secret by its name
API_KEY = "literal-api-key-9e8d"  # X-Api-Key header, literal in the profile
USERINFO = "userinfo-pw-6f2a"  # http://lab:PASSWORD@host/... in the mapping's URL
CASE_AUTH = "case-bearer-3c3c"  # an Authorization header a test case sends to the DUT
BASIC = base64.b64encode(f"lab:{USERINFO}".encode()).decode()
SECRETS = [ENV_TOKEN, QUERY_TOKEN, SITE_CODE, PASSWORD, API_KEY, USERINFO, CASE_AUTH, BASIC]

CASE_WITH_AUTHORIZATION = """\
id: LAB-002
title: DeviceCapability with an Authorization header
version: "1"
role: server
procedure: {doc: lab procedures, version: "1"}
steps:
  - name: GET DeviceCapability
    request: {method: GET, path: "${dcap}", headers: {Authorization: "Bearer CASE_AUTH"}}
    expect: {status: 200, schema: DeviceCapability}
""".replace("CASE_AUTH", CASE_AUTH)


class EchoAdmin(BaseHTTPRequestHandler):
    """An admin API that returns what it was sent: the path, the credential headers and the body."""

    def do_PUT(self) -> None:  # noqa: N802 (http.server's naming)
        self._echo()

    def do_POST(self) -> None:  # noqa: N802
        self._echo()

    def _echo(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        echo = f"{self.path} | {self.headers.get('Authorization')} | {self.headers.get('X-Api-Key')} | {body}"
        status = 401 if self.path.startswith("/deny") else 200
        self.send_response(status)
        self.send_header("Content-Length", str(len(echo.encode())))
        self.end_headers()
        self.wfile.write(echo.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def echo_admin() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoAdmin)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_no_secret_reaches_any_file_of_the_bundle_or_the_terminal(
    reference_server: ReferenceProcess, pki: TestPki, tmp_path: Path, echo_admin: str
) -> None:
    profile = yaml.safe_load((project_dir("fixtures") / "profiles" / "reference-server-http.yaml").read_text())
    profile["variables"] = {"admin_url": "unused", "admin_token": "${env.CSIP_TEST_ADMIN_TOKEN}",
                            "site": "${env.CSIP_TEST_SITE}", "vendor_password": PASSWORD}
    echo = f"http://lab:{USERINFO}@{echo_admin}"
    headers = {"Authorization": "Bearer ${admin_token}", "X-Api-Key": API_KEY}
    profile["actions"]["configure-time"] = {"http": {
        "method": "PUT", "url": echo + "/clock?access_token=${env.CSIP_TEST_QUERY_TOKEN}&site=${site}&mode=plain",
        "headers": headers, "json": {"password": "${vendor_password}", "quality": "${quality}"}}}
    profile["actions"]["preregister-enddevice"] = {"http": {
        "url": echo + "/deny", "headers": headers, "json": {"lfdi": "${lfdi}", "token": "${admin_token}"}}}
    (tmp_path / "dut.yaml").write_text(yaml.safe_dump(profile))
    cases = tmp_path / "testcases"
    cases.mkdir()
    for case in ("CORE-004", "CORE-005"):
        shutil.copy(project_dir("testcases") / "server" / f"{case}.yaml", cases)
    (cases / "LAB-002.yaml").write_text(CASE_WITH_AUTHORIZATION)
    client = pki.clients["client"]
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--dut", reference_server.base_url, "--cert", str(client.cert),
         "--key", str(client.key), "--ca", str(pki.ca), "--profile", str(tmp_path / "dut.yaml"), "--cases",
         str(cases), "--out", str(out), "--unattended"],
        capture_output=True, text=True, timeout=120, check=False, start_new_session=True,
        env={**os.environ, "CSIP_TEST_ADMIN_TOKEN": ENV_TOKEN, "CSIP_TEST_QUERY_TOKEN": QUERY_TOKEN,
             "CSIP_TEST_SITE": SITE_CODE})
    results = json.loads((out / "results.json").read_text())
    tests = {t["id"]: t for t in results["tests"]}
    assert set(tests) == {"CORE-004", "CORE-005", "LAB-002"}, done.stdout + done.stderr

    # Every file of the bundle and everything printed: no secret, in any form the run produced.
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {"results.json", "report.html", "junit.xml", "MANIFEST.sha256"} <= {p.name for p in files}
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr, secret
        for file in files:
            assert secret.encode() not in file.read_bytes(), f"{secret} in {file.relative_to(out)}"

    # What the admin API echoed is still there, with the secrets masked and the rest intact.
    [configure] = tests["CORE-005"]["actions"]
    assert configure["outcome"] == "done"
    assert configure["detail"].startswith(
        f"PUT http://lab:{MASK}@{echo_admin}/clock?access_token={MASK}&site={MASK}&mode=plain -> 200 ")
    # (httpx sends the URL's userinfo as Basic credentials, in place of the mapping's Bearer header.)
    assert f"| Basic {MASK} | {MASK} | " in configure["detail"] and f'"password": "{MASK}"' in configure["detail"]
    assert f"http://lab:{MASK}@{echo_admin}/clock?access_token=" in results["run"]["dut"]["actions"]["configure-time"]
    # A failed action: its reason shows the admin API's answer, masked; non-secret parameters stay readable.
    [register] = tests["CORE-004"]["actions"]
    assert register["outcome"] == "failed" and tests["CORE-004"]["verdict"] == "error"
    assert "expected status 2xx, saw 401" in tests["CORE-004"]["reason"] and f'"token": "{MASK}"' in register["detail"]
    assert register["params"]["lfdi"] == lfdi(certificate_der(client.cert))
    # The 2030.5 request's Authorization header went to the DUT; the evidence shows that it was sent, not its value.
    [exchange] = tests["LAB-002"]["steps"][0]["exchanges"]
    assert ["authorization", MASK] in exchange["request_headers"] and tests["LAB-002"]["verdict"] == "passed"
    assert f"authorization: {MASK}" in (out / exchange["evidence"]).read_text()


def test_profile_secrets_by_source_name_and_place() -> None:
    masker = profile_secrets(
        {"admin_token": "${env.T}", "url": "https://h/${env.U}", "api_key": "k-literal", "site": "plain-site"},
        {"vendor_password": "p-from-var", "admin_url": "http://10.0.0.5:9000"},
        [{"url": "https://u:pw-literal@h/x?apikey=q-literal", "headers": {"Authorization": "Basic abcd1234"}}],
        {"T": "t-from-env", "U": "u-from-env", "UNUSED": "not-referenced"},
    )
    text = masker.prose("t-from-env u-from-env k-literal p-from-var pw-literal q-literal abcd1234 "
                        "plain-site http://10.0.0.5:9000 not-referenced")
    assert text == " ".join([MASK] * 7) + " plain-site http://10.0.0.5:9000 not-referenced"


def test_masking_rules_for_urls_headers_settings_and_short_values() -> None:
    masker = Masker(["ab"])  # too short to hunt for in free text
    assert masker.prose("see https://me:pw@host:8443/p?token=ab&s=0&l=10 then ab") == \
        f"see https://me:{MASK}@host:8443/p?token={MASK}&s=0&l=10 then ab"
    assert masker.headers([("Authorization", "Bearer ab"), ("X-Auth-Token", "z"), ("Accept", "x")]) == [
        ("Authorization", MASK), ("X-Auth-Token", MASK), ("Accept", "x")]
    assert masker.settings({"lfdi": "AB12", "secret": "s", "nested": [{"password": 1}], "empty_key": ""}) == {
        "lfdi": "AB12", "secret": MASK, "nested": [{"password": MASK}], "empty_key": ""}
    masker.add("longer-secret/with space")
    assert masker.data({"body": "x longer-secret%2Fwith%20space y", "n": 3}) == {"body": f"x {MASK} y", "n": 3}
