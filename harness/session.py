"""One run against one DUT: profile, schema, DUT-side actions, and the transport and event loop cases share."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.actions.runner import ActionRunner, describe_mapping
from harness.cases.model import Case, DutProfile
from harness.codec.cupid_json import cupid_json_codec
from harness.engine.clock import Clock
from harness.engine.context import RunContext, builtin_variables
from harness.engine.identities import build_identity_book
from harness.engine.lateness import tolerance
from harness.engine.notifications import ListenerHandle
from harness.engine.runner import run_case
from harness.hookspecs import PluginLoadError, plugin_manager
from harness.optioncheck import (  # noqa: F401  (imported from here too: RunOptions, parse_variables...)
    RunOptions,
    SessionConfigError,
    check_run_options,
    default_profile_path,
    listener_settings,
    parse_variables,
    resolve_profile,
)
from harness.preflight import reach_dut
from harness.redact import mask_test_record
from harness.report.files import file_sha256
from harness.report.recorder import EvidenceRecorder
from harness.report.writer import iso_time
from harness.results import ERROR, NOT_RUN, StepRecord, TestRecord
from harness.sep.codec import XML
from harness.sep.identity import certificate_der, fingerprint
from harness.sep.tls import client_context
from harness.transport.http import origin
from harness.transport.nats_run import is_nats_address, nats_metadata, run_settings
from harness.transport.registry import UnknownSchemeError, transport_for


def harness_version() -> str:
    """The installed csip-harness version."""
    try:
        return metadata.version("csip-harness")
    except metadata.PackageNotFoundError:
        return "unknown"


def parse_time_scale(value: str | float | None, where: str = "--csip-time-scale") -> float | None:
    """A time scale F with 0 < F <= 1 from an option's text; SessionConfigError naming what was seen."""
    if value is None or value == "":
        return None
    try:
        scale = float(value)
    except (TypeError, ValueError):
        scale = -1.0
    if not 0 < scale <= 1:
        raise SessionConfigError(f"{where}: expected a time scale F with 0 < F <= 1 (0.01 runs a reference DUT's "
                                 f"clock 100 times as fast; 1 is real time), saw {value!r}")
    return scale


def parse_late(value: str | float | None, where: str = "--csip-late") -> float | None:
    """The run's lateness tolerance of waits (seconds of the DUT's clock, > 0) from an option's text; None when not
    given; SessionConfigError naming what was seen."""
    if value is None or value == "":
        return None
    try:
        late = float(value)
    except (TypeError, ValueError):
        late = -1.0
    if not 0 < late < float("inf"):
        raise SessionConfigError(f"{where}: expected how many seconds of the DUT's clock a wait may end past its "
                                 f"target (a number > 0, e.g. 30), saw {value!r}")
    return late


def run_clock(options: RunOptions, profile: DutProfile) -> Clock:
    """The run's clock. A time scale other than 1 only for a DUT whose profile says its clock can run faster.

    Against a real DUT the procedure's own times apply: its clock runs at the real rate whatever we ask.
    """
    scale = options.time_scale if options.time_scale is not None else 1.0
    scale = parse_time_scale(scale) or 1.0
    if scale != 1 and not profile.time_scale_supported:
        where = f"the profile {profile.file}" if profile.file else "the DUT profile"
        raise SessionConfigError(
            f"--csip-time-scale {scale:g}: a time scale other than 1 needs a DUT that runs its clock faster when "
            f"asked (the reference server: csip-harness run --reference --time-scale F); {where} does not say "
            "'time_scale: true', so the procedure's own times apply (use 1, or leave the option out)")
    return Clock(scale, options.time_origin)


def load_schema(path: str | None) -> Any:
    """The bundled CSIP schema, or the file given with --schema."""
    from harness.sep.schema import SchemaSet

    return SchemaSet.from_path(path) if path else SchemaSet.bundled()


