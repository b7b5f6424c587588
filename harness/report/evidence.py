"""Raw exchanges as evidence files: DIR/exchanges/<test-id>/<step>-<n>.http, request and response with times."""

from __future__ import annotations

import base64
import datetime as dt
import re
import shutil
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.report.files import write_atomically
from harness.transport.base import FOREIGN_HOST

EXCHANGES_DIR = "exchanges"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# The harness always sends HTTP/1.1 (httpx over h11, no HTTP/2 negotiation), so the request line can say so;
# the status line says what the DUT answered with, as recorded in the exchange's http_version.
_REQUEST_VERSION = "HTTP/1.1"
_UNRECORDED_VERSION = "HTTP/?"


def _stamp(epoch: float) -> str:
    return f"{dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec='microseconds')} ({epoch:.6f})"


def _body_text(body: dict[str, Any] | None) -> str:
    if not body or not body.get("length"):
        return ""
    note = f"\n[body truncated: {body['length']} bytes sent, the first part kept]" if body.get("truncated") else ""
    if "text" in body:
        return body["text"] + note
    return f"[body is not UTF-8; base64 of its bytes follows]\n{body.get('base64', '')}{note}"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _request_target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def exchange_text(test_id: str, step_index: int, number: int, exchange: dict[str, Any]) -> str:
    """One exchange as raw HTTP text with timestamps, the way a lab archives it."""
    started = float(exchange.get("started") or 0.0)
    elapsed = float(exchange.get("elapsed_s") or 0.0)
    # A request refused before any connection (an origin nobody named) is evidence of what was not sent.
    not_sent = exchange.get("error_kind") == FOREIGN_HOST
    lines = [
        f"# csip-harness exchange: test {test_id}, step {step_index}, exchange {number}",
        f"# url: {exchange.get('url')}",
        f"# request NOT sent (refused before connecting), at: {_stamp(started)}" if not_sent
        else f"# request sent: {_stamp(started)}",
    ]
    tls = exchange.get("tls")
    if tls:
        session = {key: value for key, value in tls.items() if key != "certificate_chain"}
        lines.append("# tls: " + ", ".join(f"{key}={value}" for key, value in session.items()))
        for depth, cert in enumerate(tls.get("certificate_chain") or ()):
            lines.append(f"# tls certificate {depth}: subject {cert.get('subject')}; issuer {cert.get('issuer')}; "
                         f"valid {cert.get('not_before')} to {cert.get('not_after')}; {cert.get('key')}; "
                         f"sha256 {cert.get('sha256')}")
    lines.append(f"{exchange.get('method')} {_request_target(str(exchange.get('url', '')))} {_REQUEST_VERSION}")
    lines += [f"{name}: {value}" for name, value in exchange.get("request_headers", ())]
    lines += ["", _body_text(exchange.get("request_body")), ""]
    if not not_sent:
        lines.append(f"# response received: {_stamp(started + elapsed)} ({elapsed * 1000:.1f} ms after the request)")
    if exchange.get("error"):
        lines.append(f"# transport {exchange.get('error_kind') or 'error'}: {exchange['error']}")
    if exchange.get("status") is not None:
        version = exchange.get("http_version")
        if not version:
            lines.append("# the response's HTTP version was not recorded")
        status_line = f"{version or _UNRECORDED_VERSION} {exchange['status']} {_reason(int(exchange['status']))}"
        lines.append(status_line.rstrip())
        lines += [f"{name}: {value}" for name, value in exchange.get("response_headers", ())]
        lines += ["", _body_text(exchange.get("response_body"))]
    return "\n".join(lines) + "\n"


class EvidenceWriter:
    """Writes each test's exchanges under DIR/exchanges/ and notes each file's path in the exchange record."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._used: set[str] = set()
        # A directory reused from an earlier run must not mix that run's evidence into this one.
        shutil.rmtree(out_dir / EXCHANGES_DIR, ignore_errors=True)

    def _test_dir(self, test_id: str) -> str:
        base = _UNSAFE.sub("_", test_id) or "test"
        name, n = base, 1
        while name in self._used:  # the same id twice in one run (a repeated or reloaded case)
            n += 1
            name = f"{base}-{n}"
        self._used.add(name)
        return name

    def write(self, test: dict[str, Any]) -> None:
        """Write the raw exchanges of one test record (a dict) and set exchange['evidence'] to each path."""
        steps = [step for step in test.get("steps", ()) if step.get("exchanges")]
        if not steps:
            return
        folder = f"{EXCHANGES_DIR}/{self._test_dir(str(test.get('id', 'test')))}"
        for step in steps:
            for number, exchange in enumerate(step["exchanges"], start=1):
                # A probed connection's packet trace (results-reporting RPT-060) beside its exchange file.
                trace = (exchange.get("tls") or {}).pop("trace_pcap_base64", None)
                if trace:
                    exchange["trace"] = f"{folder}/{step['index']}-{number}.pcap"
                    write_atomically(self.out_dir / exchange["trace"], base64.b64decode(trace))
                relative = f"{folder}/{step['index']}-{number}.http"
                write_atomically(self.out_dir / relative, exchange_text(test["id"], step["index"], number, exchange))
                exchange["evidence"] = relative
