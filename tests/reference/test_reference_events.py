"""DERControl events: the admin create-dercontrol action, EventStatus against the clock, the DERControlList order.

EventStatus (2030.5 EventStatus notes and §10.2.3 event rules): 0 Scheduled until the event starts, 1 Active
during [start, start + duration), dateTime the time the current status was set; an ended event is no longer
served. DERControlList order: interval start ascending, creationTime descending, mRID descending.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from lxml import etree

from harness.actions.executors import run_builtin
from harness.cases.model import ActionMapping
from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, start_reference_server
from harness.sep import NS
from harness.sep.safexml import parse_xml
from harness.sep.schema import FAILURE, SchemaSet
from harness.sep.tls import client_context

Q = f"{{{NS}}}"
CONTROL = {"opModConnect": True, "opModMaxLimW": 2500}


def start(pki: TestPki, *defects: str) -> ReferenceProcess:
    return start_reference_server(pki, defects=list(defects), preregister=[(pki.clients["client"].cert, 111115)])


def root_of(response: httpx.Response) -> etree._Element:
    return parse_xml(response.content)


class Lab:
    """A 2030.5 client and an admin client of one reference server."""

    def __init__(self, pki: TestPki, server: ReferenceProcess) -> None:
        pair = pki.clients["client"]
        self.http = httpx.Client(base_url=server.base_url, verify=client_context(pair.cert, pair.key, pki.ca),
                                 timeout=5)
        self.admin = httpx.Client(base_url=server.admin_url, timeout=10,
                                  headers={"Authorization": f"Bearer {server.admin_token}"})

    def close(self) -> None:
        self.http.close()
        self.admin.close()

    def now(self) -> int:
        """The server's currentTime."""
        return int(root_of(self.http.get("/tm")).findtext(Q + "currentTime") or "0")

    def wait_until(self, instant: int) -> None:
        """Sleep until the server's clock reads at least instant (bounded: 10 s)."""
        deadline = time.monotonic() + 10
        while self.now() < instant:
            assert time.monotonic() < deadline, f"server clock never reached {instant}"
            time.sleep(0.2)

    def create(self, **params: Any) -> httpx.Response:
        return self.admin.post("/admin/programs/controls", json={"program": "1", "control": CONTROL, **params})

    def status(self, href: str) -> tuple[int, int]:
        """(currentStatus, dateTime) of the DERControl at href."""
        event = root_of(self.http.get(href)).find(Q + "EventStatus")
        return int(event.findtext(Q + "currentStatus")), int(event.findtext(Q + "dateTime"))

    def listed(self, program: str = "/derp/1") -> list[etree._Element]:
        return root_of(self.http.get(f"{program}/derc", params={"l": 255})).findall(Q + "DERControl")


@pytest.fixture(scope="module")
def lab(pki: TestPki) -> Iterator[Lab]:
    with start(pki) as server:
        opened = Lab(pki, server)
        yield opened
        opened.close()


def test_create_dercontrol_is_an_ensure(lab: Lab) -> None:
    at = lab.now() + 7200
    first = lab.create(start=at, duration=600)
    assert first.status_code == 201 and first.json()["created"] is True
    href = first.json()["href"]
    program = root_of(lab.http.get("/derp/1"))
    for name in ("1", program.findtext(Q + "mRID"), program.findtext(Q + "mRID").lower(), "CSIP reference program"):
        again = lab.create(start=at, duration=600, program=name)
        assert (again.status_code, again.json()) == (200, {**first.json(), "created": False}), name
    served = root_of(lab.http.get(href))
    base = served.find(Q + "DERControlBase")
    assert [(etree.QName(c).localname, c.text) for c in base] == [("opModConnect", "true"), ("opModMaxLimW", "2500")]
    assert (served.findtext(Q + "interval/" + Q + "start"), served.get("responseRequired")) == (str(at), "00")
    assert [f for f in SchemaSet.bundled().validate(served) if f.severity == FAILURE] == []


async def test_create_dercontrol_through_the_builtin_action_mapping(lab: Lab, pki: TestPki) -> None:
    # The way a case's setup reaches the reference server: ADMIN_REQUESTS names the admin route.
    params = {"program": "1", "start": lab.now() + 7250, "duration": 60, "control": {"opModConnect": False},
              "response_required": "00"}
    variables = {"admin_url": str(lab.admin.base_url), "admin_token": lab.admin.headers["Authorization"][7:]}
    note = await run_builtin(ActionMapping("create-dercontrol", "builtin", {}), params, variables)
    assert "201" in note and "/derp/1/derc/" in note


