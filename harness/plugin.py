"""pytest plugin: options, collection of YAML test cases as items, verdicts handed to pytest."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from harness.cases.loader import CaseFileError, load_case
from harness.cases.model import Case
from harness.lifecycle import RecordedItem, RunLifecycle, RunStartError, XdistHooks
from harness.optioncheck import check_run_options, names_for_pytest, resolve_profile
from harness.report.allure_handoff import allure_active, hand_off
from harness.results import ERROR, FAILED, NOT_APPLICABLE, SKIPPED, TestRecord
from harness.roles import client_profile, run_role
from harness.selection import is_case_file, mark_case, register_markers
from harness.session import (
    HarnessSession,
    RunOptions,
    SessionConfigError,
    collection_error_record,
    parse_late,
    parse_time_scale,
    parse_variables,
)
from harness.terminal import format_record, progress_writer, show_title

RUN_KEY = pytest.StashKey[RunLifecycle]()
BROKEN_KEY = pytest.StashKey[list[CaseFileError]]()
TITLES_KEY = pytest.StashKey[dict[str, str]]()
WIRED_KEY = pytest.StashKey[set[int]]()  # the sessions whose progress goes to this terminal
SINGLE_PROCESS_KEY = pytest.StashKey[str]()  # why a client-role run ignored -n (pytest_cmdline_main)

_OPTIONS = {
    "dut": "base URL of the device under test, e.g. https://127.0.0.1:8443",
    "profile": "DUT profile YAML (role, capabilities, identity)",
    "schema": "XML schema to validate against (default: the bundled CSIP schema), e.g. the official sep.xsd",
    "out": "directory for results.json and report.html",
    "cert": "client certificate (PEM) the harness presents to the DUT",
    "key": "private key (PEM) of the client certificate",
    "ca": "CA certificate (PEM) that issued the DUT's server certificate",
    "http_url": "plain-HTTP address of the DUT (for the redirect checks), e.g. http://127.0.0.1:8080",
    "tls_verify": "how the DUT's certificate is verified: full (chain and host name; the default), chain (the "
                  "chain to the CA, not the host name) or none; overrides the profile's tls: {verify: ...}",
    "time_scale": "F with 0 < F <= 1: the DUT (the reference server; a profile with time_scale: true) runs its "
                  "clock and schedules 1/F times as fast, for development runs; 1 (real time) by default",
    "late": "seconds of the DUT's clock a wait may end past its target (and the request right after it be sent) "
            "before the case is an error, the harness being late, never failed (default: 5 s of wall time on the "
            "DUT's clock, at most 30 s); a step's wait: {late: S} overrides it",
    "lab": "lab file (YAML): lab, tester, reviewer, customer, report number, for the report's first page",
    "time_origin": "the instant (Unix s) from which a scaled DUT clock runs faster (set by csip-harness run)",
    "listener": "HOST:PORT the notification listener binds to (default 127.0.0.1:0, any free port; 0.0.0.0:8444 "
                "for a DUT on another host)",
    "listener_url": "the base address the DUT is given for Notifications, e.g. https://10.0.0.7:8444 (default: "
                    "https://HOST:PORT of --csip-listener)",
    "listener_cert": "the notification listener's TLS server certificate (PEM), one the DUT trusts (default: the "
                     "profile's listener: cert, else the client certificate)",
    "listener_key": "the private key (PEM) of --csip-listener-cert",
    "transport": "http or nats: how requests reach the DUT (default: by the DUT address's scheme; with "
                 "--csip-reference, nats starts a private nats-server); docs/nats-mapping.md",
    "nats_mapping": "over NATS: native (request/reply, the default) or interstore (the InterSTORE tunnel)",
    "encoding": "xml (default) or json (CUPID's JSON dialect, docs/json-mapping.md) for 2030.5 bodies",
    "role": "the DUT's role: server (the default) or client (the harness is the device's 2030.5 server and runs "
            "the client cases); default: the profile's role",
    "port": "client role: the TCP port the test server listens on for the device (default: any free one)",
}
_NUMBERS = ("time_scale", "time_origin", "late")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register every csip option twice: on the command line and as an ini key."""
    group = parser.getgroup("csip", "IEEE 2030.5 / CSIP conformance harness")
    for name, help_text in _OPTIONS.items():
        group.addoption(f"--csip-{name.replace('_', '-')}", dest=f"csip_{name}", default=None, help=help_text)
        parser.addini(f"csip_{name}", help_text, default="")
    group.addoption("--csip-var", dest="csip_var", action="append", default=[], metavar="NAME=VALUE",
                    help="a variable for the profile's action templates, e.g. admin_url=http://10.0.0.5:9000")
    parser.addini("csip_vars", "NAME=VALUE variables for the profile's action templates", type="linelist")
    group.addoption("--csip-unattended", dest="csip_unattended", action="store_true", default=False,
                    help="no person at the terminal: operator actions count only when pre-acknowledged")
    parser.addini("csip_unattended", "run unattended (see --csip-unattended)", type="bool", default=False)
    group.addoption("--csip-plain-http", dest="csip_plain_http", action="store_true", default=False,
                    help="allow an http:// DUT address: test over plain HTTP, without TLS (refused otherwise)")
    parser.addini("csip_plain_http", "allow an http:// DUT address (see --csip-plain-http)", type="bool",
                  default=False)
    group.addoption("--csip-cases", dest="csip_cases", action="append", default=[], metavar="DIR",
                    help="a directory (or file) of test cases, whatever it is called: every YAML file in it is "
                         "collected as a case (repeatable); files under a directory named testcases always are")
    parser.addini("csip_cases", "directories of test cases (see --csip-cases)", type="paths")
    group.addoption("--csip-replace", dest="csip_replace", action="store_true", default=False,
                    help="replace the evidence of an earlier run in the --csip-out folder (never done unless asked)")
    parser.addini("csip_replace", "replace an earlier run's evidence in csip_out (see --csip-replace)", type="bool",
                  default=False)
    group.addoption("--csip-reference", dest="csip_reference", action="store_true", default=False,
                    help="start the bundled reference 2030.5 server as the DUT, with a test PKI made for the run")
    parser.addini("csip_reference", "use the bundled reference server as the DUT (see --csip-reference)",
                  type="bool", default=False)
    group.addoption("--csip-defect", dest="csip_defect", action="append", default=[], metavar="NAME",
                    help="with --csip-reference: switch on a named defect (repeatable; csip-harness defects)")
    parser.addini("csip_defects", "named defects of the reference server (see --csip-defect)", type="linelist")
    group.addoption("--csip-pdf", dest="csip_pdf", action="store_true", default=False,
                    help="also write report.pdf into the evidence bundle (printed form of report.html; WeasyPrint)")
    parser.addini("csip_pdf", "also write report.pdf (see --csip-pdf)", type="bool", default=False)


