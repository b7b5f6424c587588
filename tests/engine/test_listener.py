"""The notification listener and the `await` step: real mutual TLS on 127.0.0.1, Notifications POSTed by a client
holding the server's certificate (as a 2030.5 server delivers them), cases written in the test."""

from __future__ import annotations

import socket
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

from harness.cases.loader import CaseFileError, load_case
from harness.paths import project_dir
from harness.pki import TestPki
from harness.reference.process import ReferenceProcess
from harness.results import ERROR, FAILED, NOT_RUN, PASSED, TestRecord
from harness.sep.tls import client_context
from harness.session import HarnessSession, RunOptions, SessionConfigError

PROFILE = project_dir("fixtures") / "profiles" / "reference-server.yaml"

HEAD = """\
id: LAB-030
title: notifications written in the test
role: server
procedure: {doc: d, version: '1'}
listener:
  fsa: {resource: FunctionSetAssignmentsList}
"""

FSA_LIST = ('<Resource xsi:type="FunctionSetAssignmentsList" href="/edev/1/fsa" all="1" results="0" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>')
END_DEVICE = ('<Resource xsi:type="EndDevice" href="/edev/1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
              '<sFDI>1</sFDI><changedTime>0</changedTime></Resource>')
SUBSCRIPTION = "https://127.0.0.1:8443/edev/1/sub/1"


def notification(resource: str = FSA_LIST, status: int = 0) -> bytes:
    return ('<Notification xmlns="urn:ieee:std:2030.5:ns"><subscribedResource>/edev/1/fsa</subscribedResource>'
            f'{resource}<status>{status}</status><subscriptionURI>{SUBSCRIPTION}</subscriptionURI></Notification>'
            ).encode()


def options(server: ReferenceProcess, pki: TestPki, **extra: object) -> RunOptions:
    client = pki.clients["client"]
    values: dict = dict(dut=server.base_url, cert=str(client.cert), key=str(client.key), ca=str(pki.ca),
                        profile=str(PROFILE), variables=server.admin_variables(), unattended=True)
    values.update(extra)
    return RunOptions(**values)


def write_case(tmp_path: Path, steps: str, head: str = HEAD) -> Path:
    case = tmp_path / "testcases" / "LAB-030.yaml"
    case.parent.mkdir(parents=True, exist_ok=True)
    case.write_text(head + "steps:\n" + textwrap.dedent(steps))
    return case


class Sender(threading.Thread):
    """Posts bodies to the listener path once the running case has started it, as the DUT would; keeps answers."""

    def __init__(self, session: HarnessSession, pki: TestPki, bodies: list[bytes], name: str = "fsa") -> None:
        super().__init__(daemon=True)
        self.session, self.pki, self.bodies, self.path_name = session, pki, bodies, name
        self.answers: list[int] = []
        self.problem: BaseException | None = None

    def run(self) -> None:
        try:
            deadline = time.monotonic() + 120
            handle = self.session.context.listener
            while handle.case is None and time.monotonic() < deadline:
                time.sleep(0.01)
            url = handle.url_of(self.path_name)
            context = client_context(self.pki.server.cert, self.pki.server.key, self.pki.ca, verify="chain")
            with httpx.Client(verify=context, timeout=10) as client:
                for body in self.bodies:
                    answer = client.post(url, content=body, headers={"Content-Type": "application/sep+xml"})
                    self.answers.append(answer.status_code)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.problem = exc


def run_with(session: HarnessSession, case: Path, sender: Sender | None = None) -> TestRecord:
    session.context  # noqa: B018 - made here, in the thread that runs the session, before the sender reads it
    if sender is not None:
        sender.start()
    try:
        return session.run(load_case(case))
    finally:
        if sender is not None:
            sender.join(30)
        session.close()


