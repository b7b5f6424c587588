"""A scripted 2030.5 client "DUT" for the harness's own tests of the client role: httpx over real mutual TLS.

It walks DeviceCapability -> EndDevice -> Registration -> FSA -> DERProgramList -> the first program's
DERControlList, re-polls /dcap and that list at the DeviceCapability's pollRate, answers each DERControl
with Response 1 (received) at once, 2 (started) at the event's start and 3 (completed) at its end on the
server's clock; with applied_file it writes there, as JSON, the control it applies (the event's from Response
2 to Response 3, else none).
A behaviour makes it misbehave in one named way, so a test can show each verdict:

good, skip-started (never sends Response 2), unknown-certificate (presents a certificate the run does not
know), garbage (sends bytes that are not XML as its Response), disconnect (drops its connection mid-walk and
goes silent), opt-out (answers with Response 7 instead of 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import httpx
from lxml import etree

from harness.pki import TestPki
from harness.sep import MEDIA_TYPE_XML, NS
from harness.sep.tls import client_context

BEHAVIOURS = ("good", "skip-started", "unknown-certificate", "garbage", "disconnect", "opt-out")


def _text(root: etree._Element, path: str) -> str | None:
    return root.findtext("/".join(f"{{{NS}}}{part}" for part in path.split("/")))


def _values(element: etree._Element) -> dict[str, Any]:
    """An element's children as {name: text or nested mapping}."""
    return {etree.QName(child).localname: _values(child) if len(child) else (child.text or "").strip()
            for child in element if isinstance(child.tag, str)}


class ScriptedDer:
    """One scripted DER client; run() until stop()."""

    def __init__(self, base_url: str, pki: TestPki, lfdi: str, *, scale: float, behaviour: str = "good",
                 applied_file: Path | None = None) -> None:
        assert behaviour in BEHAVIOURS, behaviour
        name = "aggregator" if behaviour == "unknown-certificate" else "client"
        pair = pki.identities[name]
        self.http = httpx.AsyncClient(base_url=base_url, verify=client_context(pair.cert, pair.key, pki.ca),
                                      timeout=5)
        self.lfdi, self.scale, self.behaviour = lfdi, scale, behaviour
        self.answered: set[str] = set()
        self.tasks: list[asyncio.Task[None]] = []
        self.offset = 0.0
        # What it applies, as a vendor tool would show it (read by a `command` observation of active-control).
        self.applied_file = applied_file
        self.apply({"source": "none"})

    def apply(self, control: dict[str, Any]) -> None:
        if self.applied_file is not None:
            # Replaced whole, so a reader never sees half of it.
            partial = self.applied_file.with_suffix(".partial")
            partial.write_text(json.dumps(control))
            partial.replace(self.applied_file)

    async def get(self, path: str) -> etree._Element | None:
        answer = await self.http.get(path)
        return etree.fromstring(answer.content) if answer.status_code == 200 and answer.content else None

    async def respond(self, reply_to: str, mrid: str, status: int) -> None:
        now = int(asyncio.get_running_loop().time() / self.scale + self.offset)
        body = (f'<DERControlResponse xmlns="{NS}"><createdDateTime>{now}</createdDateTime><endDeviceLFDI>'
                f"{self.lfdi}</endDeviceLFDI><status>{status}</status><subject>{mrid}</subject>"
                "</DERControlResponse>").encode()
        if self.behaviour == "garbage":
            body = b"\x00\xffnot xml at all"
        await self.http.post(reply_to, content=body, headers={"Content-Type": MEDIA_TYPE_XML})

    async def started_at(self, reply_to: str, mrid: str, start: int, duration: int, base: dict[str, Any]) -> None:
        now = asyncio.get_running_loop().time() / self.scale + self.offset
        await asyncio.sleep(max(0.0, (start - now) * self.scale))
        self.apply({"source": "DERControl", "mRID": mrid, "base": base})
        await self.respond(reply_to, mrid, 2)
        await asyncio.sleep(duration * self.scale)
        self.apply({"source": "none"})
        await self.respond(reply_to, mrid, 3)

    async def cycle(self) -> float:
        dcap = await self.get("/dcap")
        if dcap is None:
            return 300.0
        time = await self.get("/tm")
        if time is not None:
            self.offset = int(_text(time, "currentTime") or 0) - asyncio.get_running_loop().time() / self.scale
        for path in ("/edev", "/edev/1", "/edev/1/rg", "/edev/1/fsa", "/derp", "/derp/1"):
            await self.get(path)
            if self.behaviour == "disconnect" and path == "/edev/1":
                await self.http.aclose()
                await asyncio.sleep(3600)
        await self.controls()
        return float(dcap.get("pollRate") or 900)

    async def controls(self) -> None:
        controls = await self.get("/derp/1/derc")
        for control in controls if controls is not None else ():
            mrid, reply_to = _text(control, "mRID") or "", control.get("replyTo") or ""
            if mrid in self.answered or not reply_to:
                continue
            self.answered.add(mrid)
            await self.respond(reply_to, mrid, 7 if self.behaviour == "opt-out" else 1)
            start = int(_text(control, "interval/start") or 0)
            duration = int(_text(control, "interval/duration") or 0)
            if self.behaviour != "skip-started":
                base = control.find(f"{{{NS}}}DERControlBase")
                self.tasks.append(asyncio.create_task(self.started_at(reply_to, mrid, start, duration,
                                                                      _values(base) if base is not None else {})))

    async def run(self) -> None:
        """Walk, then re-walk at the pollRate, reading the DERControlList every 20 server seconds meanwhile."""
        try:
            while True:
                poll = await self.cycle()
                waited = 0.0
                while waited < poll:
                    step = min(20.0, poll - waited)
                    await asyncio.sleep(step * self.scale)
                    waited += step
                    await self.controls()
        except (httpx.HTTPError, RuntimeError):
            with contextlib.suppress(Exception):
                await asyncio.sleep(3600)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await self.http.aclose()


