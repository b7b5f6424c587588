"""results.json: rewritten atomically after every test, so an interrupted run loses nothing."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

from harness.report.evidence import EvidenceWriter
from harness.report.files import write_atomically
from harness.report.identity import DutIdentity
from harness.report.manifest import MANIFEST, MANIFEST_SIGNATURE
from harness.report.timing import TimeSplit, time_split
from harness.results import VERDICTS, TestRecord

__all__ = ["FORMAT", "FORMAT_VERSION", "ResultsWriter", "iso_time", "summarise", "write_atomically"]

FORMAT = "csip-harness-results"
# 2: run.dut gains the identity observed on the wire, exchanges name their raw evidence file,
# tests may carry waivers and DUT setup actions.
FORMAT_VERSION = 3


def iso_time(epoch: float) -> str:
    """An epoch time as ISO 8601 with the local UTC offset, to the millisecond (a lab reads seconds and ms)."""
    return dt.datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="milliseconds")


def summarise(tests: list[dict[str, Any]]) -> dict[str, int]:
    """Counts of tests per verdict, with a total."""
    counts = Counter(t["verdict"] for t in tests)
    summary = {verdict: counts.get(verdict, 0) for verdict in VERDICTS}
    summary["total"] = len(tests)
    return summary


class ResultsWriter:
    """Collects test records and keeps DIR/results.json current."""

    def __init__(self, out_dir: str | Path, run: dict[str, Any]) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / "results.json"
        self.run = dict(run)
        self.run.setdefault("complete", False)
        self.tests: list[dict[str, Any]] = []
        self.evidence = EvidenceWriter(self.out_dir)
        # An earlier run's seal would vouch for files this run replaces; the new one comes when this run ends.
        (self.out_dir / MANIFEST).unlink(missing_ok=True)
        (self.out_dir / MANIFEST_SIGNATURE).unlink(missing_ok=True)
        self.identity = DutIdentity((self.run.get("dut") or {}).get("declared"))
        self.flush()

    def document(self) -> dict[str, Any]:
        """The whole results document as it stands."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "run": self.run,
            "summary": summarise(self.tests),
            "tests": self.tests,
        }

    def flush(self) -> None:
        """Write results.json now."""
        write_atomically(self.path, json.dumps(self.document(), indent=1, default=str))

    def add(self, record: TestRecord | dict[str, Any]) -> None:
        """Record one finished test (a TestRecord or its to_dict() form), write its raw exchanges and the file."""
        test = record.to_dict() if isinstance(record, TestRecord) else dict(record)
        self.evidence.write(test)
        if isinstance(record, TestRecord):
            # The record names its evidence files too, so that the terminal can point at them.
            for step_record, step in zip(record.steps, test["steps"], strict=True):
                for exchange_record, exchange in zip(step_record.exchanges, step["exchanges"], strict=True):
                    exchange_record.evidence = exchange.get("evidence")
        if self.identity.observe(test):
            self.run["dut"] = {**self.run.get("dut", {}), **self.identity.fields()}
        self.tests.append(test)
        self.flush()

    def update_run(self, **fields: Any) -> None:
        """Add run metadata (DUT, schema, profile) once it is known."""
        self.run.update(fields)
        self.flush()

    def timing(self, now: float) -> TimeSplit:
        """Where the run's time went so far (harness.report.timing), with the wall time since it started."""
        try:
            wall: float | None = now - dt.datetime.fromisoformat(str(self.run.get("started"))).timestamp()
        except ValueError:
            wall = None
        return time_split(self.tests, wall_s=wall)

    def finish(self, ended: float, complete: bool = True) -> dict[str, Any]:
        """Write the final file: the run's end, and whether it ran to its end (False when interrupted)."""
        self.run["ended"] = iso_time(ended)
        self.run["complete"] = complete
        self.run["timing"] = self.timing(ended).to_dict()
        self.flush()
        return self.document()
