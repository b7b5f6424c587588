"""PDF rendering of a whole-catalogue report: time of report.pdf (WeasyPrint) against report.html, same run.

The document has one synthetic test per CSIP procedure of the server role (the catalogue's 77), shaped as
bench_report.py's: 5 steps with one exchange each, one test in ten failing with a mismatch and a finding.
Both renders start from the results document (view, template); the PDF adds WeasyPrint's layout. The ratio
PDF / HTML is the figure to watch: it does not depend on how busy the machine is, the seconds do.

Run: .venv/bin/python bench/bench_pdf.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_report import synthetic_document  # noqa: E402

from harness.catalogue import for_role  # noqa: E402
from harness.report.html import render_html  # noqa: E402
from harness.report.pdf import html_to_pdf  # noqa: E402
from harness.report.writer import summarise  # noqa: E402


def catalogue_document() -> dict:
    """One synthetic test per server-role catalogue procedure, with the procedure's id and title."""
    procedures = for_role("server")
    document = synthetic_document(len(procedures))
    for test, procedure in zip(document["tests"], procedures, strict=True):
        test["id"], test["title"] = procedure.id, procedure.title
        for step in test["steps"]:
            for exchange in step["exchanges"]:
                exchange["evidence"] = f"exchanges/{procedure.id}/{step['index']}-1.http"
    document["summary"] = summarise(document["tests"])
    return document


def _pages(pdf: bytes) -> int | str:
    """The page count (with pypdf, a test dependency), or '?' without it."""
    try:
        import io

        import pypdf
    except ImportError:
        return "?"
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def main(argv: list[str] | None = None) -> int:
    """Render HTML and PDF of the whole-catalogue report; print each round, the medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    document = catalogue_document()
    html_to_pdf(render_html(document, printed=True))  # warm-up: fonts, template compilation, catalogue load
    html_times, pdf_times = [], []
    size = pages = 0
    for _ in range(args.rounds):
        start = time.perf_counter()
        render_html(document)
        html_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        pdf = html_to_pdf(render_html(document, printed=True))
        pdf_times.append(time.perf_counter() - start)
        size, pages = len(pdf), _pages(pdf)
    html_s, pdf_s = statistics.median(html_times), statistics.median(pdf_times)
    print(f"tests: {len(document['tests'])} (server-role catalogue); rounds: HTML "
          + ", ".join(f"{t:.3f} s" for t in html_times) + "; PDF " + ", ".join(f"{t:.2f} s" for t in pdf_times))
    print(f"SUMMARY whole-catalogue HTML {html_s:.3f} s, PDF {pdf_s:.2f} s ({size / 1e6:.2f} MB, {pages} pages): "
          f"PDF / HTML = {pdf_s / html_s:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