def test_an_awaited_notification_is_answered_201_judged_and_kept_as_evidence(
        reference_server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    case = write_case(tmp_path, """\
      - name: the FSA list Notification
        await: {notification: fsa, subscription: /edev/1/sub/1, within: 20}
        expect:
          content_type: application/sep+xml
          schema: Notification
          resource: {subscribedResource: /edev/1/fsa, status: 0, subscriptionURI: {uri: /edev/1/sub/1}}
        save: {notified: subscribedResource}
    """)
    session = HarnessSession(options(reference_server, pki))
    sender = Sender(session, pki, [notification()])
    record = run_with(session, case, sender)
    assert sender.problem is None and sender.answers == [201]
    assert record.verdict == PASSED, record.reason
    [step] = record.steps
    assert step.saved == {"notified": "/edev/1/fsa"}
    assert step.observed["answered"] == 201
    [exchange] = step.exchanges
    assert exchange.transport == "notification" and exchange.method == "POST" and exchange.status == 201
    assert exchange.url.endswith("/ntfy/LAB-030/fsa")
    assert exchange.request_body["text"].startswith("<Notification")
    assert exchange.tls["version"] == "TLSv1.2"
    # The DUT's certificate (here the server's) is the client of the listener's connection.
    assert exchange.tls["client_identity"]["lfdi"]


def test_a_notification_with_another_resource_is_answered_400_and_a_mismatch_fails_the_step(
        reference_server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    case = write_case(tmp_path, """\
      - name: the FSA list Notification
        await: {notification: fsa, within: 20}
        expect: {schema: Notification, resource: {status: 0}}
      - name: a second one carrying the wrong status
        await: {notification: fsa, within: 20}
        expect: {schema: Notification, resource: {status: 0}}
    """)
    session = HarnessSession(options(reference_server, pki))
    sender = Sender(session, pki, [notification(END_DEVICE), notification(status=1)])
    record = run_with(session, case, sender)
    assert sender.answers == [400, 201]
    assert record.steps[0].verdict == PASSED
    assert record.steps[0].observed["answered"] == 400
    assert "expected a Notification carrying a FunctionSetAssignmentsList" in record.steps[0].observed["answer_reason"]
    assert record.verdict == FAILED
    assert record.reason.startswith("step 2 'a second one carrying the wrong status': ")
    assert "resource.status: expected 0, saw '1'" in record.reason


def test_a_notification_that_never_comes_fails_naming_the_subscription_and_the_wait(
        reference_server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    case = write_case(tmp_path, """\
      - name: the FSA list Notification
        await: {notification: fsa, subscription: /edev/1/sub/7, within: 0.3}
        expect: {schema: Notification}
    """)
    record = run_with(HarnessSession(options(reference_server, pki)), case)
    assert record.verdict == FAILED
    assert "(subscription /edev/1/sub/7) within 0.3 s on the DUT's clock, saw none" in record.reason
    assert "/ntfy/LAB-030/fsa" in record.reason


def test_none_passes_when_nothing_comes_and_fails_when_one_does(
        reference_server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    case = write_case(tmp_path, """\
      - name: one Notification
        await: {notification: fsa, within: 20}
        expect: {schema: Notification}
      - name: no other
        await: {notification: fsa, within: 0.5, none: true}
    """)
    session = HarnessSession(options(reference_server, pki))
    record = run_with(session, case, Sender(session, pki, [notification()]))
    assert record.verdict == PASSED, record.reason
    session = HarnessSession(options(reference_server, pki))
    record = run_with(session, case, Sender(session, pki, [notification(), notification()]))
    assert record.verdict == FAILED
    assert "expected no further Notification at" in record.reason and "answered 201" in record.reason


def test_a_dut_that_reports_a_failed_delivery_makes_the_case_an_error(
        reference_server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_text(textwrap.dedent(f"""\
        role: server
        listener: {{cert: "${{pki_dir}}/listener.pem", key: "${{pki_keys}}/listener.key", ca: "${{pki_dir}}/ca.pem"}}
        actions:
          power-reset:
            command:
              argv: [{sys.executable}, -c, "print('notification to ${{listener.url}}/fsa undelivered: refused')"]
    """))
    case = write_case(tmp_path, """\
      - name: make the DUT notify
        action: {power-reset: {}}
      - name: the Notification
        await: {notification: fsa, within: 0.3}
        expect: {schema: Notification}
    """)
    record = run_with(HarnessSession(options(reference_server, pki, profile=str(profile))), case)
    assert record.verdict == ERROR, record.reason
    assert "the DUT reported it could not deliver: the listener is not reachable from the DUT" in record.reason
    assert "action 'power-reset' reported" in record.reason


def test_a_listener_that_cannot_start_makes_the_case_an_error_with_the_reason(
        reference_server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    case = write_case(tmp_path, """\
      - name: the Notification
        await: {notification: fsa, within: 1}
        expect: {schema: Notification}
    """)
    try:
        record = run_with(HarnessSession(options(reference_server, pki, listener=f"127.0.0.1:{port}")), case)
    finally:
        taken.close()
    assert record.verdict == ERROR
    assert record.reason.startswith(f"the notification listener could not start on 127.0.0.1:{port} (--csip-listener")
    assert [s.verdict for s in record.steps] == [NOT_RUN]


@pytest.mark.parametrize(("extra", "message"), [
    ({"listener": "127.0.0.1"}, "--csip-listener 127.0.0.1: expected HOST:PORT to listen on"),
    ({"listener": "0.0.0.0:99999"}, "expected a port number from 0 to 65535 after 0.0.0.0:, saw '99999'"),
    ({"listener_url": "ftp://10.0.0.7"}, "--csip-listener-url ftp://10.0.0.7: expected an https:// address"),
    ({"listener_url": "http://10.0.0.7:8444"}, "expected https:// (IEEE 2030.5 runs over TLS)"),
    ({"listener_cert": "/nonexistent/listener.pem"}, "--csip-listener-cert /nonexistent/listener.pem: expected the "
                                                     "notification listener's cert (PEM), saw no such file"),
])
def test_listener_options_are_checked_before_the_run(reference_server: ReferenceProcess, pki: TestPki,
                                                     extra: dict, message: str) -> None:
    with pytest.raises(SessionConfigError) as raised:
        HarnessSession(options(reference_server, pki, **extra))
    assert message in str(raised.value)


def test_an_await_step_cannot_expect_a_status(tmp_path: Path) -> None:
    case = write_case(tmp_path, """\
      - name: the Notification
        await: {notification: fsa}
        expect: {status: 201}
    """)
    with pytest.raises(CaseFileError) as raised:
        load_case(case)
    assert "an await step judges the Notification the DUT sent; its expect has no status" in str(raised.value)
    assert ":10:" in str(raised.value) or "line 10" in str(raised.value)


def test_should_true_makes_a_missing_or_extra_notification_a_warning_and_the_step_passes(
        reference_server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    case = write_case(tmp_path, """\
      - name: one Notification
        await: {notification: fsa, within: 20}
        expect: {schema: Notification}
      - name: no other (should)
        await: {notification: fsa, subscription: /edev/1/sub/1, within: 0.5, none: true}
        should: true
      - name: a third (should)
        await: {notification: fsa, within: 0.3}
        should: true
        expect: {schema: Notification}
        save: {third: subscribedResource}
      - name: the FSA list again
        request: {method: GET, path: /dcap}
        expect: {status: 200}
    """)
    session = HarnessSession(options(reference_server, pki))
    record = run_with(session, case, Sender(session, pki, [notification(), notification()]))
    assert record.verdict == PASSED, record.reason
    assert [s.verdict for s in record.steps] == [PASSED, PASSED, PASSED, PASSED]
    extra, missing = record.steps[1], record.steps[2]
    [finding] = extra.findings
    assert finding.severity == "warning" and finding.message.startswith(
        "should: expected no further Notification at ")
    assert "(subscription /edev/1/sub/1)" in finding.message
    assert finding.message.endswith("(asked by 'should', not required by the procedure)")
    assert extra.exchanges and extra.exchanges[0].status == 201  # the extra one stays as evidence
    [finding] = missing.findings
    assert finding.severity == "warning" and "saw none (waited " in finding.message
    assert missing.saved == {"third": None}


def test_should_true_makes_a_notification_that_does_not_match_a_warning(
        reference_server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    case = write_case(tmp_path, """\
      - name: a Notification with status 0 (should)
        await: {notification: fsa, within: 20}
        should: true
        expect: {schema: Notification, resource: {status: 0}}
    """)
    session = HarnessSession(options(reference_server, pki))
    record = run_with(session, case, Sender(session, pki, [notification(status=1)]))
    assert record.verdict == PASSED, record.reason
    [step] = record.steps
    assert step.mismatches == []
    assert [f.message for f in step.findings if f.severity == "warning"] == [
        "should: resource.status: expected 0, saw '1' (asked by 'should', not required by the procedure)"]


def test_a_should_mapping_on_an_await_warns_about_the_notification_it_received(
        reference_server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    case = write_case(tmp_path, """\
      - name: the FSA list Notification
        await: {notification: fsa, within: 20}
        expect: {schema: Notification, resource: {status: 0}}
        should: {resource: {subscriptionURI: {uri: /edev/1/sub/9}}}
    """)
    session = HarnessSession(options(reference_server, pki))
    record = run_with(session, case, Sender(session, pki, [notification()]))
    assert record.verdict == PASSED, record.reason
    [finding] = record.steps[0].findings
    assert finding.severity == "warning" and finding.message.startswith("should: resource.subscriptionURI")


def test_without_should_a_missing_notification_still_fails(
        reference_server: ReferenceProcess, pki: TestPki, tmp_path: Path) -> None:
    case = write_case(tmp_path, """\
      - name: the Notification
        await: {notification: fsa, within: 0.3}
        expect: {schema: Notification}
    """)
    record = run_with(HarnessSession(options(reference_server, pki)), case)
    assert record.verdict == FAILED and "saw none" in record.reason


@pytest.mark.parametrize(("step", "message", "line"), [
    ("""\
      - name: the Notification
        await: {notification: fsa}
        should: {status: 201}
    """, "an await step judges the Notification the DUT sent; its should has no status", 10),
    ("""\
      - name: dcap
        request: {method: GET, path: /dcap}
        should: true
    """, "should: true (the whole step asked by 'should') is for await steps", 10),
    ("""\
      - name: dcap
        request: {method: GET, path: /dcap}
        should: {stauts: 200}
    """, "'stauts' was unexpected", 10),
])
def test_should_on_steps_is_checked_when_the_case_loads(tmp_path: Path, step: str, message: str, line: int) -> None:
    case = write_case(tmp_path, step)
    with pytest.raises(CaseFileError) as raised:
        load_case(case)
    assert message in str(raised.value)
    assert f":{line}:" in str(raised.value) or f"line {line}" in str(raised.value)
