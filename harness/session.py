"""One run against one DUT: profile, transport, schema, results writer and the event loop they share."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from harness.actions.runner import ActionRunner, describe_mapping
from harness.cases.model import Case, DutProfile
from harness.cases.profile import load_profile
from harness.engine.clock import Clock
from harness.engine.context import RunContext, builtin_variables
from harness.engine.runner import run_case
from harness.hookspecs import PluginLoadError, plugin_manager
from harness.redact import mask_test_record
from harness.report.bundle import write_derived
from harness.report.html import file_sha256
from harness.report.writer import ResultsWriter, iso_time
from harness.results import ERROR, TestRecord
from harness.sep.identity import certificate_der, fingerprint
from harness.sep.tls import client_context, verify_mode
from harness.transport.http import HttpTransport


class SessionConfigError(ValueError):
    """The run cannot start: a missing or contradictory option."""


@dataclasses.dataclass
class RunOptions:
    """What the user asked for, from the command line, ini file or `csip-harness run`."""

    dut: str | None = None
    profile: str | None = None
    schema: str | None = None
    out: str | None = None
    cert: str | None = None
    key: str | None = None
    ca: str | None = None
    http_url: str | None = None
    variables: dict[str, str] = dataclasses.field(default_factory=dict)
    unattended: bool = False
    tls_verify: str | None = None  # full, chain or none; None: the profile's (default full)
    time_scale: float | None = None  # F of --time-scale (0 < F <= 1); None: 1, real time
    time_origin: float | None = None  # the instant (Unix s) from which a scaled DUT clock runs faster


def parse_variables(items: list[str], where: str = "--csip-var") -> dict[str, str]:
    """NAME=VALUE items as a dict; a malformed item is a SessionConfigError naming it."""
    parsed = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise SessionConfigError(f"{where}: expected NAME=VALUE with NAME an identifier, saw {item!r}")
        parsed[name.strip()] = value
    return parsed


def harness_version() -> str:
    """The installed csip-harness version."""
    try:
        return metadata.version("csip-harness")
    except metadata.PackageNotFoundError:
        return "unknown"


def default_profile_path() -> Path:
    """The bundled generic server profile used when no --csip-profile is given."""
    return Path(str(resources.files("harness.cases").joinpath("default-server-profile.yaml")))


def resolve_profile(options: RunOptions) -> DutProfile:
    """Load the profile and apply command-line overrides (DUT address, identity)."""
    profile = load_profile(options.profile or default_profile_path())
    identity = profile.identity
    identity = dataclasses.replace(
        identity,
        cert=Path(options.cert) if options.cert else identity.cert,
        key=Path(options.key) if options.key else identity.key,
        ca=Path(options.ca) if options.ca else identity.ca,
    )
    tls_verify = profile.tls_verify
    if options.tls_verify:
        try:
            tls_verify = verify_mode(options.tls_verify)
        except ValueError as exc:
            raise SessionConfigError(f"--csip-tls-verify (or csip_tls_verify): {exc}") from None
    return dataclasses.replace(
        profile,
        base_url=options.dut or profile.base_url,
        http_url=options.http_url or profile.http_url,
        identity=identity,
        tls_verify=tls_verify,
    )


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
    """Owns everything shared by the cases of one run; closed once at the end."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.started = time.time()
        self.profile = resolve_profile(options)
        if not self.profile.base_url:
            raise SessionConfigError(
                "expected the DUT address (--csip-dut https://HOST:PORT or base_url in the profile), saw none"
            )
        for name in ("cert", "key"):
            value = getattr(self.profile.identity, name)
            if self.profile.base_url.startswith("https") and not value:
                raise SessionConfigError(f"expected a client {name} for mutual TLS (--csip-{name}), saw none")
            if value and not Path(value).is_file():
                raise SessionConfigError(f"expected the client {name} file {value}, saw no such file")
        if self.profile.identity.cert:
            # The client LFDI/SFDI come from the certificate's leaf; a file with unrelated leaves is refused here.
            try:
                certificate_der(self.profile.identity.cert)
            except (OSError, ValueError) as exc:
                raise SessionConfigError(f"client certificate (--csip-cert): {exc}") from None
        self.clock = run_clock(options, self.profile)
        self.schema = load_schema(options.schema)
        self.loop = asyncio.new_event_loop()
        context = None
        if self.profile.base_url.startswith("https"):
            identity = self.profile.identity
            context = client_context(identity.cert, identity.key, identity.ca, verify=self.profile.tls_verify)
        # The DUT's own addresses and those the profile names: nothing else gets a request or our certificate.
        origins = [self.profile.base_url, *filter(None, [self.profile.http_url]), *self.profile.allowed_origins]
        try:
            self.transport = HttpTransport(
                context,
                allowed_origins=origins,
                connect_timeout=self.profile.connect_timeout,
                read_timeout=self.profile.read_timeout,
                total_timeout=self.profile.total_timeout,
                max_body=self.profile.max_body,
            )
        except ValueError as exc:
            raise SessionConfigError(f"expected http(s) addresses for the DUT (--csip-dut, --csip-http-url): {exc}"
                                     ) from None
        try:
            plugins = plugin_manager(self.profile.plugins)
        except PluginLoadError as exc:
            raise SessionConfigError(str(exc)) from None
        actions = ActionRunner(self.profile, options.variables, unattended=options.unattended, plugins=plugins)
        self.masker = actions.masker
        for url in (self.profile.base_url, self.profile.http_url):
            self.masker.add_url(url or "")
        self.context = RunContext(
            profile=self.profile,
            base_url=self.profile.base_url,
            transport=self.transport,
            schema=self.schema,
            builtins=builtin_variables(self.profile, self.profile.base_url),
            actions=actions,
            clock=self.clock,
        )
        self.writer = ResultsWriter(options.out, self.run_metadata()) if options.out else None

    def run_metadata(self) -> dict[str, Any]:
        """Run identity for results.json: harness, DUT, profile, schema, transport."""
        cert = self.profile.identity.cert
        return {
            "harness_version": harness_version(),
            "started": iso_time(self.started),
            "transport": "http",
            "encoding": "xml",
            "time_scale": self.clock.scale,
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
            },
            "unattended": self.options.unattended,
            "tls": {"verify": self.profile.tls_verify, "allowed_origins": self.transport.allowed_origins},
            "client": {
                "certificate_sha256": fingerprint(certificate_der(cert)) if cert else None,
                **{k: v for k, v in self.context.builtins["client"].items() if k in ("lfdi", "sfdi")},
            },
            "schema": {"name": self.schema.name, "sha256": self.schema.sha256},
        }

    def run(self, case: Case, nodeid: str | None = None) -> TestRecord:
        """Run one case on the session loop and record it."""
        record = self.loop.run_until_complete(run_case(case, self.context))
        record.nodeid = nodeid
        # Before anything shows it: results.json, raw exchanges, the report, the terminal and junit.xml.
        mask_test_record(record, self.masker)
        self.record(record)
        return record

    def record(self, record: TestRecord) -> None:
        """Add a finished test to results.json (when an output directory was given)."""
        if self.writer:
            self.writer.add(record)

    def close(self) -> None:
        """Close the transport and the loop; finish results.json and report.html."""
        try:
            self.loop.run_until_complete(self.transport.aclose())
        finally:
            self.loop.close()
        if self.writer:
            document = self.writer.finish(time.time())
            write_derived(document, self.writer.out_dir)


def collection_error_record(case_id: str, file: str, message: str) -> TestRecord:
    """A results entry for a test-case file that could not be loaded."""
    return TestRecord(id=case_id, title="(test case file could not be loaded)", role="unknown",
                      verdict=ERROR, reason=message, file=file, started=time.time())
