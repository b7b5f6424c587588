"""A run's lifecycle under pytest, with or without pytest-xdist workers, through public hooks only.

Two roles, which one process plays both of without xdist:

- the controller owns the run: before anything runs it refuses to overwrite an earlier run's bundle,
  starts what the whole run shares (the reference DUT and its PKI, with --csip-reference) and checks the
  options by building a HarnessSession (which opens no connection); with the first case that runs it
  starts the evidence bundle (harness.report.recorder), records every test as its report arrives
  (pytest_runtest_logreport), and finishes and seals the bundle at the end. Under --collect-only it
  does none of this.
- a runner (the xdist worker, or the process itself) runs cases on its own HarnessSession, made with the
  first case, and ships each finished, masked TestRecord on the item's call-phase report (the report's
  `csip_record`, carried across processes by pytest_report_to_serializable / _from_serializable).

In the client role (`--csip-role client`, harness.server.clientsession) the controller also runs the cases,
always: pytest-xdist is not used (harness.plugin), and the test server (with `--csip-reference`, the reference
DER client too) is started once, when collection has found a client case, and stopped at the end.

What the controller started is handed to workers in xdist's workerinput (pytest_configure_node): the
reference server's addresses and the paths of the run's certificates and keys, so workers on other hosts
(--tx) must see those paths (see README, "Parallel runs").
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.cases.loader import CaseFileError
from harness.reference.launch import ReferenceDut, ReferenceServerError, reference_profile
from harness.report.folder import (
    DEFAULT_PARENT,
    BundleExistsError,
    new_default_folder,
    refuse_earlier_run,
)
from harness.report.manifest import private_keys, write_manifest
from harness.report.recorder import EvidenceRecorder
from harness.results import ERROR, TestRecord
from harness.session import HarnessSession, RunOptions, SessionConfigError

if TYPE_CHECKING:
    from harness.server.clientsession import ClientSession

RECORD = "csip_record"  # the report attribute (and serialized key) carrying a finished test's record
# What a report keeps of its record once logged: enough for its verdict in the terminal (pytest_report_teststatus).
_SLIM_KEYS = ("id", "nodeid", "verdict", "reason")
WORKERINPUT = "csip_harness"  # the key of what the controller hands to each xdist worker

# What a broken option or environment raises while a run is being set up.
_SETUP_ERRORS = (SessionConfigError, CaseFileError, ReferenceServerError, BundleExistsError, OSError, ValueError)


class RunStartError(RuntimeError):
    """A runner could not set up the run, so no case can run; the message says why."""


class RecordedItem(pytest.Item):
    """An item whose call phase ends with a TestRecord in `record`, which reaches the evidence bundle.

    `record` is None again once the call's report carries the record (RunLifecycle.pytest_runtest_makereport).
    """

    record: TestRecord | None = None

    def fallback_record(self, reason: str) -> TestRecord:
        """An `error` record for this item when its call ended without one (a harness fault); reason says why."""
        raise NotImplementedError


def record_of(report: pytest.TestReport) -> dict[str, Any] | None:
    """The finished test's record a report carries (results.json form), or None."""
    record = getattr(report, RECORD, None)
    return record if isinstance(record, dict) else None


def is_case_nodeid(nodeid: str) -> bool:
    """Whether a node id names an item of a YAML test-case file (what the controller can tell without items)."""
    path, separator, _ = nodeid.partition("::")
    return bool(separator) and path.endswith((".yaml", ".yml"))


def _shippable(record: TestRecord) -> dict[str, Any]:
    # The results.json form, plain JSON types only: what execnet carries and the writer stores.
    return json.loads(json.dumps(record.to_dict(), default=str))