def test_create_dercontrol_with_randomization_and_a_response(lab: Lab) -> None:
    created = lab.create(start=lab.now() + 7300, duration=60, response_required="03", randomize_start=30,
                         randomize_duration=-20, control={"opModTargetW": {"multiplier": 0, "value": 3000}})
    served = root_of(lab.http.get(created.json()["href"]))
    assert (served.findtext(Q + "randomizeStart"), served.findtext(Q + "randomizeDuration")) == ("30", "-20")
    assert served.get("responseRequired") == "03"
    assert served.findtext(Q + "DERControlBase/" + Q + "opModTargetW/" + Q + "value") == "3000"


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"program": "no such program"}, 404, "no DERProgram 'no such program'"),
        ({"control": {"opModMaxLimW": "lots"}}, 422, "opModMaxLimW"),
        ({"control": {"opModTeleport": 1}}, 422, "opModTeleport"),
        ({"control": {"opModTargetW": {"value": 1, "multiplier": 0}}}, 422,
         "element value is out of order (expected multiplier first)"),
        ({"control": {"opModMaxLimW": 70000}}, 422, "opModMaxLimW"),
        ({"duration": 0}, 422, "0 is less than the minimum of 1"),
    ],
)
def test_create_dercontrol_refuses_what_is_wrong(lab: Lab, params: dict[str, Any], status: int, words: str) -> None:
    response = lab.create(**{"start": lab.now() + 7400, "duration": 60, **params})
    assert response.status_code == status and words in response.json()["error"], response.text


def test_event_status_follows_the_clock(lab: Lab) -> None:
    begin = lab.now() + 2
    created = lab.create(start=begin, duration=2)
    href = created.json()["href"]
    creation = int(root_of(lab.http.get(href)).findtext(Q + "creationTime"))
    assert lab.status(href) == (0, creation)  # Scheduled since it was created
    listed = len(lab.listed())
    lab.wait_until(begin)
    assert lab.status(href) == (1, begin)  # Active since its start
    lab.wait_until(begin + 2)
    assert lab.http.get(href).status_code == 404  # ended: no longer served
    assert len(lab.listed()) == listed - 1
    assert root_of(lab.http.get("/derp/1")).find(Q + "DERControlListLink").get("all") == str(listed - 1)


def test_an_event_created_after_its_start_begins_active(lab: Lab) -> None:
    now = lab.now()
    href = lab.create(start=now - 30, duration=600).json()["href"]
    creation = int(root_of(lab.http.get(href)).findtext(Q + "creationTime"))
    assert lab.status(href) == (1, creation)


def test_an_event_that_has_ended_is_not_served(lab: Lab) -> None:
    href = lab.create(start=lab.now() - 100, duration=10).json()["href"]
    assert lab.http.get(href).status_code == 404
    assert href not in [c.get("href") for c in lab.listed()]


def _keys(controls: list[etree._Element]) -> list[tuple[int, int, int]]:
    return [(int(c.findtext(Q + "interval/" + Q + "start")), -int(c.findtext(Q + "creationTime")),
             -int(c.findtext(Q + "mRID"), 16)) for c in controls]


def order_scenario(lab: Lab, program: str) -> list[tuple[int, int, int]]:
    """Controls of equal start created in different seconds, and of equal start and second: the list's keys."""
    at = lab.now() + 5000
    lab.create(program=program, start=at + 60, duration=60)
    lab.create(program=program, start=at, duration=60)
    time.sleep(1.1)
    lab.create(program=program, start=at, duration=61)
    lab.create(program=program, start=at, duration=62)
    keys = _keys(lab.listed(f"/derp/{program}"))
    assert len({k[1] for k in keys if k[0] == at}) >= 2, "the equal starts must have different creationTimes"
    return keys


def test_dercontrol_list_order(lab: Lab) -> None:
    lab.admin.post("/admin/programs/ensure", json={"count": 2})
    keys = order_scenario(lab, "2")
    assert keys == sorted(keys)


# --- defects ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def defect_labs(pki: TestPki) -> Iterator[dict[str, Lab]]:
    names = ["event-status-always-scheduled", "ended-event-listed", "dercontrol-list-wrong-order"]
    servers = {name: start(pki, name) for name in names}
    labs = {name: Lab(pki, server) for name, server in servers.items()}
    try:
        yield labs
    finally:
        for name in names:
            labs[name].close()
            servers[name].stop()


def test_event_status_always_scheduled(defect_labs: dict[str, Lab]) -> None:
    lab = defect_labs["event-status-always-scheduled"]
    href = lab.create(start=lab.now() - 30, duration=600).json()["href"]
    creation = int(root_of(lab.http.get(href)).findtext(Q + "creationTime"))
    assert lab.status(href) == (0, creation)


def test_ended_event_listed(defect_labs: dict[str, Lab]) -> None:
    lab = defect_labs["ended-event-listed"]
    href = lab.create(start=lab.now() - 100, duration=10).json()["href"]
    assert lab.http.get(href).status_code == 200
    assert href in [c.get("href") for c in lab.listed()]


def test_dercontrol_list_wrong_order(defect_labs: dict[str, Lab]) -> None:
    keys = order_scenario(defect_labs["dercontrol-list-wrong-order"], "1")
    assert keys != sorted(keys)
    assert [(start, -created) for start, created, _ in keys] == sorted((start, -created) for start, created, _ in keys)