def option(config: pytest.Config, name: str) -> str | None:
    """An option's value: the command line wins over the ini file; ini paths are relative to it."""
    value = config.getoption(f"csip_{name}")
    if value:
        return str(value)
    ini_value = config.getini(f"csip_{name}")
    if not ini_value:
        return None
    if name in ("profile", "schema", "out", "cert", "key", "ca", "lab") and config.inipath:
        return str((Path(config.inipath).parent / ini_value).resolve())
    return str(ini_value)


def pytest_configure(config: pytest.Config) -> None:
    """Register this run's lifecycle (harness.lifecycle) and, with pytest-xdist, its worker hand-over."""
    lifecycle = RunLifecycle(config, lambda shared: _run_options(config, shared))
    config.stash[RUN_KEY] = lifecycle
    config.pluginmanager.register(lifecycle, "csip-harness-run")
    config.pluginmanager.register(_LoadErrors(config), "csip-harness-load-errors")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(lifecycle), "csip-harness-xdist")
    config.addinivalue_line("markers", "csip_function_set(name): the IEEE 2030.5 function set a case covers")
    register_markers(config)
    check_options_early(config)


def check_options_early(config: pytest.Config) -> None:
    """Refuse bad csip options as a pytest usage error (exit code 4) before the banner and collection.

    Only when the run names a DUT (option, ini key or the profile's base_url); never for --help,
    --collect-only, --fixtures or --markers, which contact no DUT. The reference DUT (--csip-reference) is
    checked when it has started (harness.lifecycle).
    """
    if any(getattr(config.option, name, False) for name in ("help", "collectonly", "showfixtures",
                                                            "show_fixtures_per_test", "markers")):
        return
    try:
        options = _run_options(config, {})
        if run_role(options) == "client":
            # The client DUT connects to the harness: its profile is checked here, the test server starts later.
            client_profile(options, bool(config.getoption("csip_reference") or config.getini("csip_reference")))
        elif options.dut or options.profile and resolve_profile(options).base_url:
            check_run_options(options)
    except SessionConfigError as exc:
        raise pytest.UsageError(f"csip-harness: {exc}") from None


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """In the client role, run in this one process even when pytest-xdist's -n/--dist asks for workers.

    The cases of a client-role run share one test server, the address the device was told, and its request
    log, in the process that runs them (harness.server.clientsession): workers would each need a device of
    their own. Set as xdist sets it for --pdb, whichever of the two hooks runs first; the terminal says so.
    """
    if not getattr(config.option, "numprocesses", None) and getattr(config.option, "dist", "no") == "no":
        return
    try:
        if run_role(_run_options(config, {})) != "client":
            return
    except SessionConfigError:
        return  # said as a usage error when the run is configured (check_options_early)
    asked = f"-n {config.option.numprocesses}" if config.option.numprocesses else f"--dist {config.option.dist}"
    config.option.numprocesses, config.option.dist, config.option.tx = 0, "no", []
    config.stash[SINGLE_PROCESS_KEY] = (
        f"csip-harness: client role: {asked} ignored; the client cases run one after the other in this process, on "
        "one test server (the device knows one address; README, Parallel runs)")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Say that a client-role run ignored pytest-xdist's workers (pytest_cmdline_main)."""
    message = session.config.stash.get(SINGLE_PROCESS_KEY, None)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if message and reporter is not None:
        reporter.write_line(message, yellow=True)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect YAML test cases (harness.selection.is_case_file) as CSIP test cases."""
    if is_case_file(file_path, parent.config):
        return CaseFile.from_parent(parent, path=file_path)
    return None


class _LoadErrors:
    """Test-case files that failed to load: recorded in the evidence, named in the terminal summary."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """Record a test-case file that failed to collect, for results.json."""
        if report.failed and report.nodeid.endswith((".yaml", ".yml")):
            record = collection_error_record(Path(report.nodeid).stem, report.nodeid, str(report.longrepr))
            self.config.stash[RUN_KEY].record_load_error(report.nodeid, record)

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logstart(self, nodeid: str) -> None:
        """Under -v, the case's title after its id (pytest's terminal has written the id by now)."""
        title = self.config.stash.get(TITLES_KEY, {}).get(nodeid)
        if title:
            show_title(self.config, title)

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Keep the files that could not be loaded, for the terminal summary."""
        self.config.stash[BROKEN_KEY] = [item.error for item in items if isinstance(item, BrokenCaseItem)]


