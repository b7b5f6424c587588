"""The evidence bundle's derived files: report.html and csip-summary.csv beside results.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.report.coverage import SUMMARY_CSV, coverage, summary_csv
from harness.report.files import write_atomically
from harness.report.html import write_html

REPORT_HTML = "report.html"
RESULTS_JSON = "results.json"


def write_derived(document: dict[str, Any], out_dir: str | Path, *, pdf: bool = False) -> list[Path]:
    """Write report.html and csip-summary.csv for a results document into out_dir, and report.pdf if asked.

    Raises harness.report.pdf.PdfUnavailable when the PDF was asked for and WeasyPrint cannot run; the HTML
    and CSV are written first, so the run's evidence is whole all the same.
    """
    root = Path(out_dir)
    csv_path = root / SUMMARY_CSV
    write_atomically(csv_path, summary_csv(coverage(document)))
    html_path = write_html(document, root / REPORT_HTML, results_file=root / RESULTS_JSON)
    written = [html_path, csv_path]
    if pdf:
        from harness.report.pdf import REPORT_PDF, write_pdf

        written.append(write_pdf(document, root / REPORT_PDF, results_file=root / RESULTS_JSON))
    return written
