"""results.json: rewritten atomically after every test, so an interrupted run loses nothing.

The writer keeps each recorded test as its JSON text, not as objects: a whole-catalogue run's tests are some
12 MB of JSON but several times that as Python dicts, and re-encoding every test at every flush (json's
indented encoder builds the whole file as millions of small pieces) made the run's memory peaks. The file is
written from those texts piece by piece, the same bytes `json.dumps(document, indent=1)` gives.
"""

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
from harness.report.timing import TimeSplit, split_of, test_times
from harness.results import VERDICTS, TestRecord

_INDENT = 1  # results.json's indentation
_TESTS_KEY = '"tests": []'  # how the empty list ends the document's text, replaced by the entries

__all__ = ["FORMAT", "FORMAT_VERSION", "ResultsWriter", "iso_time", "read_summary", "summarise", "write_atomically"]

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


def read_summary(path: str | Path) -> dict[str, Any]:
    """The `summary` (counts per verdict) of a results.json this writer wrote, without parsing its tests.

    The tests are most of the file (some 12 MB for a whole catalogue, several times that as objects) and come
    last; the document before them is read alone. A file laid out otherwise is parsed whole. Raises OSError
    and ValueError (not JSON, no summary) as json.loads would.
    """
    head: list[str] = []
    with Path(path).open(encoding="utf-8") as stream:
        for line in stream:
            # One space of indentation: a key of the document itself (JSON text never holds a raw newline).
            if line.startswith(' "tests": ['):
                head.append(' "tests": []\n}')
                break
            head.append(line)
    document = json.loads("".join(head))
    if isinstance(document, dict) and "summary" not in document:  # laid out otherwise: the whole file
        document = json.loads(Path(path).read_bytes())
    if not isinstance(document, dict) or not isinstance(document.get("summary"), dict):
        raise ValueError(f"{path}: expected a results document with a summary")
    return document["summary"]


class ResultsWriter:
    """Collects test records and keeps DIR/results.json current.

    Each test is kept as its results.json text (with its verdict and time figures), so the memory a run holds
    grows with the size of its evidence as JSON, not as Python objects; document() parses them back on demand.
    """

    def __init__(self, out_dir: str | Path, run: dict[str, Any]) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / "results.json"
        self.run = dict(run)
        self.run.setdefault("complete", False)
        self._texts: list[str] = []  # each test's entry, indented as it stands in the "tests" list
        self._verdicts: list[str] = []
        self._times: list[tuple[float, float, float, float]] = []  # harness.report.timing.test_times
        self._finished = False  # finish() leaves the tests' texts in results.json alone (see _reopen)
        self.evidence = EvidenceWriter(self.out_dir)
        # An earlier run's seal would vouch for files this run replaces; the new one comes when this run ends.
        (self.out_dir / MANIFEST).unlink(missing_ok=True)
        (self.out_dir / MANIFEST_SIGNATURE).unlink(missing_ok=True)
        self.identity = DutIdentity((self.run.get("dut") or {}).get("declared"))
        self.flush()

    @property
    def tests(self) -> list[dict[str, Any]]:
        """The tests recorded so far, parsed again from their text (results.json `tests` entries)."""
        if self._finished:
            return list(json.loads(self.path.read_bytes())["tests"])
        # A run's tests repeat the same values thousands of times (TLS certificate chains, header names and values,
        # URLs, verdicts): one string each, which a whole catalogue's document needs 18 MB for instead of 26 MB.
        strings: dict[str, str] = {}

        def shared(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            return {key: strings.setdefault(value, value) if type(value) is str else value for key, value in pairs}

        return [json.loads(text, object_pairs_hook=shared) for text in self._texts]

    def _reopen(self) -> None:
        """After finish(), take the tests' texts back from results.json before the file changes again."""
        if self._finished:
            self._texts = [self._entry(test) for test in self.tests]
            self._finished = False

    @staticmethod
    def _entry(test: dict[str, Any]) -> str:
        # Two levels deep in the document (its "tests" list), as json.dumps(document, indent=1) would place it.
        indent = " " * (2 * _INDENT)
        return indent + json.dumps(test, indent=_INDENT, default=str).replace("\n", "\n" + indent)

    def _summary(self) -> dict[str, int]:
        return summarise([{"verdict": verdict} for verdict in self._verdicts])

    def document(self) -> dict[str, Any]:
        """The whole results document as it stands (the tests parsed again from their text)."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "run": self.run,
            "summary": self._summary(),
            "tests": self.tests,
        }

    def _pieces(self) -> list[str]:
        """results.json's text in pieces: the document without its tests, then each test's entry."""
        head = json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, "run": self.run,
                           "summary": self._summary(), "tests": []}, indent=_INDENT, default=str)
        if not self._texts:
            return [head]
        # The tests list is the document's last key: open it where the empty list stood, close it after the entries.
        cut = head.rindex(_TESTS_KEY) + len(_TESTS_KEY) - 1
        pieces = [head[:cut], "\n"]
        for number, text in enumerate(self._texts):
            pieces += [",\n" if number else "", text]
        pieces.append("\n" + " " * _INDENT + head[cut:])
        return pieces

    def flush(self) -> None:
        """Write results.json now."""
        self._reopen()
        write_atomically(self.path, self._pieces())

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
        self._reopen()
        self._texts.append(self._entry(test))
        self._verdicts.append(test["verdict"])
        self._times.append(test_times(test))
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
        return split_of(self._times, wall_s=wall)

    def finish(self, ended: float, complete: bool = True) -> dict[str, Any]:
        """Write the final file: the run's end, and whether it ran to its end (False when interrupted)."""
        self.run["ended"] = iso_time(ended)
        self.run["complete"] = complete
        self.run["timing"] = self.timing(ended).to_dict()
        self.flush()
        document = self.document()
        # The report is rendered from the document next, the largest moment of a run: the texts are in the file
        # now, and only a change after the end (rare) needs them again.
        self._texts = []
        self._finished = True
        return document