def _run_options(config: pytest.Config, shared: dict[str, Any]) -> RunOptions:
    """The run's options: command line over ini file, then what the controller's shared setup fixed."""
    variables = parse_variables(list(config.getini("csip_vars")), "csip_vars")
    variables.update(parse_variables(config.getoption("csip_var") or []))
    variables.update(shared.get("variables", {}))
    values: dict[str, Any] = {name: option(config, name) for name in _OPTIONS if name not in _NUMBERS}
    values["time_scale"] = parse_time_scale(option(config, "time_scale"))
    values["late"] = parse_late(option(config, "late"))
    origin = option(config, "time_origin")
    try:
        values["time_origin"] = float(origin) if origin else None
    except ValueError:
        raise SessionConfigError(f"--csip-time-origin: expected Unix seconds, saw {origin!r}") from None
    values.update(shared.get("options", {}))
    return RunOptions(
        **values,
        variables=variables,
        unattended=bool(config.getoption("csip_unattended") or config.getini("csip_unattended")),
        plain_http=bool(config.getoption("csip_plain_http") or config.getini("csip_plain_http")),
        given_as=_given_as(config),
    )


def _given_as(config: pytest.Config) -> dict[str, str]:
    """How each option reached this run: its command-line name, or its ini key in the ini file."""
    keys = [*_OPTIONS, "plain_http", "unattended", "var"]
    on_line = {key: bool(config.getoption(f"csip_{key}")) for key in keys}
    in_ini = {key: bool(config.getini("csip_vars" if key == "var" else f"csip_{key}")) for key in keys}
    return names_for_pytest(on_line, in_ini, str(config.inipath) if config.inipath else None)


def _with_progress(config: pytest.Config, harness: HarnessSession) -> HarnessSession:
    """The session, telling the terminal what a step waits for (harness.terminal.progress_writer), wired once."""
    wired = config.stash.setdefault(WIRED_KEY, set())
    if id(harness) not in wired:
        writer = progress_writer(config, harness.masker.prose)
        if hasattr(harness, "set_progress"):  # a client-role run (harness.server.clientsession)
            harness.set_progress(writer)
        else:
            harness.context.progress = writer
        wired.add(id(harness))
    return harness


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Name every test-case file that could not be loaded, with its line, after pytest's own summary."""
    broken = terminalreporter.config.stash.get(BROKEN_KEY, [])
    if broken:
        terminalreporter.section("csip-harness: test-case files that could not be loaded", sep="-", red=True)
        for error in broken:
            terminalreporter.line(str(error))


