"""Report rendering at scale: time, size and peak memory of report.html for 1,000 synthetic test results.

Each synthetic test looks like a real server-role case: 5 steps with one exchange each (a ~1 KB 2030.5 XML
body, TLS details, raw-evidence path); one test in ten fails with a mismatch and a schema finding, one in
twenty is not applicable, one in fifty has a waived step and DUT setup actions. The figure is the
whole `write_derived` path a run ends with: HTML and csip-summary.csv, median of the rounds;
peak Python memory comes from one more, traced round.

The printed form, report.pdf (WeasyPrint, `--pdf`), is timed once more at the end (one round: it is the slow
one), with its size; --no-pdf leaves it out.

Run: /work/venv/bin/python bench/bench_report.py [--tests 1000] [--rounds 3] [--no-pdf]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from harness.report.bundle import REPORT_HTML, write_derived
from harness.report.writer import FORMAT, FORMAT_VERSION, summarise

TARGET_S = 5.0
TARGET_MB = 20.0
PDF_TARGET_S = 30.0
PDF_TARGET_MB = 30.0
FAMILIES = ("CORE", "BASIC", "COMM", "UTIL")
FUNCTION_SETS = (["DeviceCapability", "Time"], ["EndDevice"], ["DER", "FunctionSetAssignments"], ["Metering Mirror"])
END_DEVICE = (
    '<EndDevice href="/edev/{n}" subscribable="0"><DERListLink href="/edev/{n}/der" all="1"/>'
    '<DeviceInformationLink href="/edev/{n}/di"/><lFDI>2D37DDEE99A8FB862B95BAAA68CB5B3B4F8A627E</lFDI>'
    "<sFDI>121381762333</sFDI><changedTime>1795974690</changedTime><enabled>true</enabled></EndDevice>"
)
BODY = ('<EndDeviceList xmlns="urn:ieee:std:2030.5:ns" href="/edev" all="4" results="4">'
        + "".join(END_DEVICE.format(n=n) for n in range(4)) + "</EndDeviceList>")
_CERT = {"issuer": "CN=csip-harness test CA,O=csip-harness test PKI", "serial": "28C4DFD3B6FE6580CCBA7230FAF68E80",
         "not_before": "2026-11-29T18:11:28+00:00", "not_after": "2029-03-03T18:16:28+00:00", "key": "EC secp256r1",
         "signature": "ecdsa-with-SHA256"}
TLS = {"version": "TLSv1.2", "cipher": "ECDHE-ECDSA-AES128-CCM8", "peer_certificate_sha256": "AB" * 32,
       "certificate_chain": [{**_CERT, "subject": "CN=server,O=csip-harness test PKI", "sha256": "AB" * 32},
                             {**_CERT, "subject": _CERT["issuer"], "sha256": "CD" * 32}]}


def _step(test_id: str, index: int, verdict: str) -> dict[str, Any]:
    failed = verdict == "failed"
    return {
        "index": index, "name": f"GET the EndDeviceList, check {index}", "verdict": verdict,
        "message": "resource.results: expected 3, saw '4'" if failed else "", "ref": str(index), "line": 10 * index,
        "duration_s": 0.002,
        "expected": {"status": [200], "schema": "EndDeviceList", "resource": {"results": 3}},
        "observed": {"status": 200, "content_type": "application/sep+xml", "resource": {"results": "4", "all": "4"}},
        "mismatches": [{"path": "resource.results", "expected": "3", "seen": "'4'"}] if failed else [],
        "findings": [{"message": "element 'bogus' not expected", "line": 1, "path": "/EndDeviceList/bogus",
                      "source": "xmlschema"}] if failed else [],
        "exchanges": [{
            "method": "GET", "url": f"https://127.0.0.1:8443/edev?s={index}", "started": 1.795e9 + index,
            "request_headers": [["host", "127.0.0.1:8443"], ["accept", "application/sep+xml"]],
            "request_body": {"length": 0, "truncated": False, "text": ""}, "elapsed_s": 0.0015, "status": 200,
            "response_headers": [["content-type", "application/sep+xml"], ["content-length", str(len(BODY))]],
            "response_body": {"length": len(BODY), "truncated": False, "text": BODY}, "tls": dict(TLS),
            "error": None, "error_kind": None, "transport": "http",
            "evidence": f"exchanges/{test_id}/{index}-1.http",
        }],
        "saved": {},
    }


def synthetic_document(count: int) -> dict[str, Any]:
    """A results document of count tests shaped like a real run's."""
    tests = []
    for n in range(count):
        test_id = f"{FAMILIES[n % 4]}-{n:03d}" if n < 1000 else f"{FAMILIES[n % 4]}-{n}"
        verdict = "failed" if n % 10 == 3 else "not_applicable" if n % 20 == 7 else "passed"
        steps = [] if verdict == "not_applicable" else [
            _step(test_id, i, "failed" if verdict == "failed" and i == 3 else "passed") for i in range(1, 6)]
        test: dict[str, Any] = {
            "id": test_id, "title": f"Synthetic case {n}", "role": "server", "verdict": verdict,
            "reason": steps[2]["message"] if verdict == "failed" else (
                "the DUT profile does not declare edev-list" if verdict == "not_applicable" else ""),
            "nodeid": f"testcases/server/{test_id}.yaml::{test_id}", "file": f"testcases/server/{test_id}.yaml",
            "case_sha256": "cd" * 32, "case_version": "1",
            "procedure": {"doc": "SunSpec CSIP Conformance Test Procedures", "version": "1.3", "section": "6"},
            "function_sets": FUNCTION_SETS[n % 4], "requirements": ["GEN.039"], "started": 1.795e9 + n,
            "duration_s": 0.01, "steps": steps,
        }
        if n % 50 == 5 and steps:
            steps[1]["verdict"] = "waived"
            test["waivers"] = [{"step": 2, "reason": "lab waiver: documented deviation"}]
            test["actions"] = [{"name": "create-enddevices", "params": {"count": 3}, "mapping": "http",
                                "outcome": "done", "detail": "201", "started": 1.795e9, "duration_s": 0.2}]
        tests.append(test)
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "summary": summarise(tests), "tests": tests,
        "run": {"harness_version": "bench", "started": "2026-01-01T00:00:00+00:00", "complete": True,
                "ended": "2026-01-01T01:00:00+00:00", "transport": "http", "encoding": "xml", "time_scale": 1,
                "dut": {"url": "https://127.0.0.1:8443", "role": "server", "name": "bench DUT"},
                "schema": {"name": "bundled CSIP schema", "sha256": "ef" * 32}},
    }


