"""Notifications over NATS with JetStream: a run over NATS subscribes with nats:// notificationURIs, the reference
server publishes its Notifications on ieee2030.notifications.<path> into its stream SEP_NOTIFICATIONS, and one
published while the harness's listener is offline is delivered when it comes back; a server that does not keep
them (defect notifications-not-stored) gets a failed verdict naming the subject. A real nats-server with
JetStream, started by `csip-harness run --reference --transport nats`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import nats
import pytest

from harness.cases.loader import CaseFileError, load_case
from harness.pki import TestPki
from harness.reference.defects import Defects
from harness.reference.nats_notify import NatsNotifications
from harness.reference.natsd import NatsServer, TlsUsers
from harness.sep.tls import client_context
from harness.server.nats_listener import NatsNotificationListener
from harness.transport.nats_wire import WireError, notification_subject

CLI = Path(sys.executable).with_name("csip-harness")
# An example case of the source tree (examples/ is not shipped in the wheel): CORE-018 with the listener offline.
OFFLINE_CASE = Path(__file__).resolve().parents[2] / "examples" / "nats" / "CORE-018-listener-offline.yaml"


def run(out: Path, *options: str) -> dict[str, Any]:
    """The CORE-018 test of a reference run (results.json), at time scale 0.01."""
    done = subprocess.run([str(CLI), "run", "--reference", "--time-scale", "0.01", "--out", str(out), "-q", *options],
                          capture_output=True, text=True, timeout=300)
    assert (out / "results.json").is_file(), done.stdout[-2000:] + done.stderr[-2000:]
    tests = json.loads((out / "results.json").read_text())["tests"]
    return next(test for test in tests if test["id"] == "CORE-018")


def test_a_notification_published_while_the_listener_is_offline_arrives_when_it_returns(tmp_path: Path) -> None:
    test = run(tmp_path / "out", "--transport", "nats", "--cases", str(OFFLINE_CASE))
    assert test["verdict"] == "passed", test.get("reason")
    steps = {step["index"]: step for step in test["steps"]}
    assert steps[8]["observed"] == {"listener": "offline", "stored_by_dut": True}
    arrived = steps[12]
    assert arrived["expected"]["subject"] == "ieee2030.notifications.ntfy.CORE-018.fsa"
    (exchange,) = arrived["exchanges"]
    assert exchange["url"].startswith("nats://127.0.0.1:") and exchange["url"].endswith("/ntfy/CORE-018/fsa")


def test_a_server_that_drops_notifications_while_the_listener_is_away_fails_naming_the_subject(
        tmp_path: Path) -> None:
    test = run(tmp_path / "out", "--transport", "nats", "--cases", str(OFFLINE_CASE),
               "--defect", "notifications-not-stored")
    assert test["verdict"] == "failed"
    failed = next(step for step in test["steps"] if step["verdict"] == "failed")
    assert failed["index"] == 12
    assert "on the NATS subject ieee2030.notifications.ntfy.CORE-018.fsa" in failed["message"]
    assert "keeps no JetStream stream of Notifications (SEP_NOTIFICATIONS)" in failed["message"]


def test_the_bundled_subscription_case_gets_its_notification_over_nats(tmp_path: Path) -> None:
    test = run(tmp_path / "out", "--transport", "nats", "-k", "CORE-018")
    assert test["verdict"] == "passed", test.get("reason")
    urls = [e["url"] for step in test["steps"] if step.get("expected", {}).get("subject") for e in step["exchanges"]]
    assert urls and all(url.startswith("nats://") for url in urls)


def test_the_offline_case_is_not_applicable_over_https(tmp_path: Path) -> None:
    test = run(tmp_path / "out", "--cases", str(OFFLINE_CASE))
    assert test["verdict"] == "not_applicable"
    assert "takes the notification listener offline" in test["reason"]


def test_notification_subjects() -> None:
    assert notification_subject("/ntfy/CORE-018/fsa") == "ieee2030.notifications.ntfy.CORE-018.fsa"
    assert notification_subject("/a.b/c*d>e f?x=1") == "ieee2030.notifications.a%2Eb.c%2Ad%3Ee%20f"
    with pytest.raises(WireError, match="expected a notificationURI with a path"):
        notification_subject("/")


def test_a_listener_step_with_another_state_is_a_load_error_with_its_line(tmp_path: Path) -> None:
    text = OFFLINE_CASE.read_text().replace("listener: offline", "listener: away", 1)
    broken = tmp_path / "broken.yaml"
    broken.write_text(text)
    with pytest.raises(CaseFileError) as caught:
        load_case(broken)
    line = next(n for n, content in enumerate(text.splitlines(), 1) if "listener: away" in content)
    message = str(caught.value)
    assert f":{line}" in message and "listener: 'away' is not one of ['offline', 'online']" in message


def test_the_listener_over_nats_tls_reads_the_backlog_with_a_device_users_permissions(nats_pki: TestPki,
                                                                                     tmp_path: Path) -> None:
    """The harness's listener as a certificate-mapped device user (harness.reference.natsd's permissions): it reads
    SEP_NOTIFICATIONS through its consumer, answers on Sep-Reply, and gets what was stored while it was offline."""
    client, responder = nats_pki.clients["client"], nats_pki.clients["responder"]
    users = TlsUsers(nats_pki.server.cert, nats_pki.server.key, nats_pki.ca, clients=[client.cert],
                     responders=[responder.cert])

    async def go(url: str) -> tuple[list[int | None], list[str]]:
        server = await NatsNotifications(await nats.connect(url, tls=client_context(
            responder.cert, responder.key, nats_pki.ca)), Defects()).setup()
        listener = NatsNotificationListener(url, client_context(client.cert, client.key, nats_pki.ca))
        await listener.start()
        answers = [(await server.deliver(f"{url}/ntfy/X/online", b"<Notification/>"))[0]]
        await listener.set_online(False)
        answers.append((await server.deliver(f"{url}/ntfy/X/offline", b"<Notification/>"))[0])
        await listener.set_online(True)
        arrived = await listener.wait_for("/ntfy/X/offline", 0, 5.0)
        await listener.close()
        await server.nc.close()
        return answers, [r.path for r in listener.received] if arrived else []

    with NatsServer(users, jetstream=True, workdir=tmp_path / "natsd") as natsd:
        answers, paths = asyncio.run(go(natsd.url))
    assert answers == [201, None]  # answered online; stored (not yet answered) while the listener was away
    assert paths == ["/ntfy/X/online", "/ntfy/X/offline"]
