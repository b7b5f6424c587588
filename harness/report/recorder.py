"""The evidence bundle of one run, kept by the one process that owns it.

Under pytest that is the controller (the only process with pytest-xdist's workers, or the process itself
without them): workers run cases and hand over finished, masked test records; the recorder alone writes
results.json, exchanges/, pki/, report.html and csip-summary.csv. MANIFEST.sha256 comes last, after
junit.xml (harness.report.manifest.write_manifest).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.report.folder import RESULTS_JSON, clear_earlier_run
from harness.report.writer import ResultsWriter
from harness.results import TestRecord

PKI_DIR = "pki"


class EvidenceRecorder:
    """Starts a bundle in out_dir and records each finished test into it; finish() completes it.

    run is the run metadata for results.json (HarnessSession.run_metadata). certificates (PEM files, never
    keys) are copied into out_dir/pki as the identities the run used. When out_dir holds an earlier run's
    bundle, its files are removed first: the caller has checked that replacing it was asked for
    (harness.report.folder.refuse_earlier_run).
    """

    def __init__(self, out_dir: Path, run: dict[str, Any], certificates: Iterable[Path] = (), *,
                 pdf: bool = False) -> None:
        self.out_dir = out_dir
        self.pdf = pdf  # also write report.pdf when the run ends
        self.pdf_problem: str | None = None  # why report.pdf could not be written, for the terminal
        out_dir.mkdir(parents=True, exist_ok=True)
        if (out_dir / RESULTS_JSON).exists():
            clear_earlier_run(out_dir)
        certificates = list(certificates)
        if certificates:
            pki = out_dir / PKI_DIR
            pki.mkdir(exist_ok=True)
            # An earlier run of an older harness left its keys here; they are not this run's evidence.
            for stale in pki.glob("*.key"):
                stale.unlink()
            for certificate in certificates:
                shutil.copyfile(certificate, pki / certificate.name)
        self.writer = ResultsWriter(out_dir, run)

    def add(self, test: TestRecord | dict[str, Any]) -> None:
        """Record one finished test (a TestRecord, or its to_dict() form as shipped by a worker)."""
        self.writer.add(test)

    def finish(self, ended: float, *, complete: bool = True) -> dict[str, Any]:
        """Write the final results.json (run.complete as given), report.html and csip-summary.csv."""
        document = self.writer.finish(ended, complete=complete)
        # Imported here: the report's renderer (jinja2) is needed when the run ends, not before its first request.
        from harness.report.bundle import write_derived
        from harness.report.pdf import PdfUnavailable

        try:
            write_derived(document, self.out_dir, pdf=self.pdf)
        except PdfUnavailable as exc:
            self.pdf_problem = str(exc)
        return document
