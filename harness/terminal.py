"""What a pytest run shows on the terminal: a failed case in plain words, titles under -v, and progress lines
while the run waits on the DUT."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.results import ERROR, FAILED, ExchangeRecord, TestRecord

BODY_EXCERPT = 160  # characters of a response body shown under a failed step; the evidence file has it all
_SPACE = re.compile(r"\s+")


def _header(exchange: ExchangeRecord) -> str | None:
    for name, value in exchange.response_headers:
        if name.lower() == "content-type":
            return value
    return None


def body_excerpt(exchange: ExchangeRecord, limit: int = BODY_EXCERPT) -> str | None:
    """The start of the response body on one line (whitespace runs shown as one space), or None without one."""
    body = exchange.response_body
    if not body or not body.get("length"):
        return None
    if "text" not in body:
        return f"({body['length']} bytes, not UTF-8)"
    text = _SPACE.sub(" ", body["text"]).strip()
    return text if len(text) <= limit else text[:limit] + "…"


def _exchange_lines(exchange: ExchangeRecord, out_dir: Path | None, excerpt: bool) -> list[str]:
    outcome = exchange.status if exchange.status is not None else exchange.error
    lines = [f"    exchange: {exchange.method} {exchange.url} -> {outcome} ({exchange.elapsed_s * 1000:.1f} ms)"]
    shown = body_excerpt(exchange) if excerpt else None
    if shown is not None:
        media = _header(exchange)
        size = exchange.response_body["length"] if exchange.response_body else 0
        lines.append(f"      body ({media + ', ' if media else ''}{size} bytes): {shown}")
    if exchange.evidence:
        lines.append(f"      evidence: {out_dir / exchange.evidence if out_dir else exchange.evidence}")
    return lines


def format_record(record: TestRecord, out_dir: Path | None = None) -> str:
    """A failed or errored case as text: the step, expected against seen, findings, and each exchange with the
    start of the response body and the path of its raw evidence file (under out_dir when given)."""
    lines = [f"{record.id} {record.title!r}: {record.verdict.upper()}", f"  {record.file}"]
    for step in record.steps:
        if step.verdict not in (FAILED, ERROR):
            continue
        lines.append(f"  step {step.index} {step.name!r} (line {step.line}): {step.verdict}")
        for mismatch in step.mismatches:
            lines.append(f"    {mismatch['path']}: expected {mismatch['expected']}, saw {mismatch['seen']}")
        for finding in step.findings:
            lines.append(f"    {finding.kind}: line {finding.line} {finding.path or ''}: {finding.message}")
        if not step.mismatches and not step.findings:
            lines.append(f"    {step.message}")
        for number, exchange in enumerate(step.exchanges, start=1):
            # The body of the last exchange is the one the step was judged on (paging stops at a bad page).
            lines += _exchange_lines(exchange, out_dir, excerpt=number == len(step.exchanges))
    if not any(s.verdict in (FAILED, ERROR) for s in record.steps):
        lines.append(f"  {record.reason}")
    return "\n".join(lines)


def _quiet(message: str) -> None:
    """No terminal to write to (an xdist worker, or pytest's terminal plugin switched off)."""


def progress_writer(config: pytest.Config, mask: Callable[[str], str] = str) -> Callable[[str], None]:
    """A RunContext.progress callback writing each line to pytest's terminal, through output capturing.

    Quiet on an xdist worker: the controller owns the terminal. mask hides the run's secrets (harness.redact).
    """
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or hasattr(config, "workerinput"):
        return _quiet
    capture = config.pluginmanager.get_plugin("capturemanager")

    def write(message: str) -> None:
        # Captured output would show only after the case, which is what a hanging DUT must not do.
        if capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(mask(message))
        else:
            reporter.write_line(mask(message))

    return write


def show_title(config: pytest.Config, title: str) -> None:
    """Under -v, follow the case's id on its line with its title (pytest has just written the id)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    # Under xdist the controller writes a whole line per result instead; the id alone is shown there.
    if reporter is None or reporter.verbosity <= 0 or _distributed(config):
        return
    reporter.write(f"{title} ")


def _distributed(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "numprocesses", None) or getattr(config.option, "dist", "no") != "no"
                or hasattr(config, "workerinput"))

