"""One run against one DUT: profile, schema, DUT-side actions, and the transport and event loop cases share."""

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
from harness.engine.context import RunContext, builtin_variables
from harness.engine.runner import run_case
from harness.hookspecs import PluginLoadError, plugin_manager
from harness.redact import mask_test_record
from harness.report.html import file_sha256
from harness.report.recorder import EvidenceRecorder
from harness.report.writer import iso_time
from harness.results import ERROR, TestRecord
from harness.sep.identity import certificate_der, fingerprint
from harness.sep.tls import client_context, verify_mode
from harness.transport.http import HttpTransport, origin


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
        self.schema = load_schema(options.schema)
        self.tls_context = None
        if self.profile.base_url.startswith("https"):
            identity = self.profile.identity
            self.tls_context = client_context(identity.cert, identity.key, identity.ca,
                                              verify=self.profile.tls_verify)
        # The DUT's own addresses and those the profile names: nothing else gets a request or our certificate.
        origins = [self.profile.base_url, *filter(None, [self.profile.http_url]), *self.profile.allowed_origins]
        try:
            self.allowed_origins = sorted({origin(url) for url in origins})
        except ValueError as exc:
            raise SessionConfigError(f"expected http(s) addresses for the DUT (--csip-dut, --csip-http-url): {exc}"
                                     ) from None
        try:
            plugins = plugin_manager(self.profile.plugins)
        except PluginLoadError as exc:
            raise SessionConfigError(str(exc)) from None
        self.actions = ActionRunner(self.profile, options.variables, unattended=options.unattended, plugins=plugins)
        self.masker = self.actions.masker
        for url in (self.profile.base_url, self.profile.http_url):
            self.masker.add_url(url or "")
        self.builtins = builtin_variables(self.profile, self.profile.base_url)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._context: RunContext | None = None
        self._recorder: EvidenceRecorder | None = None

    @property
    def context(self) -> RunContext:
        """What the step loop needs; the transport and the event loop are made on first use."""
        if self._context is None:
            self._loop = asyncio.new_event_loop()
            transport = HttpTransport(
                self.tls_context,
                allowed_origins=self.allowed_origins,
                connect_timeout=self.profile.connect_timeout,
                read_timeout=self.profile.read_timeout,
                total_timeout=self.profile.total_timeout,
                max_body=self.profile.max_body,
            )
            self._context = RunContext(
                profile=self.profile,
                base_url=self.profile.base_url,
                transport=transport,
                schema=self.schema,
                builtins=self.builtins,
                actions=self.actions,
            )
        return self._context

    def run_metadata(self, started: float) -> dict[str, Any]:
        """Run identity for results.json: harness, DUT, profile, schema, transport; started is epoch seconds."""
        cert = self.profile.identity.cert
        return {
            "harness_version": harness_version(),
            "started": iso_time(started),
            "transport": "http",
            "encoding": "xml",
            "time_scale": 1,
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
            "tls": {"verify": self.profile.tls_verify, "allowed_origins": self.allowed_origins},
            "client": {
                "certificate_sha256": fingerprint(certificate_der(cert)) if cert else None,
                **{k: v for k, v in self.builtins["client"].items() if k in ("lfdi", "sfdi")},
            },
            "schema": {"name": self.schema.name, "sha256": self.schema.sha256},
        }

    def run(self, case: Case, nodeid: str | None = None) -> TestRecord:
        """Run one case on the session loop; the record comes back masked, ready for any output."""
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
