"""One simulated DER: its HTTPS client, the CSIP discovery walk, polling, event handling and what it posts.

The walk follows IEEE 2030.5 §6.1 discovery as CSIP expects it (CORE-003, CORE-009, CORE-010, BASIC-001):
GET /dcap, the Time, the EndDeviceList (paged with s/l) until the EndDevice whose lFDI is the device's own,
that EndDevice, its Registration (the pIN must be the device's), its FunctionSetAssignmentsList and each FSA,
each FSA's DERProgramList, and per DERProgram its DefaultDERControl, DERControlList and DERCurveList (each
curve). It then PUTs DERCapability, DERSettings (reading each back), DERStatus and DERAvailability, and
POSTs a MirrorUsagePoint. Afterwards each list is re-read at its pollRate (inherited from the enclosing
resource when absent, 900 s at the top: §6.1.2.1), event edges are acted on when they fall, DERStatus and
DERAvailability are PUT every status_rate seconds, MirrorMeterReadings POSTed at the mirror's postRate.
A server that cannot be reached or answers an error sends the device back to discovery after 15 s of device
time, doubling up to 300 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from lxml import etree

from harness.reference.derclient import events as ev
from harness.reference.derclient import wire
from harness.reference.derclient.clock import DeviceClock
from harness.sep.identity import certificate_der, lfdi, sfdi
from harness.sep.tls import client_context

DEFAULT_POLL_RATE = 900  # 2030.5 §6.1.2.1: pollRate's default
DEFECT_POLL_RATE = 60  # the ignores-pollrate defect's fixed rate
TIME_POLL_RATE = 900  # CORE-005: Time re-read at most once per 15 min
PAGE = 25
MAX_PAGES = 200
CONTENT_TYPE = "application/sep+xml"
DEFAULT_PIN = 111115
HARDCODED_LOGEVENT_PATH = "/lel"


class ServerError(Exception):
    """A server answer the walk cannot go on with (an HTTP error status or an unusable body)."""


class NotRegistered(Exception):
    """The device's EndDevice is not in the EndDeviceList, or its Registration holds another PIN."""


@dataclass
class Options:
    """What every device of a process shares: defects, time scale, edition, expected PIN, status rate, seed."""

    defects: frozenset[str] = frozenset()
    time_scale: float = 1.0
    edition: str = "2018"
    pin: int = DEFAULT_PIN
    status_rate: int = 300  # DERStatus/DERAvailability PUT period, seconds of device time
    post_rate: int = 300  # the postRate the MirrorUsagePoint asks for
    seed: int | None = None
    timeout: float = 30.0
    # Over NATS (a nats:// or tls:// server address): the mapping and the body encoding (docs/nats-mapping.md).
    nats_mapping: str = "native"
    encoding: str = "xml"
    structure: Any = None  # the schema's structure (SchemaSet.structure()), for encoding "json"


@dataclass
class Stats:
    """Request counts and latencies of every device of the process, for the admin API and the bench."""

    started: float = field(default_factory=time.monotonic)
    requests: int = 0
    failures: int = 0
    latencies: list[float] = field(default_factory=list)

    def record(self, seconds: float, ok: bool) -> None:
        """Count one exchange and its latency (s)."""
        self.requests += 1
        self.failures += 0 if ok else 1
        if len(self.latencies) < 2_000_000:
            self.latencies.append(seconds)


@dataclass
class Program:
    """A DERProgram the device was assigned, with its links and the rate its controls are re-read at."""

    href: str
    mrid: str
    primacy: int
    default_href: str | None
    controls_href: str | None
    curves_href: str | None
    rate: int
    source: str = ""  # the DERProgramList it was read from


def tls_context(cert: Path, key: Path, ca: Path, defects: frozenset[str]) -> ssl.SSLContext:
    """The device's TLS 1.2 context: its own certificate, the server checked against the CA (SERCA)."""
    context = client_context(cert, key, ca)
    if "no-ccm8" in defects:
        context.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384")
    return context


