"""A self-contained HTML page of the results (inline CSS, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from harness.paths import project_dir
from harness.report.writer import write_atomically

TEMPLATE = "results.html.j2"


def render_html(document: dict[str, Any]) -> str:
    """Render a results document to HTML."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(project_dir("reports")),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.ChainableUndefined,
    )
    return environment.get_template(TEMPLATE).render(**document)


def write_html(document: dict[str, Any], path: str | Path) -> Path:
    """Write the HTML page for a results document."""
    target = Path(path)
    write_atomically(target, render_html(document))
    return target