class RunLifecycle:
    """The per-run state and hooks of one pytest process (controller, runner or both); see the module doc.

    run_options(shared) builds the run's options from the command line and ini file, with shared (the
    reference DUT's addresses, identity and variables, or {}) overriding them.
    """

    def __init__(self, config: pytest.Config, run_options: Callable[[dict[str, Any]], RunOptions]) -> None:
        self.config = config
        self._run_options = run_options
        workerinput = getattr(config, "workerinput", None)
        self.worker = workerinput is not None
        self.shared: dict[str, Any] = dict(workerinput.get(WORKERINPUT, {})) if workerinput is not None else {}
        self.prepared = False
        self.plan: HarnessSession | None = None  # the controller's, for options checked and run metadata
        self.reference: ReferenceDut | None = None
        # The client role's test server (and reference DER client), shared by the run's cases; also self.plan.
        self.client: ClientSession | None = None
        self.out_dir: Path | None = None  # given with --csip-out; None: a new folder under csip-results/
        self.recorder: EvidenceRecorder | None = None
        self.no_bundle: str | None = None  # why no bundle could be started, for the terminal
        self.recorded: set[str] = set()
        self.recorded_early: set[str] = set()  # by this process as the case ended (see pytest_runtest_makereport)
        self._executor: HarnessSession | None = None
        self._executor_problem: str | None = None

    # -- options ---------------------------------------------------------------------------------------

    @property
    def controller(self) -> bool:
        """Whether this process owns the run's evidence (not an xdist worker, and not only listing tests)."""
        return not self.worker and not self.config.option.collectonly

    def _flag(self, name: str) -> bool:
        return bool(self.config.getoption(f"csip_{name}") or self.config.getini(f"csip_{name}"))

    def _value(self, name: str) -> str | None:
        value = self.config.getoption(f"csip_{name}") or self.config.getini(f"csip_{name}")
        return str(value) if value else None

    def configured(self) -> bool:
        """Whether the user named a DUT for this run (an address, a profile or the reference server)."""
        return self._flag("reference") or bool(self._value("dut") or self._value("profile")) or \
            self._value("role") == "client"

    def options(self) -> RunOptions:
        """The run's options for a HarnessSession; evidence is the controller's recorder's, never the session's."""
        options = self._run_options(self.shared)
        options.out = None
        return options

    # -- controller: before anything runs -------------------------------------------------------------

    def prepare(self) -> None:
        """Check the output folder, start the shared setup and check the options; UsageError when one fails.

        Called once on the controller, before the first case: at session start when a DUT is named, else
        when collection found cases.
        """
        if self.prepared or not self.controller:
            return
        self.prepared = True
        try:
            self._prepare()
        except _SETUP_ERRORS as exc:
            raise pytest.UsageError(f"csip-harness: {exc}") from None

    def _prepare(self) -> None:
        out = self._run_options({}).out
        if out:
            # An ini path is already absolute (relative to the ini file); a command-line one is the user's cwd's.
            self.out_dir = Path(self.config.invocation_params.dir, out).resolve()
            if not self._flag("replace"):
                refuse_earlier_run(self.out_dir, out_option="--csip-out DIR",
                                   replace_option="--csip-replace (ini csip_replace)")
        from harness.roles import run_role

        if run_role(self._run_options({})) == "client":
            from harness.server.clientsession import ClientSession

            defects = [*self.config.getini("csip_defects"), *(self.config.getoption("csip_defect") or ())]
            self.client = ClientSession(self.options(), reference=self._flag("reference"), defects=defects,
                                        tell=self._tell)
            self.plan = self.client  # type: ignore[assignment]  # the same run_metadata, run and close
            return
        if self._flag("reference"):
            defects = [*self.config.getini("csip_defects"), *(self.config.getoption("csip_defect") or ())]
            from harness.session import parse_time_scale

            scale = parse_time_scale(self._value("time_scale")) or 1.0
            transport = self._value("transport") or "http"
            self.reference = ReferenceDut(defects, time_scale=scale, transport=transport).start()
            shared: dict[str, Any] = {"options": self.reference.options(), "variables": self.reference.variables()}
            if not self._value("profile"):
                shared["options"]["profile"] = str(reference_profile())
            self.shared = shared
        self.plan = HarnessSession(self.options())

    def workerinput(self) -> dict[str, Any]:
        """What each xdist worker receives from the controller (plain data: execnet carries it)."""
        return self.shared

    # -- controller: the evidence bundle ----------------------------------------------------------------

    def _bundle(self) -> EvidenceRecorder | None:
        """The run's recorder, started now if this is the first result; None when none can be started."""
        if self.recorder is not None or self.no_bundle is not None or not self.controller:
            return self.recorder
        try:
            plan = self.plan or HarnessSession(self.options())
            self.plan = plan
            now = time.time()
            out = self.out_dir or new_default_folder(Path(self.config.invocation_params.dir, DEFAULT_PARENT), now)
            certificates = self.reference.certificates() if self.reference is not None else \
                self.client.certificates() if self.client is not None else []
            self.recorder = EvidenceRecorder(out, plan.run_metadata(now), certificates, pdf=self._flag("pdf"))
        except _SETUP_ERRORS as exc:
            self.no_bundle = str(exc)
        return self.recorder

    def _record(self, nodeid: str, test: dict[str, Any]) -> None:
        recorder = self._bundle()
        self.recorded.add(nodeid)
        if recorder is not None:
            recorder.add(test)

    def _unreported(self, report: pytest.TestReport) -> dict[str, Any]:
        """An error record for a case whose reports ended without one (a worker crash, a setup hook's fault)."""
        reason = f"csip-harness got no verdict for this case ({report.when} phase): {report.longreprtext}"
        if self.plan is not None:
            reason = self.plan.masker.prose(reason)
        path = report.nodeid.partition("::")[0]
        record = TestRecord(id=report.nodeid.rpartition("::")[2], title="(the case reported no verdict)",
                            role="unknown", verdict=ERROR, reason=reason, nodeid=report.nodeid, file=path,
                            started=time.time())
        return _shippable(record)

    # -- runner ---------------------------------------------------------------------------------------

    def executor(self, role: str | None = None) -> HarnessSession:
        """This process's HarnessSession for running cases, made with the first; RunStartError if it cannot be.

        In the client role, the ClientSession, started for a case of that role (role: the case's).
        """
        if self.client is not None:
            from harness.server.clientsession import ClientStartError

            try:
                if role in (None, "client"):
                    self.client.start()
            except ClientStartError as exc:
                raise RunStartError(str(exc)) from None
            return self.client  # type: ignore[return-value]  # HarnessSession's run, context, masker, close
        if self._executor is None:
            if self._executor_problem is not None:
                raise RunStartError(self._executor_problem)
            try:
                self._executor = self.plan if self.plan is not None else HarnessSession(self.options())
            except _SETUP_ERRORS as exc:
                self._executor_problem = f"csip-harness could not start the run: {exc}"
                raise RunStartError(self._executor_problem) from None
        return self._executor

    # -- hooks ----------------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Prepare the run before pytest-xdist starts its workers (they need the shared setup)."""
        if self.configured():
            self.prepare()

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Cases were collected although no DUT was named: prepare now, which names what is missing."""
        if any(isinstance(item, RecordedItem) for item in items):
            self.prepare()

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Client role: start the test server (and the reference client, or wait for the device) before the first
        case, so the run's metadata names it; a failure to start is each client case's error (executor())."""
        if self.client is None or not self.controller:
            return
        if any(getattr(getattr(item, "case", None), "role", None) == "client" for item in session.items):
            from harness.server.clientsession import ClientStartError

            # When it fails, each case that needs it ends in error, saying why.
            with contextlib.suppress(ClientStartError):
                self.client.start()

    def _tell(self, line: str) -> None:
        """Show a line to the person at the terminal now, also while output is captured (client role)."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:
            print(line, flush=True)
            return
        with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            reporter.write_line(line)
            reporter.flush()

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        """The first case to start starts the evidence bundle (never under --collect-only: nothing starts)."""
        if is_case_nodeid(nodeid):
            self._bundle()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        """Put the finished test's record on the item's call-phase report, where the controller finds it."""
        if call.when == "call" and isinstance(item, RecordedItem) and item.record is not None and self.controller:
            # Recorded before pytest builds the report, so that the failure it shows (repr_failure) can name the
            # evidence files just written; a worker's records are written by the controller, without that.
            recorder = self._bundle()
            if recorder is not None:
                recorder.add(item.record)
                self.recorded.add(item.nodeid)
                self.recorded_early.add(item.nodeid)
        report = yield
        if call.when == "call" and isinstance(item, RecordedItem):
            record = item.record
            if record is None:  # the case raised before it had a verdict: a harness fault, never the DUT's
                record = item.fallback_record(str(call.excinfo.value) if call.excinfo else "no verdict")
            setattr(report, RECORD, _shippable(record))
            # The report carries it from here; the item lives until the session ends, its evidence need not.
            item.record = None
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_report_to_serializable(self, report: pytest.TestReport) -> Any:
        """Carry the record across to the controller (pytest-xdist, pytest-reportlog)."""
        data = yield
        record = record_of(report) if isinstance(report, pytest.TestReport) else None
        if data is not None and record is not None:
            data[RECORD] = record
        return data

    @pytest.hookimpl(wrapper=True)
    def pytest_report_from_serializable(self, data: dict[str, Any]) -> Any:
        """Give the record back to the report the controller rebuilt."""
        report = yield
        if report is not None and isinstance(data.get(RECORD), dict):
            setattr(report, RECORD, data[RECORD])
        return report

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, Any] | None:
        """A case ending in `error` (a harness or environment fault) is counted and shown as an error."""
        record = record_of(report) if report.failed else None
        if record is not None and record.get("verdict") == ERROR:
            return "error", "E", ("ERROR", {"red": True})
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """The controller records each finished case; one whose reports end without a record is an error.

        tryfirst: the error record made for such a case is on its report before the terminal reads it.
        """
        if not self.controller:
            return
        record = record_of(report)
        if record is None and report.failed and is_case_nodeid(report.nodeid) and report.nodeid not in self.recorded:
            record = self._unreported(report)
            setattr(report, RECORD, record)
        if record is not None and report.nodeid not in self.recorded_early:
            self._record(report.nodeid, record)

    @pytest.hookimpl(wrapper=True, specname="pytest_runtest_logreport")
    def pytest_runtest_logreport_slimmed(self, report: pytest.TestReport) -> Any:
        """Once every plugin has seen the report (the recorder, junit.xml, reportlog, xdist's hand-over), leave
        it only the record's verdict: pytest's terminal keeps every report until the session ends, and a whole
        record there is the test's evidence held once more (it is in results.json and exchanges/ by now)."""
        try:
            return (yield)
        finally:
            record = record_of(report)
            if record is not None:
                setattr(report, RECORD, {key: record[key] for key in _SLIM_KEYS if key in record})

    def record_load_error(self, nodeid: str, test: TestRecord) -> None:
        """Record a test-case file that failed to collect (the controller's; a no-op elsewhere)."""
        if self.controller:
            self._record(nodeid, _shippable(test))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Close this process's session; on the controller, finish the bundle (complete unless interrupted)."""
        try:
            if self._executor is not None:
                self._executor.close()
        finally:
            if self.recorder is not None and self.controller:
                self.recorder.finish(time.time(), complete=exitstatus != pytest.ExitCode.INTERRUPTED)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Any:
        """End the summary with one line naming where this run's evidence is (or why there is none)."""
        try:
            return (yield)
        finally:
            if self.recorder is not None:
                # Is a slow run the DUT's or ours? The split of the tests' time, from the records.
                terminalreporter.write_line(f"csip-harness: {self.recorder.writer.timing(time.time()).line()}")
                terminalreporter.write_line(f"csip-harness: evidence of this run in {self.recorder.out_dir} "
                                            f"(report.html{', report.pdf' if self.recorder.pdf else ''}, "
                                            "results.json)")
                if self.recorder.pdf_problem:
                    terminalreporter.write_line(f"csip-harness: report.pdf not written: {self.recorder.pdf_problem}",
                                                red=True)
            elif self.no_bundle is not None:
                terminalreporter.write_line(f"csip-harness: no evidence written: {self.no_bundle}", red=True)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Seal the bundle with MANIFEST.sha256, then stop the shared setup (reference DUT, keys).

        pytest writes junit.xml in its own pytest_sessionfinish, in an order we do not control; every
        sessionfinish has run by the time pytest_unconfigure is called, so the manifest covers it.
        """
        try:
            if self.recorder is not None and self.controller:
                out_dir = self.recorder.out_dir
                write_manifest(out_dir)
                for name in private_keys(out_dir):
                    # The terminal reporter is gone by now; stderr still reaches the user.
                    print(f"csip-harness: warning: {out_dir / name} is a private key inside the evidence bundle; "
                          "it is not listed in MANIFEST.sha256 and `csip-harness verify` reports it; move it out "
                          f"of {out_dir} before sharing the bundle", file=sys.stderr)
        finally:
            if self.client is not None:
                self.client.close()
            if self.reference is not None:
                self.reference.stop()


class XdistHooks:
    """pytest-xdist's hook, registered only when xdist is loaded (pytest refuses unknown hooks)."""

    def __init__(self, lifecycle: RunLifecycle) -> None:
        self.lifecycle = lifecycle

    def pytest_configure_node(self, node: Any) -> None:
        """Hand the controller's shared setup (reference DUT addresses, PKI paths) to a new worker."""
        node.workerinput[WORKERINPUT] = self.lifecycle.workerinput()
