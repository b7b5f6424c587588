"""The HTML compliance report: one self-contained page (inline CSS and SVG, no script, no network)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from harness.report.files import file_sha256, write_atomically
from harness.report.view import build_view

TEMPLATE = "report.html.j2"


@cache
def _environment(templates: str | None) -> jinja2.Environment:
    # The templates ship inside the package so that an installed wheel renders reports; a lab's own
    # directory, when given, is searched first and may override any of them.
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(templates)] if templates else []
    loaders.append(jinja2.PackageLoader("harness.report", "templates"))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(document: dict[str, Any], *, results_sha256: str | None = None,
                templates: str | Path | None = None, printed: bool = False) -> str:
    """Render a results document to HTML; printed: the form the PDF is made from (every section open)."""
    return "".join(generate_html(document, results_sha256=results_sha256, templates=templates, printed=printed))


def generate_html(document: dict[str, Any], *, results_sha256: str | None = None,
                  templates: str | Path | None = None, printed: bool = False) -> Iterator[str]:
    """render_html's text in pieces as the template produces them, for writing without holding the whole page
    (a whole-catalogue page is some 6 MB, and jinja's render() joins it from hundreds of thousands of pieces)."""
    environment = _environment(str(templates) if templates else None)
    return environment.get_template(TEMPLATE).generate(**build_view(document, results_sha256), printed=printed)


def write_html(document: dict[str, Any], path: str | Path, *, results_file: str | Path | None = None,
               templates: str | Path | None = None) -> Path:
    """Write the HTML page for a results document; results_file, when given, is named with its hash."""
    target = Path(path)
    digest = file_sha256(Path(results_file)) if results_file else None
    write_atomically(target, generate_html(document, results_sha256=digest, templates=templates))
    return target