def main(argv: list[str] | None = None) -> int:
    """Render the synthetic report; print each round, the medians and the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-pdf", dest="pdf", action="store_false", help="leave the PDF round out")
    args = parser.parse_args(argv)
    document = synthetic_document(args.tests)
    times = []
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        out = Path(tmp)
        write_derived(document, out)  # warm-up: template compilation, catalogue load
        for _ in range(args.rounds):
            start = time.perf_counter()
            write_derived(document, out)
            times.append(time.perf_counter() - start)
        size_mb = (out / REPORT_HTML).stat().st_size / 1e6
        # tracemalloc slows Python several times over, so memory has its own round, not timed.
        tracemalloc.start()
        write_derived(document, out)
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    median = statistics.median(times)
    print(f"tests: {args.tests}; rounds: " + ", ".join(f"{t:.2f} s" for t in times)
          + f"; peak Python memory (traced round) {peak_mb:.0f} MB")
    time_verdict = "meets" if median <= TARGET_S else "MISSES"
    size_verdict = "meets" if size_mb <= TARGET_MB else "MISSES"
    print(f"SUMMARY report render {median:.2f} s for {args.tests} tests ({time_verdict} target <= {TARGET_S} s)")
    print(f"SUMMARY report size {size_mb:.1f} MB for {args.tests} tests ({size_verdict} target <= {TARGET_MB} MB)")
    if args.pdf:
        from harness.report.pdf import REPORT_PDF, write_pdf

        with tempfile.TemporaryDirectory(prefix="bench-report-pdf-") as tmp:
            start = time.perf_counter()
            pdf_path = write_pdf(document, Path(tmp) / REPORT_PDF)
            pdf_s = time.perf_counter() - start
            pdf_mb = pdf_path.stat().st_size / 1e6
        pdf_time_verdict = "meets" if pdf_s <= PDF_TARGET_S else "MISSES"
        pdf_size_verdict = "meets" if pdf_mb <= PDF_TARGET_MB else "MISSES"
        print(f"SUMMARY report.pdf render {pdf_s:.1f} s for {args.tests} tests ({pdf_time_verdict} target <= "
              f"{PDF_TARGET_S:.0f} s; {pdf_s / median:.0f}x the HTML render of this run)")
        print(f"SUMMARY report.pdf size {pdf_mb:.1f} MB for {args.tests} tests ({pdf_size_verdict} target <= "
              f"{PDF_TARGET_MB:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