class HarnessSession:
    """One run against one DUT: its profile, schema and DUT-side actions, then its transport and event loop.

    Building one only reads files and checks the options (SessionConfigError names what is wrong): no
    connection is opened and nothing is written, so the process that owns a run's evidence (pytest's
    controller) builds one for the run's metadata alone. The transport and the event loop start with the
    first case run(), and close() ends them. Records are masked before they leave run().

    The pytest plugin records the evidence bundle itself (harness.report.recorder, on the controller) and
    never gives options.out here; a script or test that runs cases in-process with options.out gets the
    same bundle written by the session, from its first run() to close().
    """

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.started = time.time()
        self.profile = check_run_options(options)
        self.clock = run_clock(options, self.profile)
        self.late = parse_late(options.late)
        self.schema = load_schema(options.schema)
        self.tls_context = None
        self.over_nats = is_nats_address(self.profile.base_url)
        if options.transport == "nats" and not self.over_nats:
            raise SessionConfigError(f"--transport nats: expected a nats:// or tls:// DUT address (a NATS server), saw "
                                     f"{self.profile.base_url!r}")
        try:
            self.nats = run_settings(self.profile.raw, options.nats_mapping, options.encoding)
        except ValueError as exc:
            raise SessionConfigError(str(exc)) from None
        if self.profile.base_url.lower().startswith(("https", "tls://")):
            identity = self.profile.identity
            self.tls_context = client_context(identity.cert, identity.key, identity.ca,
                                              verify=self.profile.tls_verify)
        self.preflight_failure: str | None = None
        self._preflown = False
        # The DUT's own addresses and those the profile names: nothing else gets a request or our certificate.
        origins = [url for url in (self.profile.base_url, self.profile.http_url, *self.profile.allowed_origins)
                   if url and not is_nats_address(url)]
        try:
            self.allowed_origins = sorted({origin(url) for url in origins})
        except ValueError as exc:
            raise SessionConfigError(f"expected http(s) addresses for the DUT (--csip-dut, --csip-http-url): {exc}"
                                     ) from None
        try:
            plugins = plugin_manager(self.profile.plugins)
        except PluginLoadError as exc:
            raise SessionConfigError(str(exc)) from None
        self.plugins = plugins
        self.actions = ActionRunner(self.profile, options.variables, unattended=options.unattended, plugins=plugins)
        self.masker = self.actions.masker
        for url in (self.profile.base_url, self.profile.http_url):
            self.masker.add_url(url or "")
        self.transport_options = {"allowed_origins": self.allowed_origins,
                                  "connect_timeout": self.profile.connect_timeout,
                                  "read_timeout": self.profile.read_timeout,
                                  "total_timeout": self.profile.total_timeout, "max_body": self.profile.max_body}
        try:
            # Files are checked now; each identity's TLS context and connection are made when a step first uses it.
            self.identities = build_identity_book(self.profile, None, {**self.profile.variables, **options.variables},
                                                  self.transport_options)
        except ValueError as exc:
            raise SessionConfigError(f"identities in the DUT profile: {exc}") from None
        # The notification listener starts with the first case that needs it (harness.engine.notifications).
        self.listener_settings = listener_settings(options, self.profile,
                                                   {**self.profile.variables, **options.variables})
        run_variables = {**self.profile.variables, **options.variables}
        self.builtins = {**builtin_variables(self.profile, self.profile.base_url),
                         "identities": self.identities.variables(),
                         # Where `discover:` steps ask (harness.engine.discovery): --var xmdns_group/_port/_interface.
                         "xmdns": {name: value for name, value in run_variables.items()
                                   if name in ("xmdns_group", "xmdns_port", "xmdns_interface")}}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._context: RunContext | None = None
        self._recorder: EvidenceRecorder | None = None

    @property
    def context(self) -> RunContext:
        """What the step loop needs; the transport and the event loop are made on first use."""
        if self._context is None:
            self._loop = asyncio.new_event_loop()
            extra: dict[str, Any] = {}
            if self.over_nats:
                client = self.builtins["client"]
                extra = {"base_url": self.profile.base_url, "nats_mapping": self.nats.mapping,
                         "lfdi": str(client.get("lfdi") or ""), "sfdi": str(client.get("sfdi") or "")}
            try:
                # By the scheme of the DUT's address: http(s) built in, others from a plugin's csip_transport hook.
                transport = transport_for(self.profile.base_url, self.tls_context, self.plugins,
                                          **self.transport_options, **extra)
            except UnknownSchemeError as exc:
                raise SessionConfigError(str(exc)) from None
            self.identities.adopt_default(transport)
            if self.over_nats:
                self.identities.transport_factory = self._nats_identity_transport
            self._context = RunContext(
                profile=self.profile,
                base_url=self.profile.base_url,
                transport=transport,
                schema=self.schema,
                builtins=self.builtins,
                actions=self.actions,
                identities=self.identities,
                clock=self.clock,
                late=self.late,
                # Over NATS the DUT's Notifications come through its NATS server too (docs/nats-mapping.md).
                listener=ListenerHandle(self.listener_settings, self.schema,
                                        nats_url=self.profile.base_url if self.over_nats else None,
                                        nats_context=self.tls_context if self.over_nats else None),
                codec=cupid_json_codec(self.schema) if self.nats.encoding == "json" else XML,
            )
        return self._context

    def _nats_identity_transport(self, name: str) -> Any:
        """A NATS connection acting as the named identity: its certificate on a tls:// server (the NATS server maps
        it to that client's user) and its LFDI/SFDI in the subject or the tunnel envelope (docs/nats-mapping.md)."""
        values = self.identities.variables().get(name, {})
        secure = self.profile.base_url.lower().startswith("tls://")
        return transport_for(self.profile.base_url, self.identities.context(name) if secure else None, self.plugins,
                             **self.transport_options, base_url=self.profile.base_url,
                             nats_mapping=self.nats.mapping, lfdi=str(values.get("lfdi") or ""),
                             sfdi=str(values.get("sfdi") or ""))

    def run_metadata(self, started: float) -> dict[str, Any]:
        """Run identity for results.json: harness, DUT, profile, schema, transport; started is epoch seconds."""
        from harness.optioncheck import check_lab
        from harness.report.equipment import test_equipment

        cert = self.profile.identity.cert
        lab = check_lab(self.options)
        declared = {key: str(value) for key, value in (self.profile.raw.get("device") or {}).items()}
        return {
            "harness_version": harness_version(),
            "started": iso_time(started),
            "transport": "nats" if self.over_nats else "http",
            "encoding": self.nats.encoding,
            **({"nats": nats_metadata(self.nats.mapping, self.profile.base_url)} if self.over_nats else {}),
            "time_scale": self.clock.scale,
            "late_s": tolerance(None, self.late, self.clock.scale),
            "dut": {
                "url": self.masker.prose(self.profile.base_url) if self.profile.base_url else None,
                "http_url": self.masker.prose(self.profile.http_url) if self.profile.http_url else None,
                "role": self.profile.role,
                "name": self.profile.name,
                "profile": str(self.profile.file) if self.profile.file else None,
                "profile_sha256": file_sha256(Path(self.profile.file)) if self.profile.file else None,
                "capabilities": sorted(self.profile.capabilities),
                "actions": {name: describe_mapping(m, self.masker) for name, m in sorted(self.profile.actions.items())},
                "waivers": [dataclasses.asdict(w) for w in self.profile.waivers],
                **({"declared": declared} if declared else {}),
            },
            **({"lab": lab} if lab else {}),
            "equipment": test_equipment(),
            "unattended": self.options.unattended,
            "tls": {"verify": self.profile.tls_verify, "allowed_origins": self.allowed_origins},
            "client": {
                "certificate_sha256": fingerprint(certificate_der(cert)) if cert else None,
                **{k: v for k, v in self.builtins["client"].items() if k in ("lfdi", "sfdi")},
            },
            "schema": {"name": self.schema.name, "sha256": self.schema.sha256},
        }

    def preflight(self) -> str | None:
        """Reach the DUT once with the run's TLS context (harness.preflight.reach_dut); why not, or None.

        Called by run() before the first case; the answer is kept, so the DUT is reached once per session.
        """
        if not self._preflown:
            self._preflown = True
            try:
                # A NATS server speaks first (INFO) and starts TLS after: reach it by TCP, the transport does TLS.
                context = None if self.over_nats else self.tls_context
                self.preflight_failure = reach_dut(self.profile.base_url, context,
                                                   timeout=self.profile.connect_timeout, names=self.options.given_as)
            except Exception as exc:  # a harness fault: every case an error saying so, never a crash
                self.preflight_failure = f"the pre-flight check itself failed: {type(exc).__name__}: {exc}"
        return self.preflight_failure

    def run(self, case: Case, nodeid: str | None = None) -> TestRecord:
        """Run one case on the session loop; the record comes back masked, ready for any output. After a failed
        pre-flight (harness.preflight) the case is recorded as an error naming its cause, and nothing connects."""
        failure = self.preflight()
        if failure:
            record = preflight_error_record(case, failure)
        else:
            context = self.context
            assert self._loop is not None
            record = self._loop.run_until_complete(run_case(case, context))
        record.nodeid = nodeid
        # Before anything shows it: results.json, raw exchanges, the report, the terminal and junit.xml.
        mask_test_record(record, self.masker)
        if self.options.out:
            if self._recorder is None:
                self._recorder = EvidenceRecorder(Path(self.options.out), self.run_metadata(self.started))
            self._recorder.add(record)
        return record

    def close(self) -> None:
        """Close the transport and the event loop, when a case started them; finish the bundle of options.out."""
        try:
            if self._context is not None and self._loop is not None:
                try:
                    self._loop.run_until_complete(self.identities.aclose())
                    if self._context.listener is not None:
                        self._loop.run_until_complete(self._context.listener.aclose())
                    self._loop.run_until_complete(self._context.transport.aclose())
                finally:
                    self._loop.close()
                    self._context = None
                    self._loop = None
        finally:
            if self._recorder is not None:
                self._recorder.finish(time.time())
                self._recorder = None


def collection_error_record(case_id: str, file: str, message: str) -> TestRecord:
    """A results entry for a test-case file that could not be loaded."""
    return TestRecord(id=case_id, title="(test case file could not be loaded)", role="unknown",
                      verdict=ERROR, reason=message, file=file, started=time.time())


def preflight_error_record(case: Case, failure: str) -> TestRecord:
    """The record of a case not run because the pre-flight could not reach the DUT: an error, with why."""
    reason = f"pre-flight: {failure}"
    return TestRecord(
        id=case.id, title=case.title, role=case.role, verdict=ERROR, reason=reason, file=str(case.file),
        case_sha256=case.sha256, case_version=case.version, procedure=dict(case.procedure),
        function_sets=list(case.function_sets), requirements=list(case.requirements), started=time.time(),
        steps=[StepRecord(index=step.index, name=step.name, verdict=NOT_RUN, ref=step.ref, line=step.line,
                          message="not run: the pre-flight check of the DUT failed") for step in case.steps],
    )
