"""report.pdf: the report printed to PDF by WeasyPrint, from the very HTML of report.html.

WeasyPrint (BSD, maintained by CourtBouillon) lays out HTML and CSS for paged media itself: @page rules,
page counters in the margins, break-inside/break-after, with no browser to drive. The template's print CSS
(`@media print` and `@page`) decides the page: the report number and "page N of M" in every page's margin,
and each test's header kept with its first step. It needs the Pango library of the system (Debian:
libpango-1.0-0, which Debian's chromium pulls in too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.report.files import write_atomically

REPORT_PDF = "report.pdf"


class PdfUnavailable(RuntimeError):
    """WeasyPrint or the system libraries it needs cannot be loaded; str() says what to install."""


def _weasyprint() -> Any:
    try:
        import weasyprint
    except ImportError as exc:  # no package
        raise PdfUnavailable(f"the PDF needs WeasyPrint: pip install weasyprint ({exc})") from None
    except OSError as exc:  # the package is there, the Pango library it loads is not
        raise PdfUnavailable(f"WeasyPrint cannot load the Pango library it needs ({exc}); on Debian/Ubuntu: "
                             "apt-get install libpango-1.0-0 libpangoft2-1.0-0") from None
    return weasyprint


def html_to_pdf(html: str, base: Path | None = None) -> bytes:
    """The PDF (bytes) of one HTML page; relative links resolve against base. Raises PdfUnavailable."""
    weasyprint = _weasyprint()
    # Nothing is fetched: the report is self-contained, and a URL in a DUT's body must never be requested.
    def refuse(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ValueError(f"the report fetches nothing ({url})")

    document = weasyprint.HTML(string=html, base_url=str(base) if base else None, url_fetcher=refuse)
    return bytes(document.write_pdf())


def write_pdf(document: dict[str, Any], path: str | Path, *, results_file: str | Path | None = None,
              templates: str | Path | None = None) -> Path:
    """Render a results document to PDF at path (replaced whole). Raises PdfUnavailable."""
    from harness.report.files import file_sha256
    from harness.report.html import render_html

    target = Path(path)
    digest = file_sha256(Path(results_file)) if results_file else None
    html = render_html(document, results_sha256=digest, templates=templates, printed=True)
    write_atomically(target, html_to_pdf(html, target.parent))
    return target