class Device:
    """One DER with its own certificate and HTTPS client; run() walks and polls until stopped."""

    def __init__(self, index: int, cert: Path, key: Path, ca: Path, dcap_url: str, options: Options,
                 stats: Stats) -> None:
        der = certificate_der(cert)
        self.index = index
        self.lfdi = lfdi(der)
        # wrong-sfdi: the check digit of 2030.5 6.3.3 left off (the lFDI it looks itself up by stays right).
        self.sfdi = sfdi(der) // 10 if "wrong-sfdi" in options.defects else sfdi(der)
        self.cert, self.key, self.ca = cert, key, ca
        self.dcap_url = dcap_url
        parts = urlsplit(dcap_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.dcap_path = parts.path or "/dcap"
        self.options = options
        self.defects = options.defects
        self.stats = stats
        self.edition = options.edition
        self.clock = DeviceClock(options.time_scale, follow_server="ignores-server-time" not in self.defects)
        seed = None if options.seed is None else options.seed * 100_003 + index
        self.schedule = self._new_schedule(random.Random(seed))
        self.settings = wire.Settings(
            set_max_w=wire.RATED_W + 1000 if "settings-exceed-rating" in self.defects
            else wire.RATED_W - 1000 if "misreports-settings" in self.defects else wire.RATED_W,
            modes=(*wire.SUPPORTED_MODES, "opModFixedVar") if "var-mode-without-rating" in self.defects
            else wire.SUPPORTED_MODES,
            set_min_pf_over=800 if "pf-setting-below-rating" in self.defects else 850)
        self.state = "stopped"
        self.errors: deque[str] = deque(maxlen=20)
        self.responses_sent: deque[dict[str, Any]] = deque(maxlen=200)
        self.last_poll: float | None = None
        self.discovered_after: float | None = None  # real s from the process start to the first full walk
        self.log_event_id = 0
        self.requests = 0
        # The last requests and their answers, for people and tests looking at what the device did.
        self.recent_requests: deque[dict[str, Any]] = deque(maxlen=64)
        self.pending_log_events: list[int] = []
        self.last_alarm: dict[str, int] = {}
        self._client: Any = None  # httpx.AsyncClient, or NatsHttpClient over NATS
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._job_started: float | None = None
        self.answered_at = 0.0
        self.list_read_at = 0.0
        self._reset_tree()

    def _reset_tree(self) -> None:
        self.links: dict[str, str | None] = {}
        self.rates: dict[str, int] = {}
        self.programs: dict[str, Program] = {}
        self.program_lists: dict[str, int] = {}
        self.curves: dict[str, etree._Element] = {}
        self.jobs: dict[str, float] = {}
        self.read_at: dict[str, float] = {}  # device time of the walk's read of each polled resource
        self.mirror_href: str | None = None

    # --- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start walking and polling (a no-op while running)."""
        if self._task is None or self._task.done():
            self.state = "discovering"
            self._task = asyncio.get_running_loop().create_task(self.run(), name=f"der-{self.index}")

    async def stop(self) -> None:
        """Stop the device and close its connection."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self.state = "stopped"

    async def power_cycle(self) -> None:
        """Lose everything learnt (the tree, events, time) and start again from /dcap."""
        await self.stop()
        self.schedule = self._new_schedule(self.schedule.rng)
        self.clock = DeviceClock(self.options.time_scale, follow_server=self.clock.follow_server)
        self._reset_tree()
        self.start()

    def _new_schedule(self, rng: random.Random) -> ev.Schedule:
        defects = self.defects
        return ev.Schedule(rng, lower_primacy_wins="applies-lower-primacy" in defects,
                           randomise="no-randomisation" not in defects, apply_events="ignores-controls" not in defects,
                           apply_defaults="ignores-default" not in defects, keep_ended="keeps-ended-control" in defects,
                           keep_cancelled="keeps-cancelled" in defects)

    def client(self) -> Any:
        """The device's HTTPS client (one connection, its own certificate), made on first use; over NATS the
        NatsHttpClient seam with the same request() (harness.reference.derclient.nats_client)."""
        if self._client is None and urlsplit(self.origin).scheme in ("nats", "tls"):
            from harness.reference.derclient.nats_client import NatsHttpClient

            nats_tls = client_context(self.cert, self.key, self.ca) if self.origin.startswith("tls://") else None
            self._client = NatsHttpClient(self.origin, self.options.nats_mapping, nats_tls, self.lfdi, str(self.sfdi),
                                          timeout=self.options.timeout, encoding=self.options.encoding,
                                          structure=self.options.structure)
        if self._client is None:
            context = tls_context(self.cert, self.key, self.ca, self.defects)
            self._client = httpx.AsyncClient(
                base_url=self.origin, verify=context, timeout=self.options.timeout, trust_env=False,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                headers={"Accept": CONTENT_TYPE},
            )
        return self._client

    async def run(self) -> None:
        """Discover, then poll; on a failure note it, back off and discover again."""
        failures = 0
        while True:
            try:
                self.state = "discovering"
                await self.discover()
                failures = 0
                self.state = "running"
                if self.discovered_after is None:
                    self.discovered_after = time.monotonic() - self.stats.started
                await self.poll_forever()
            except asyncio.CancelledError:
                raise
            except NotRegistered as exc:
                self.errors.append(str(exc))
                # Not registered is no server fault: look again at the DeviceCapability's rate.
                await self.clock.sleep(self._rate("dcap"))
            except (httpx.HTTPError, ServerError, wire.WireError, OSError) as exc:
                failures += 1
                self.errors.append(f"{type(exc).__name__}: {exc}")
                if self._client is not None:
                    await self._client.aclose()
                    self._client = None
                # Exponential back-off from 15 s to 5 min of device time: CORE-005 allows a client without a
                # valid time source to retry no more than once per 15 s.
                await self.clock.sleep(min(300.0, 15.0 * 2 ** min(failures - 1, 5)))

    # --- HTTP ----------------------------------------------------------------------------------

    async def exchange(self, method: str, href: str, body: bytes | None = None,
                       params: dict[str, int] | None = None) -> httpx.Response:
        """One request to the server; its latency is recorded."""
        headers = {"Content-Type": CONTENT_TYPE} if body is not None else None
        begun = time.perf_counter()
        self.requests += 1
        ok = False
        try:
            response = await self.client().request(method, href, content=body, headers=headers, params=params)
            ok = response.status_code < 400
            target = href + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")
            self.recent_requests.append({"method": method, "target": target, "status": response.status_code})
            return response
        finally:
            self.stats.record(time.perf_counter() - begun, ok)

    async def get(self, href: str, expected: str | tuple[str, ...], params: dict[str, int] | None = None
                  ) -> etree._Element:
        """GET a resource; ServerError for a status other than 200, WireError for a body of another kind."""
        response = await self.exchange("GET", href, params=params)
        # Polls are timed from the answer: the server saw the request before it, so a pollRate counted from
        # here never brings the next GET early.
        self.answered_at = self.clock.now()
        if self._job_started is None:
            self._job_started = self.answered_at
        if response.status_code != 200:
            raise ServerError(f"GET {href}: expected 200, saw {response.status_code}")
        self.last_poll = self.answered_at
        return wire.parse(response.content, expected)

    async def get_list(self, href: str, tag: str, item: str) -> tuple[etree._Element, list[etree._Element]]:
        """Every item of a list resource, read page by page with s and l (2030.5 §6.1.2.2 list queries)."""
        if "no-list-paging" in self.defects:
            root = await self.get(href, tag)
            self.list_read_at = self.answered_at
            return root, wire.items(root, item)
        collected: list[etree._Element] = []
        root = await self.get(href, tag, {"s": 0, "l": PAGE})
        self.list_read_at = self.answered_at
        for _ in range(MAX_PAGES):
            page = wire.items(root, item)
            collected += page
            total = int(root.get("all", "0") or 0)
            if not page or len(collected) >= total:
                break
            root = await self.get(href, tag, {"s": len(collected), "l": PAGE})
        return root, collected

    async def put(self, href: str, body: bytes) -> None:
        """PUT a resource; ServerError unless 2xx."""
        response = await self.exchange("PUT", href, body)
        if response.status_code >= 300:
            raise ServerError(f"PUT {href}: expected 2xx, saw {response.status_code}")

    async def post(self, href: str, body: bytes) -> httpx.Response:
        """POST a resource and return the answer (the caller judges its status)."""
        return await self.exchange("POST", href, body)

    # --- discovery -----------------------------------------------------------------------------

    def _rate(self, name: str) -> int:
        if "ignores-pollrate" in self.defects:
            return DEFECT_POLL_RATE
        return self.rates.get(name, DEFAULT_POLL_RATE)

    def _own_lfdi_for_lookup(self) -> str:
        if "wrong-lfdi" not in self.defects:
            return self.lfdi
        last = self.lfdi[-1]
        return self.lfdi[:-1] + ("0" if last != "0" else "1")

    async def discover(self) -> None:
        """The CSIP discovery walk from /dcap down to the programs, then the DER's first writes."""
        self._reset_tree()
        dcap = await self.get(self.dcap_path, "DeviceCapability")
        self.read_at["dcap"] = self.answered_at
        self.rates["dcap"] = wire.poll_rate(dcap) or DEFAULT_POLL_RATE
        for name in ("TimeLink", "EndDeviceListLink", "MirrorUsagePointListLink"):
            self.links[name] = wire.link(dcap, name)
        if self.links["TimeLink"]:
            await self.read_time(self.links["TimeLink"])
        edev_list = self.links["EndDeviceListLink"]
        if not edev_list:
            raise ServerError(f"expected an EndDeviceListLink in {self.dcap_path}, saw none")
        await self.find_end_device(edev_list)
        await self.read_registration()
        self.state = "registered"
        await self.read_assignments()
        # Programs learnt before a rediscovery that the server no longer assigns leave with their events.
        for stale in {*self.schedule.defaults, *(e.control.program for e in self.schedule.events.values())}:
            if stale not in self.programs:
                self.schedule.forget_program(stale)
        await self.write_der()
        await self.make_mirror()
        # Each first poll is due a pollRate after the walk's read of that resource.
        now = self.clock.now()
        read = self.read_at
        self.jobs = {"dcap": read["dcap"] + self._rate("dcap"), "edev": read.get("edev", now) + self._rate("edev"),
                     "fsa": read.get("fsa", now) + self._rate("fsa"), "status": now + self.options.status_rate}
        if self.links.get("TimeLink"):
            self.jobs["time"] = now + (DEFECT_POLL_RATE if "ignores-pollrate" in self.defects else TIME_POLL_RATE)
        for href in self.program_lists:
            self.jobs[f"derp {href}"] = read.get(f"derp {href}", now) + self._list_rate(href)
        for program in self.programs.values():
            self.jobs[f"derc {program.href}"] = read.get(f"derc {program.href}", now) + self._program_rate(program)
        if self.mirror_href:
            self.jobs["mmr"] = now + self.options.post_rate

    async def read_time(self, href: str) -> None:
        """GET the Time resource and follow the server's clock."""
        root = await self.get(href, "Time")
        current = wire.integer(root, "currentTime")
        if current is None:
            raise ServerError(f"expected a currentTime in {href}")
        self.clock.set_server_time(current)

    async def find_end_device(self, href: str) -> None:
        """Page through the EndDeviceList to the device's own EndDevice (by lFDI) and GET it."""
        root, devices = await self.get_list(href, "EndDeviceList", "EndDevice")
        self.read_at["edev"] = self.list_read_at
        self.rates["edev"] = wire.poll_rate(root) or self.rates["dcap"]
        if "posts-enddevice" in self.defects:
            await self.post(href, wire.end_device(self.sfdi, self.lfdi, self.clock.timestamp(), self.edition))
        wanted = self._own_lfdi_for_lookup()
        mine = next((d for d in devices if wire.text(d, "lFDI").upper() == wanted), None)
        if mine is None or not mine.get("href"):
            raise NotRegistered(f"no EndDevice with lFDI {wanted} in {href} (read {len(devices)} of "
                                f"{root.get('all')}): not registered, walking no further")
        own = await self.get(mine.get("href"), "EndDevice")
        self.links["EndDevice"] = mine.get("href")
        for name in ("RegistrationLink", "FunctionSetAssignmentsListLink", "DERListLink", "LogEventListLink"):
            self.links[name] = wire.link(own, name)

    async def read_registration(self) -> None:
        """GET the Registration and check its pIN against the device's (2030.5 §6.3.5)."""
        href = self.links.get("RegistrationLink")
        if not href:
            raise NotRegistered(f"expected a RegistrationLink in {self.links['EndDevice']}, saw none")
        root = await self.get(href, "Registration")
        pin = wire.integer(root, "pIN")
        if pin != self.options.pin:
            raise NotRegistered(f"Registration {href} holds pIN {pin}, not this device's {self.options.pin}: "
                                "not its server, walking no further")

    async def read_assignments(self, *, known_lists: bool = True) -> None:
        """The FunctionSetAssignmentsList, each FSA, each DERProgramList, and each program's resources.

        known_lists False (a re-read at the FSA list's pollRate) reads only the DERProgramLists not known yet:
        the known ones are re-read at their own pollRate.
        """
        href = self.links.get("FunctionSetAssignmentsListLink")
        if not href:
            return
        root, fsas = await self.get_list(href, "FunctionSetAssignmentsList", "FunctionSetAssignments")
        self.read_at["fsa"] = self.list_read_at
        self.rates["fsa"] = wire.poll_rate(root) or self.rates["edev"]
        lists: dict[str, int] = {}
        for item in fsas:
            fsa = await self.get(item.get("href"), "FunctionSetAssignments") if item.get("href") else item
            if not self.links.get("TimeLink") and wire.link(fsa, "TimeLink"):
                self.links["TimeLink"] = wire.link(fsa, "TimeLink")
                await self.read_time(self.links["TimeLink"])
            derp = wire.link(fsa, "DERProgramListLink")
            if derp:
                lists[derp] = self.rates["fsa"]
        kept: set[str] = set()
        for derp in lists:
            if known_lists or derp not in self.program_lists:
                kept |= await self.read_program_list(derp)
            else:
                kept |= {h for h, p in self.programs.items() if p.source == derp}
        for gone in set(self.programs) - kept:
            del self.programs[gone]
            self.schedule.forget_program(gone)
        self.program_lists = {h: self.program_lists.get(h, r) for h, r in lists.items()}

    def _list_rate(self, href: str) -> int:
        return DEFECT_POLL_RATE if "ignores-pollrate" in self.defects else self.program_lists.get(href, 900)

    def _program_rate(self, program: Program) -> int:
        return DEFECT_POLL_RATE if "ignores-pollrate" in self.defects else program.rate

    async def read_program_list(self, href: str) -> set[str]:
        """Read a DERProgramList; load the programs not known yet; return the hrefs it holds."""
        root, items = await self.get_list(href, "DERProgramList", "DERProgram")
        self.read_at[f"derp {href}"] = self.list_read_at
        rate = wire.poll_rate(root) or self.rates.get("fsa", DEFAULT_POLL_RATE)
        self.program_lists[href] = rate
        if "keeps-one-program" in self.defects and items:
            items = [min(items, key=lambda i: wire.integer(i, "primacy", 255) or 0)]
        found: set[str] = set()
        for item in items:
            program_href = item.get("href")
            if not program_href:
                continue
            found.add(program_href)
            primacy = wire.integer(item, "primacy", 255)
            known = self.programs.get(program_href)
            if known is not None and known.primacy == primacy:
                continue
            program = Program(
                href=program_href, mrid=wire.text(item, "mRID"), primacy=primacy if primacy is not None else 255,
                default_href=wire.link(item, "DefaultDERControlLink"),
                controls_href=wire.link(item, "DERControlListLink"), curves_href=wire.link(item, "DERCurveListLink"),
                rate=rate, source=href,
            )
            self.programs[program_href] = program
            await self.load_program(program)
        return found

    async def load_program(self, program: Program) -> None:
        """A new program: its curves, its DefaultDERControl and its controls."""
        if program.curves_href:
            _, curves = await self.get_list(program.curves_href, "DERCurveList", "DERCurve")
            for curve in curves:
                if curve.get("href"):
                    self.curves[curve.get("href")] = await self.get(curve.get("href"), "DERCurve")
        await self.read_controls(program)

    async def read_controls(self, program: Program) -> None:
        """Re-read a program's DefaultDERControl and DERControlList and act on what changed."""
        if program.default_href:
            response = await self.exchange("GET", program.default_href)
            if response.status_code == 200:
                default = wire.parse(response.content, "DefaultDERControl")
                self.schedule.set_default(program.href, program.primacy, wire.text(default, "mRID"),
                                          wire.base_values(wire.child(default, "DERControlBase")))
        if not program.controls_href:
            return
        root, items = await self.get_list(program.controls_href, "DERControlList", "DERControl")
        self.read_at[f"derc {program.href}"] = self.list_read_at
        if wire.poll_rate(root):
            program.rate = wire.poll_rate(root) or program.rate
        controls = [self._control(program, item) for item in items if wire.text(item, "mRID")]
        for control in controls:
            for value in control.base.values():
                href = value.get("href") if isinstance(value, dict) else None
                if href and href not in self.curves:
                    self.curves[href] = await self.get(href, "DERCurve")
        now = self.clock.now()
        await self.respond(self.schedule.update_program(program.href, controls, now))
        await self.respond(self.schedule.tick(self.clock.now()))

    @staticmethod
    def _control(program: Program, item: etree._Element) -> ev.Control:
        status = wire.child(item, "EventStatus")
        interval = wire.child(item, "interval")
        return ev.Control(
            mrid=wire.text(item, "mRID").upper(), href=item.get("href", ""), program=program.href,
            primacy=program.primacy, creation_time=wire.integer(item, "creationTime", 0) or 0,
            start=wire.integer(interval, "start", 0) or 0 if interval is not None else 0,
            duration=wire.integer(interval, "duration", 0) or 0 if interval is not None else 0,
            current_status=(wire.integer(status, "currentStatus", 0) or 0) if status is not None else 0,
            randomize_start=wire.integer(item, "randomizeStart", 0) or 0,
            randomize_duration=wire.integer(item, "randomizeDuration", 0) or 0,
            response_required=int(item.get("responseRequired", "00") or "0", 16),
            reply_to=item.get("replyTo"),
            base=wire.base_values(wire.child(item, "DERControlBase")),
        )

    # --- what the device writes ----------------------------------------------------------------

    async def write_der(self) -> None:
        """GET the DERList and PUT DERCapability and DERSettings (each read back), DERStatus, DERAvailability."""
        href = self.links.get("DERListLink")
        if not href:
            return
        _, ders = await self.get_list(href, "DERList", "DER")
        if not ders:
            return
        der = ders[0]
        for name in ("DERCapabilityLink", "DERSettingsLink", "DERStatusLink", "DERAvailabilityLink"):
            self.links[name] = wire.link(der, name)
        if self.links["DERCapabilityLink"]:
            await self.put(self.links["DERCapabilityLink"], wire.der_capability(self.settings, self.edition))
            if "no-read-back" not in self.defects:
                await self.get(self.links["DERCapabilityLink"], "DERCapability")
        await self.write_settings()
        await self.write_status()

    async def write_settings(self) -> None:
        """PUT DERSettings and read it back."""
        href = self.links.get("DERSettingsLink")
        if href:
            # misreports-settings: what it PUTs says its rating, whatever it is configured to.
            reported = wire.Settings(**{**self.settings.__dict__, "set_max_w": self.settings.rtg_max_w}) \
                if "misreports-settings" in self.defects else self.settings
            await self.put(href, wire.der_settings(reported, self.clock.timestamp(), self.edition))
            if "no-read-back" not in self.defects:
                await self.get(href, "DERSettings")

    async def write_status(self) -> None:
        """PUT DERStatus and DERAvailability at now."""
        now = self.clock.timestamp()
        connected = self.schedule.active_control()["base"].get("opModConnect", True) is not False
        if self.links.get("DERStatusLink"):
            await self.put(self.links["DERStatusLink"], wire.der_status(now, connected, self.edition))
        if self.links.get("DERAvailabilityLink"):
            await self.put(self.links["DERAvailabilityLink"], wire.der_availability(now, self.edition))

    def _reading_mrids(self) -> tuple[str, str]:
        # mRIDs derived from the LFDI: stable across restarts, so a re-POST updates the same mirror (rule a.4).
        return self.lfdi[:28] + "0001", self.lfdi[:28] + "0002"

    async def make_mirror(self) -> None:
        """POST a MirrorUsagePoint for the DER's output (Metering Mirror); keep its Location."""
        href = self.links.get("MirrorUsagePointListLink")
        if not href:
            return
        mirror_mrid, reading_mrid = self._reading_mrids()
        response = await self.post(href, wire.mirror_usage_point(mirror_mrid, reading_mrid, self.lfdi,
                                                                 self.options.post_rate, self.edition))
        if response.status_code not in (201, 204) or not response.headers.get("Location"):
            raise ServerError(f"POST {href}: expected 201 or 204 with a Location, saw {response.status_code}")
        self.mirror_href = response.headers["Location"]
        await self.post_reading()

    async def post_reading(self) -> None:
        """POST a MirrorMeterReading of the present output to the mirror."""
        if not self.mirror_href:
            return
        active = self.schedule.active_control()["base"]
        limit = active.get("opModMaxLimW")
        watts = 4200 if not isinstance(limit, dict) else min(4200, int(limit.get("value", 4200)))
        _, reading_mrid = self._reading_mrids()
        response = await self.post(self.mirror_href,
                                   wire.mirror_meter_reading(reading_mrid, self.clock.timestamp(), watts, self.edition))
        if response.status_code >= 300:
            raise ServerError(f"POST {self.mirror_href}: expected 2xx, saw {response.status_code}")

    async def respond(self, replies: list[ev.Reply]) -> None:
        """POST the Responses responseRequired asks for to each control's replyTo."""
        for reply in replies:
            if not ev.wants(reply.control, reply.status) or not reply.control.reply_to:
                continue
            if (reply.status == ev.STARTED and "skips-response-2" in self.defects) or (
                    reply.status == ev.CANCELLED and "skips-response-6" in self.defects):
                continue
            created = self.clock.timestamp()
            body = wire.control_response(reply.control.mrid, self.lfdi, reply.status, created, self.edition,
                                         reply.control.base)
            response = await self.post(reply.control.reply_to, body)
            self.responses_sent.append({"href": reply.control.href, "status": reply.status, "time": created,
                                        "answer": response.status_code})

    async def post_log_event(self, code: int) -> dict[str, Any]:
        """POST a LogEvent to the EndDevice's LogEventListLink (or queue it until the device knows it)."""
        href = HARDCODED_LOGEVENT_PATH if "hardcoded-logevent-path" in self.defects \
            else self.links.get("LogEventListLink")
        if not href or self.state != "running":
            self.pending_log_events.append(code)
            self._wake.set()
            return {"queued": True}
        self.log_event_id += 1
        created = self.clock.timestamp()
        # The DER's own record of the alarm (what a lab reads on its display), against what it reports.
        self.last_alarm = {"logEventCode": code, "logEventID": self.log_event_id, "createdDateTime": created}
        reported = (code + 1) % 256 if "misreports-alarm" in self.defects else code
        response = await self.post(href, wire.log_event(created, self.log_event_id, reported, self.edition))
        return {"href": href, "status": response.status_code, "location": response.headers.get("Location"),
                "logEventID": self.log_event_id, "createdDateTime": created}

    async def change_setting(self, name: str, value: object) -> dict[str, Any]:
        """Change one DERSettings value and PUT DERSettings at once when the device is running."""
        self.settings = self.settings.with_value(name, value)
        if self.state == "running":
            await self.write_settings()
        return {"setting": name, "value": value, "put": self.state == "running"}

    # --- polling -------------------------------------------------------------------------------

    async def poll_forever(self) -> None:
        """Run each due job, act on event edges, sleep until the next of either."""
        jobs: dict[str, Callable[[str], Any]] = {
            "dcap": self._poll_dcap, "time": self._poll_time, "edev": self._poll_edev, "fsa": self._poll_fsa,
            "status": self._poll_status, "mmr": self._poll_mmr,
        }
        while True:
            await self.respond(self.schedule.tick(self.clock.now()))
            while self.pending_log_events:
                await self.post_log_event(self.pending_log_events.pop(0))
            now = self.clock.now()
            for name, due in sorted(self.jobs.items(), key=lambda item: item[1]):
                if due > now or name not in self.jobs:  # not due, or dropped by a job that ran before it
                    continue
                # The next poll is due a pollRate after this one's first answer (see get), so the time a poll
                # takes does not stretch the spacing a server sees between two GETs of one resource.
                self._job_started = None
                kind = name.split(" ", 1)[0]
                if kind == "derp":
                    await self._poll_program_list(name.split(" ", 1)[1])
                elif kind == "derc":
                    await self._poll_controls(name.split(" ", 1)[1])
                else:
                    await jobs[kind](name)
            now = self.clock.now()
            edges = [t for t in (min(self.jobs.values(), default=None), self.schedule.next_transition(now))
                     if t is not None]
            wake = min(edges, default=now + DEFAULT_POLL_RATE)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.clock.real_delay(wake - now))

    def _again(self, name: str, rate: float) -> None:
        if name in self.jobs:
            self.jobs[name] = (self._job_started or self.clock.now()) + rate

    async def _poll_dcap(self, name: str) -> None:
        dcap = await self.get(self.dcap_path, "DeviceCapability")
        self.rates["dcap"] = wire.poll_rate(dcap) or DEFAULT_POLL_RATE
        self._again(name, self._rate("dcap"))

    async def _poll_time(self, name: str) -> None:
        await self.read_time(self.links["TimeLink"] or "/tm")
        self._again(name, DEFECT_POLL_RATE if "ignores-pollrate" in self.defects else TIME_POLL_RATE)

    async def _poll_edev(self, name: str) -> None:
        href = self.links["EndDeviceListLink"] or "/edev"
        root, devices = await self.get_list(href, "EndDeviceList", "EndDevice")
        self.rates["edev"] = wire.poll_rate(root) or self.rates["dcap"]
        if not any(wire.text(d, "lFDI").upper() == self._own_lfdi_for_lookup() for d in devices):
            raise NotRegistered(f"the EndDevice with lFDI {self.lfdi} left {href}")
        self._again(name, self._rate("edev"))

    async def _poll_fsa(self, name: str) -> None:
        before = set(self.program_lists)
        await self.read_assignments(known_lists=False)
        now = self.clock.now()
        for href in set(self.program_lists) - before:
            self.jobs[f"derp {href}"] = now + self._list_rate(href)
        for href in before - set(self.program_lists):
            self.jobs.pop(f"derp {href}", None)
        self._sync_control_jobs()
        self._again(name, self._rate("fsa"))

    def _sync_control_jobs(self) -> None:
        now = self.clock.now()
        for program in self.programs.values():
            self.jobs.setdefault(f"derc {program.href}", now + self._program_rate(program))
        for name in [n for n in self.jobs if n.startswith("derc ") and n[5:] not in self.programs]:
            del self.jobs[name]

    async def _poll_program_list(self, href: str) -> None:
        await self.read_program_list(href)
        self._sync_control_jobs()
        self._again(f"derp {href}", self._list_rate(href))

    async def _poll_controls(self, href: str) -> None:
        program = self.programs.get(href)
        if program is None:
            self.jobs.pop(f"derc {href}", None)
            return
        await self.read_controls(program)
        self._again(f"derc {href}", self._program_rate(program))

    async def _poll_status(self, name: str) -> None:
        await self.write_status()
        self._again(name, self.options.status_rate)

    async def _poll_mmr(self, name: str) -> None:
        await self.post_reading()
        self._again(name, self.options.post_rate)

    # --- the admin API's view ------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The device as GET /status shows it (client contract)."""
        return {
            "lfdi": self.lfdi, "sfdi": self.sfdi, "state": self.state,
            "active_control": self.schedule.active_control(),
            "last_poll": self.last_poll, "responses_sent": list(self.responses_sent), "errors": list(self.errors),
            "discovered_after": self.discovered_after, "requests": self.requests,
            "programs": [{"href": p.href, "mRID": p.mrid, "primacy": p.primacy} for p in
                         sorted(self.programs.values(), key=lambda p: (p.primacy, p.href))],
            "recent_requests": list(self.recent_requests),
        }

    def identity(self) -> dict[str, Any]:
        """What the DER computed of its own identity and whether it found its registration (BASIC-001)."""
        return {"lFDI": self.lfdi, "sFDI": self.sfdi, "registered": self.state in ("registered", "running")}

    def applied_settings(self) -> dict[str, Any]:
        """The settings in force (what DERSettings last said) and the control applied."""
        return {"setMaxW": self.settings.set_max_w, "setGradW": self.settings.set_grad_w,
                "rtgMaxW": self.settings.rtg_max_w, "active_control": self.schedule.active_control()}
