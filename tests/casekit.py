"""Running a case file written in a test against a reference server, as the harness's own client over mutual TLS:
the options every such test shares (the run's 'client' certificate, the reference profile, unattended)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.cases.loader import load_case
from harness.paths import project_dir
from harness.pki import TestPki
from harness.reference.process import ReferenceProcess
from harness.results import TestRecord
from harness.session import HarnessSession, RunOptions

PROFILE = project_dir("fixtures") / "profiles" / "reference-server.yaml"


def reference_options(server: ReferenceProcess, pki: TestPki, **extra: object) -> RunOptions:
    """RunOptions for `server` as the 'client' identity of `pki`, with the server's admin variables; `extra`
    overrides or adds any RunOptions field (out, profile, time_scale…)."""
    client = pki.clients["client"]
    values: dict = dict(dut=server.base_url, cert=str(client.cert), key=str(client.key), ca=str(pki.ca),
                        profile=str(PROFILE), variables=server.admin_variables(), unattended=True)
    values.update(extra)
    return RunOptions(**values)


def write_case(tmp_path: Path, case_id: str, text: str) -> Path:
    """Write `text` as tmp_path/testcases/<case_id>.yaml and return that path."""
    case = tmp_path / "testcases" / f"{case_id}.yaml"
    case.parent.mkdir(parents=True, exist_ok=True)
    case.write_text(text)
    return case


def run_case(server: ReferenceProcess, pki: TestPki, case: Path, *, progress: Callable[[str], None] | None = None,
             **extra: object) -> TestRecord:
    """Load `case` and run it in a session of its own against `server` (see reference_options for `extra`);
    progress, when given, hears the session's progress lines."""
    session = HarnessSession(reference_options(server, pki, **extra))
    if progress is not None:
        session.context.progress = progress
    try:
        return session.run(load_case(case))
    finally:
        session.close()
