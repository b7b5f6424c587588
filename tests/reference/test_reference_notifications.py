"""Subscriptions and Notifications of the reference server, seen through the harness's listener: deliveries are
reported by the admin interface, and a listener the server cannot reach makes a case an error, not a failure."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cases.loader import load_case
from harness.paths import project_dir
from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, spawn_reference_server
from harness.results import ERROR, NOT_RUN, PASSED
from harness.session import HarnessSession, RunOptions

CORE_018 = project_dir("testcases") / "server" / "CORE-018.yaml"
PROFILES = project_dir("fixtures") / "profiles"


@pytest.fixture(scope="module")
def fast_server(pki: TestPki) -> Iterator[ReferenceProcess]:
    """A reference server of this module at time scale 0.01 (an await's 60 s are 0.6 s)."""
    with spawn_reference_server(pki, time_scale=0.01).wait_ready(60) as server:
        yield server


def run(server: ReferenceProcess, pki: TestPki, tmp_path: Path, profile: str = "reference-server.yaml",
        **extra: object):
    client = pki.clients["client"]
    options = RunOptions(dut=server.base_url, cert=str(client.cert), key=str(client.key), ca=str(pki.ca),
                         profile=str(PROFILES / profile), out=str(tmp_path / "out"), unattended=True,
                         variables=server.admin_variables(), time_scale=server.time_scale,
                         time_origin=server.time_origin, **extra)
    session = HarnessSession(options)
    try:
        return session.run(load_case(CORE_018))
    finally:
        session.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("profile", ["reference-server.yaml", "reference-server-http.yaml"])
def test_the_admin_answer_reports_each_delivery_with_the_listeners_answer(
        fast_server: ReferenceProcess, pki: TestPki, tmp_path: Path, profile: str) -> None:
    record = run(fast_server, pki, tmp_path, profile)
    assert record.verdict == PASSED, record.reason
    change = next(step for step in record.steps if step.name == "the server changes the FunctionSetAssignments")
    [action] = change.actions
    assert '"notifications": [{"to": "https://127.0.0.1:' in action.detail and '"answer": 201' in action.detail
    awaited = record.steps[change.index]  # the step after the change
    assert awaited.observed["answered"] == 201
    [notification] = awaited.exchanges
    assert notification.transport == "notification" and notification.tls["cipher"] == "ECDHE-ECDSA-AES128-CCM8"


def test_a_listener_the_server_cannot_reach_makes_the_case_an_error_with_the_reason(
        fast_server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    unreachable = f"https://127.0.0.1:{closed_port()}"
    record = run(fast_server, pki, tmp_path, listener_url=unreachable)
    assert record.verdict == ERROR, record.reason
    assert record.reason.startswith("step 9 'the Notification with the updated FunctionSetAssignmentsList arrives': "
                                    f"no Notification reached the listener at {unreachable}/ntfy/CORE-018/fsa")
    assert "the DUT reported it could not deliver: the listener is not reachable from the DUT" in record.reason
    assert "undelivered after 3 attempts: ConnectError" in record.reason
    assert "--csip-listener-url" in record.reason
    assert [s.verdict for s in record.steps[9:]] == [NOT_RUN, NOT_RUN]
