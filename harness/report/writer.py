"""results.json: rewritten atomically after every test, so an interrupted run loses nothing."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from harness.results import VERDICTS, TestRecord

FORMAT = "csip-harness-results"
FORMAT_VERSION = 1


def iso_time(epoch: float) -> str:
    """An epoch time as ISO 8601 with the local UTC offset."""
    return dt.datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


def write_atomically(path: Path, text: str) -> None:
    """Replace path with text without ever leaving a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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

    def add(self, record: TestRecord) -> None:
        """Record one finished test and write the file."""
        self.tests.append(record.to_dict())
        self.flush()

    def update_run(self, **fields: Any) -> None:
        """Add run metadata (DUT, schema, profile) once it is known."""
        self.run.update(fields)
        self.flush()

    def finish(self, ended: float) -> dict[str, Any]:
        """Mark the run complete and write the final file."""
        self.run["ended"] = iso_time(ended)
        self.run["complete"] = True
        self.flush()
        return self.document()