class CaseFailed(AssertionError):
    """The DUT broke a requirement in this case."""


class CaseError(RuntimeError):
    """The harness or the environment could not complete this case."""


class CaseFile(pytest.File):
    """One YAML test-case file."""

    def collect(self) -> list[pytest.Item]:
        """Load the case strictly; a bad file becomes an item that errors naming file and line.

        Not a pytest collection error: that would interrupt the whole run, and one malformed file must
        not cost the evidence of every good case beside it.
        """
        try:
            case = load_case(self.path)
        except CaseFileError as exc:
            return [BrokenCaseItem.from_parent(self, name=self.path.stem, error=exc)]
        return [CaseItem.from_parent(self, name=case.id, case=case)]


class BrokenCaseItem(RecordedItem):
    """A test-case file that could not be loaded: an error in the run, recorded with its file and line."""

    def __init__(self, *, error: CaseFileError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error
        self.record: TestRecord | None = None

    def runtest(self) -> None:
        """Record the load error in results.json and the report, then end as an error (never a DUT failure)."""
        message = f"test-case file could not be loaded: {self.error}"
        self.record = collection_error_record(self.path.stem, self.nodeid, message)
        self.user_properties.extend([("csip_id", self.path.stem), ("verdict", ERROR)])
        # pytrace=False shows the message alone; the record's verdict makes pytest count it as an error.
        pytest.fail(message, pytrace=False)

    def fallback_record(self, reason: str) -> TestRecord:
        """Never needed: runtest always records first."""
        return collection_error_record(self.path.stem, self.nodeid, reason)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the broken file is, for pytest's report."""
        return self.path, (self.error.line or 1) - 1, f"{self.path.name}: test-case file could not be loaded"


class CaseItem(RecordedItem):
    """One CSIP test case run against the DUT."""

    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.record: TestRecord | None = None
        for function_set in case.function_sets:
            self.add_marker(pytest.mark.csip_function_set(function_set))
        mark_case(self, case)
        self.config.stash.setdefault(TITLES_KEY, {})[self.nodeid] = case.title

    def runtest(self) -> None:
        """Run the case and hand its verdict to pytest: failed, error (a harness-side fault) or skipped."""
        try:
            harness = _with_progress(self.config, self.config.stash[RUN_KEY].executor(self.case.role))
        except RunStartError as exc:
            self.user_properties.extend([("csip_id", self.case.id), ("verdict", ERROR)])
            raise CaseError(str(exc)) from None
        self.record = harness.run(self.case, nodeid=self.nodeid)
        self.user_properties.extend([("csip_id", self.case.id), ("verdict", self.record.verdict)])
        if allure_active(self.config):
            hand_off(self.record)
        for waiver in self.record.waivers:
            if waiver.get("status") not in (None, "applied"):
                # Like an xfail that passes: the lab should see that its waiver no longer matches anything.
                self.warn(pytest.PytestWarning(f"{self.case.id}: waiver of step {waiver['step']} "
                                               f"({waiver['reason']}): {waiver['status']}"))
        if self.record.verdict == ERROR:
            raise CaseError(self.record.reason)
        if self.record.verdict == FAILED:
            raise CaseFailed(self.record.reason)
        if self.record.verdict in (NOT_APPLICABLE, SKIPPED):
            pytest.skip(f"{self.record.verdict.replace('_', ' ')}: {self.record.reason}")

    def fallback_record(self, reason: str) -> TestRecord:
        """An `error` record for this case when it ended without a verdict (a fault of the harness)."""
        return TestRecord(id=self.case.id, title=self.case.title, role=self.case.role, verdict=ERROR,
                          reason=reason, nodeid=self.nodeid, file=str(self.path), started=time.time(),
                          function_sets=list(self.case.function_sets))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """Tell the lab engineer which step and field failed, what was expected and what was seen."""
        if isinstance(excinfo.value, CaseFailed | CaseError):
            if self.record is None:
                return str(excinfo.value)
            recorder = self.config.stash[RUN_KEY].recorder
            return format_record(self.record, recorder.out_dir if recorder is not None else None)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the case lives, for pytest's report."""
        return self.path, 0, f"{self.case.id}: {self.case.title}"

