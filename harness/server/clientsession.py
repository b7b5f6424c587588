"""A client-role run under pytest (`--csip-role client`): what its cases share, made once and kept for the run.

In the client role the DUT is a 2030.5 client and the harness is its server (harness.server). The run's
test server, and with `--csip-reference` the reference simulated DER client with its test PKI, are
session-scoped: started once before the first client case (ClientSession.start), shared by every case and
stopped when the run ends (close). They live on an event loop in a thread of their own, so the test server
answers the device also between two cases, while pytest reports and the evidence is written, as it does in
a run of `csip-harness run --role client`.

A real device (`--csip-profile DEVICE.yaml` with role: client) is told where to connect (the address, the
CA to trust, the certificate to present) through the `tell` callback, and start() waits for its first
request. The run stays in one process: see harness.plugin (pytest-xdist) and README, "Parallel runs".

Over NATS (`--csip-transport nats`, docs/nats-mapping.md) the test server answers in both mappings: with
`--csip-reference` a private nats-server carries the reference DER client's exchanges (in the chosen mapping
and encoding); a real device is met on the NATS server it already uses, the one DUT address a client-role
run takes (`--csip-dut nats://…` or `tls://…`), and is told the subjects to use.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.actions.runner import ActionRunner
from harness.cases.model import Case
from harness.engine.clock import PROGRESS_EVERY_S, Clock
from harness.engine.context import RunContext
from harness.optioncheck import RunOptions, SessionConfigError, name_of
from harness.redact import mask_test_record
from harness.results import NOT_APPLICABLE, TestRecord
from harness.roles import client_profile, option_name, over_nats
from harness.server.clientrun import DUT_IDENTITY, ServerFiles, start_test_server
from harness.server.editions import EDITION_2018

if TYPE_CHECKING:
    from harness.transport.nats_run import NatsSettings

# How long a real device has to make its first request once the test server listens (real seconds), unless its
# profile says otherwise (timeouts: {first_request: S}).
FIRST_REQUEST_WAIT_S = 600.0
# How long the reference DER client has to come up (real seconds).
REFERENCE_START_S = 30.0


class ClientStartError(RuntimeError):
    """The test server, the reference DER client or the device did not come up; no client case can run."""


def _port(options: RunOptions) -> int:
    if not options.port:
        return 0
    text = str(options.port)
    if not (text.isascii() and text.isdigit() and 0 <= int(text) <= 65535):
        raise SessionConfigError(f"{name_of(options, 'port')}: expected a TCP port from 0 to 65535 (0: any free "
                                 f"one), saw {text!r}")
    return int(text)


class ClientSession:
    """One client-role run: the profile, the schema, the clock; then the test server (and reference client).

    Building one reads files and checks the options (SessionConfigError); start() starts the test server and,
    with reference, the reference DER client with a test PKI made for the run (or, for a real device, tells
    it where to connect and waits for its first request), ClientStartError when that fails; run() runs one
    case on them and returns its masked record; close() stops everything and removes the private keys.
    tell(line) shows a line to the person at the terminal at once (never captured).
    """

    def __init__(self, options: RunOptions, *, reference: bool, defects: Iterable[str] = (),
                 tell: Callable[[str], None] = print) -> None:
        from harness.session import load_schema, parse_time_scale

        self.options = options
        self.reference = reference
        self.defects = tuple(defects)
        self.tell = tell
        self.profile = client_profile(options, reference)
        if self.defects and not reference:
            raise SessionConfigError(f"{option_name(options, 'defect')} {', '.join(self.defects)}: expected with "
                                     f"{option_name(options, 'reference')} (the defects are the reference DER "
                                     "client's), saw a real device's profile")
        if reference:
            from harness.reference.derclient.defects import DER_CLIENT_DEFECTS

            unknown = [name for name in self.defects if name not in DER_CLIENT_DEFECTS]
            if unknown:
                raise SessionConfigError(f"{option_name(options, 'defect')} {', '.join(unknown)}: expected a defect "
                                         f"of the reference DER client ({', '.join(sorted(DER_CLIENT_DEFECTS))}), "
                                         "saw none of that name")
        scale = parse_time_scale(options.time_scale) or 1.0
        if scale != 1.0 and not (reference or self.profile.time_scale_supported):
            raise SessionConfigError(f"{option_name(options, 'time-scale')} {scale:g}: expected a DUT whose profile "
                                     "says time_scale: true (its clock follows the compressed one), saw none; a real "
                                     "device runs at 1")
        self.port = _port(options)
        from harness.transport.nats_run import run_settings

        # Over NATS (docs/nats-mapping.md): the mapping and body encoding, checked by harness.roles.client_profile.
        self.nats = run_settings(self.profile.raw, options.nats_mapping, options.encoding) if over_nats(options) \
            else None
        timeouts = self.profile.raw.get("timeouts") or {}
        self.first_request_s = float(timeouts.get("first_request", FIRST_REQUEST_WAIT_S))
        self.clock = Clock(scale)
        self.schema = load_schema(options.schema)
        self.edition = EDITION_2018
        self.actions = ActionRunner(self.profile, {**self.profile.variables, **options.variables},
                                    unattended=True if reference else options.unattended)
        self.masker = self.actions.masker
        self._keys: Path | None = None  # the run's private keys (reference PKI or a device's made here)
        self._certificates: list[Path] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._context: RunContext | None = None
        self._problem: str | None = None
        self._progress: Callable[[str], None] | None = None
        self._previous_handler: Any = None
        self._handler_installed = False
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- the shared resources ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the test server (and the reference client, or wait for the device) once; ClientStartError."""
        if self._context is not None:
            return
        if self._problem is not None:
            raise ClientStartError(self._problem)
        self._install_sigterm_handler()
        try:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="csip-test-server", daemon=True)
            self._thread.start()
            self._context = self._on_loop(self._start())
            self._context.late = self.options.late  # --csip-late, as in the server role (harness.engine.lateness)
            if self._progress is not None:
                self._context.progress = self._progress
        except Exception as exc:  # whatever stops the start (a port in use, a client that died) is each case's error
            said = str(exc) if isinstance(exc, ClientStartError | OSError) else f"{type(exc).__name__}: {exc}"
            self._problem = f"csip-harness could not start the client-role run: {said}"
            self._stop()  # the certificates stay for the bundle's pki/ until close()
            raise ClientStartError(self._problem) from None

    def _on_loop(self, coroutine: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(self._tracked(coroutine), self._loop).result()

    async def _tracked(self, coroutine: Any) -> Any:
        # Known to _stop(), which cancels a case or a start still going (a SIGTERM) before it closes the rest.
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            return await coroutine
        finally:
            self._tasks.discard(task)

    async def _start(self) -> RunContext:
        from harness.pki import make_test_pki

        self._stack = contextlib.AsyncExitStack()
        self._keys = Path(tempfile.mkdtemp(prefix="csip-client-keys-"))  # mode 0700, removed by close()
        options = self.options
        if self.reference:
            from harness.server.reference_client import reference_client_run

            pki = make_test_pki(self._keys / "pki", key_dir=self._keys, profiles=False)
            self._certificates = sorted((self._keys / "pki").glob("*.pem"))
            nats = {"transport": "nats", "nats_mapping": self.nats.mapping.mode,
                    "encoding": self.nats.encoding} if self.nats is not None else {}
            ctx = await self._stack.enter_async_context(reference_client_run(
                pki, self.profile, self.clock, self.schema, defects=self.defects, edition=self.edition, **nats))
            return ctx
        if self.nats is not None:
            return await self._start_for_nats_device(self.nats)
        if options.cert and options.key and options.ca:
            files = ServerFiles(Path(options.cert), Path(options.key), Path(options.ca))
            device_cert, device_key = self.profile.identity.cert, None
            if device_cert is None:
                raise ClientStartError(f"{name_of(options, 'cert')}/key/ca: expected the device's certificate as "
                                       "identity: {cert: ...} in the profile (the test server knows the device by "
                                       "its LFDI), saw none")
        else:
            pki = make_test_pki(self._keys / "pki", key_dir=self._keys, profiles=False, clients=(DUT_IDENTITY,))
            files = ServerFiles(pki.server.cert, pki.server.key, pki.ca)
            device_cert, device_key = pki.clients[DUT_IDENTITY].cert, pki.clients[DUT_IDENTITY].key
        self._certificates = [files.ca]
        ctx = await start_test_server(self.profile, files, self.clock, self.schema, {DUT_IDENTITY: Path(device_cert)},
                                      edition=self.edition, port=self.port, actions=self.actions)
        self._stack.push_async_callback(ctx.test_server.close)
        self._tell_the_device(ctx, files, Path(device_cert), device_key)
        if not await self._device_connected(ctx):
            raise ClientStartError(f"expected the device (LFDI {ctx.builtins['device']['lfdi']}) to connect to "
                                   f"{ctx.base_url}/dcap within {self.first_request_s:g} s, saw no request from it")
        return ctx

    async def _start_for_nats_device(self, settings: NatsSettings) -> RunContext:
        """The test server answering a real client device over the NATS server it uses, the DUT address
        (docs/nats-mapping.md): cert/key/ca are the test server's NATS TLS credentials for tls://, the device is
        the profile's identity (both checked by harness.roles.check_client_nats)."""
        import ssl

        import nats.errors

        from harness.sep.tls import client_context
        from harness.server.reference_client import nats_identity

        options, profile = self.options, self.profile
        assert self._stack is not None and options.dut and profile.identity.cert
        context = None
        if options.dut.lower().startswith("tls://"):
            context = client_context(options.cert, options.key, options.ca)
        self._certificates = [Path(options.ca)] if options.ca else []  # the bundle's pki/: never a key
        mapping = settings.mapping
        try:
            ctx = await start_test_server(profile, None, self.clock, self.schema,
                                          {DUT_IDENTITY: Path(profile.identity.cert)}, edition=self.edition,
                                          actions=self.actions, nats_url=options.dut, nats_context=context,
                                          nats_subjects={"native_subject": mapping.request_subject,
                                                         "tunnel_requests": mapping.tunnel_requests,
                                                         "tunnel_responses": mapping.tunnel_responses})
        except (nats.errors.Error, ssl.SSLError, TimeoutError) as exc:
            raise ClientStartError(f"cannot subscribe on the NATS server {options.dut}: {type(exc).__name__}: "
                                   f"{exc}") from None
        self._stack.push_async_callback(ctx.test_server.close)
        ctx.builtins["nats"] = {"mapping": mapping.mode, "encoding": settings.encoding, "server": options.dut,
                                "identity": nats_identity(mapping.mode), "subjects": {
                                    "request_subject": mapping.request_subject,
                                    "tunnel_requests": mapping.tunnel_requests,
                                    "tunnel_responses": mapping.tunnel_responses}}
        self._tell_the_nats_device(ctx)
        if not await self._device_connected(ctx):
            raise ClientStartError(f"expected the device (LFDI {ctx.builtins['device']['lfdi']}) to send a request "
                                   f"over {ctx.base_url} within {self.first_request_s:g} s, saw none from it")
        return ctx

    def _tell_the_nats_device(self, ctx: RunContext) -> None:
        device, nats = ctx.builtins["device"], ctx.builtins["nats"]
        subjects = nats["subjects"]
        native = subjects["request_subject"].replace("{lfdi}", device["lfdi"].lower())
        for line in (
            f"csip-harness: the test server answers 2030.5 over the NATS server {nats['server']}; configure the "
            "device:",
            f"  DeviceCapability path: /dcap (server address {ctx.base_url}/dcap)",
            f"  native requests on: {native} (answered on the request's reply subject)",
            f"  tunnel requests on: {subjects['tunnel_requests']} (answered on {subjects['tunnel_responses']}"
            ".<correlationId>)",
            f"  the device is known by LFDI {device['lfdi']} (SFDI {device['sfdi']}), registration PIN "
            f"{device['pin']}",
            f"csip-harness: waiting up to {self.first_request_s:g} s for the device's first request...",
        ):
            self.tell(line)

    def _tell_the_device(self, ctx: RunContext, files: ServerFiles, device_cert: Path, device_key: Path | None) -> None:
        device = ctx.builtins["device"]
        lines = [
            "csip-harness: the test server is listening; configure the device under test:",
            f"  server address (DeviceCapability): {ctx.base_url}/dcap",
            f"  CA certificate the device must trust:  {files.ca}",
            f"  certificate the device must present:   {device_cert} (LFDI {device['lfdi']}, SFDI {device['sfdi']})",
        ]
        if device_key is not None:
            lines.append(f"  its private key (install on the device, never share): {device_key}")
        lines.append(f"  registration PIN: {device['pin']}")
        lines.append(f"csip-harness: waiting up to {self.first_request_s:g} s for the device's first request...")
        for line in lines:
            self.tell(line)

    async def _device_connected(self, ctx: RunContext) -> bool:
        server = ctx.test_server
        deadline = time.monotonic() + self.first_request_s
        while time.monotonic() < deadline:
            if any(entry.client == DUT_IDENTITY for entry in server.log):
                return True
            await server.wait_beyond(server.last_seq, min(5.0, max(deadline - time.monotonic(), 0.01)))
        return False

    def set_progress(self, writer: Callable[[str], None]) -> None:
        """Where the cases' steps say what they wait for (RunContext.progress), now or once started.

        A step waiting for the device says so again at each request it sees; the terminal gets a step's line
        when the step changes and then every PROGRESS_EVERY_S real seconds, never a line per request.
        """
        writer = _throttled(writer)
        self._progress = writer
        if self._context is not None:
            self._context.progress = writer

    @property
    def context(self) -> RunContext:
        """The run context of the started run (its test server, builtins, actions); start() first."""
        if self._context is None:
            self.start()
        assert self._context is not None
        return self._context

    def certificates(self) -> list[Path]:
        """The certificates (PEM, never a key) the run's identities use, for the bundle's pki/."""
        return list(self._certificates)

    # -- cases and metadata -----------------------------------------------------------------------------

    def run(self, case: Case, nodeid: str | None = None) -> TestRecord:
        """Run one case on the shared test server; its record comes back masked. ClientStartError if not started."""
        from harness.engine.runner import run_case

        if case.role != "client":
            record = TestRecord(id=case.id, title=case.title, role=case.role, verdict=NOT_APPLICABLE,
                                reason=f"case is for {case.role} DUTs; the DUT profile declares role client",
                                file=str(case.file), case_sha256=case.sha256, case_version=case.version,
                                procedure=dict(case.procedure), function_sets=list(case.function_sets),
                                requirements=list(case.requirements), started=time.time())
        else:
            record = self._on_loop(run_case(case, self.context))
        record.nodeid = nodeid
        mask_test_record(record, self.masker)
        return record

    def run_metadata(self, started: float) -> dict[str, Any]:
        """Run identity for results.json, as `csip-harness run --role client` has written it; started: epoch s."""
        from harness.report.files import file_sha256
        from harness.report.writer import iso_time
        from harness.session import harness_version

        ctx = self._context
        device = ctx.builtins["device"] if ctx is not None else {}
        profile = self.profile
        nats = ctx.builtins.get("nats") if ctx is not None else None
        if nats is None and self.nats is not None:  # not started: what the run was asked for
            from harness.server.reference_client import nats_identity

            nats = {"mapping": self.nats.mapping.mode, "encoding": self.nats.encoding,
                    "identity": nats_identity(self.nats.mapping.mode)}
        return {
            "harness_version": harness_version(), "started": iso_time(started),
            "transport": "nats" if nats else "http", "encoding": nats["encoding"] if nats else "xml",
            **({"nats": {"mapping": nats["mapping"], "identity": nats["identity"]}} if nats else {}),
            "time_scale": self.clock.scale, "unattended": True,
            "dut": {"url": None, "role": "client", "name": profile.name,
                    "profile": str(profile.file) if profile.file else None,
                    "profile_sha256": file_sha256(Path(profile.file)) if profile.file else None,
                    "capabilities": sorted(profile.capabilities),
                    "test_server": ctx.base_url if ctx is not None else None, "edition": self.edition},
            "client": {key: device[key] for key in ("lfdi", "sfdi") if key in device},
            "tls": {"verify": "full", "allowed_origins": []},
            "schema": {"name": self.schema.name, "sha256": self.schema.sha256},
        }

    def close(self) -> None:
        """Stop the reference client and the test server, end the loop's thread, remove the private keys."""
        try:
            self._stop()
        finally:
            if self._keys is not None:
                shutil.rmtree(self._keys, ignore_errors=True)  # the run's keys die with it
                self._keys = None
            if self._handler_installed:
                self._handler_installed = False
                signal.signal(signal.SIGTERM, self._previous_handler)

    def _install_sigterm_handler(self) -> None:
        # As for the reference server (harness.reference.launch): SIGTERM's default action would end the run
        # without close(), leaving the keys on disk and the reference client running.
        if self._handler_installed or threading.current_thread() is not threading.main_thread():
            return
        self._previous_handler = signal.signal(signal.SIGTERM, self._terminated)
        self._handler_installed = True

    def _terminated(self, signum: int, frame: Any) -> None:
        self.close()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def _stop(self) -> None:
        loop, thread, stack = self._loop, self._thread, self._stack
        self._loop = self._thread = self._stack = None
        self._context = None
        try:
            if loop is not None and thread is not None and thread.is_alive():
                with contextlib.suppress(Exception):
                    asyncio.run_coroutine_threadsafe(_shut_down(self._tasks, stack), loop).result(60)
        finally:
            if loop is not None:
                loop.call_soon_threadsafe(loop.stop)
                if thread is not None:
                    thread.join(10)
                if not loop.is_running():
                    loop.close()


def _throttled(writer: Callable[[str], None]) -> Callable[[str], None]:
    last: dict[str, Any] = {"step": None, "at": 0.0}

    def write(message: str) -> None:
        step, now = message.split(": ", 1)[0], time.monotonic()
        if step != last["step"] or now - last["at"] >= PROGRESS_EVERY_S:
            last.update(step=step, at=now)
            writer(message)

    return write


async def _shut_down(tasks: set[asyncio.Task[Any]], stack: contextlib.AsyncExitStack | None) -> None:
    """End what runs on the loop: a case or a start still going (a start's reference client is stopped by its
    own exit code then), then the test server and the reference client in the stack."""
    running = list(tasks)  # read here, on the loop's thread, which alone changes it
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    if stack is not None:
        await stack.aclose()
