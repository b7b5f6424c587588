"""What the HTML report shows, computed from a results document: summaries, coverage and per-test evidence."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any, overload

from markupsafe import Markup

from harness.report.certification import (
    MATRIX_COLUMN,
    conclusions,
    coverage_split,
    deviations,
    equipment_rows,
    identity_rows,
    lab_rows,
    report_number,
    requirement_view,
)
from harness.report.coverage import NOT_RUN, coverage, family
from harness.report.pretty import pretty_body, pretty_value
from harness.report.sequence import sequence_svg
from harness.report.timeline import timeline_svg
from harness.results import VERDICTS

# Steps whose expected/observed resources are shown in full; a passed step shows its exchanges only,
# which keeps a 1,000-test report small.
_DETAILED_STEPS = frozenset({"failed", "error", "waived"})


def _counts(tests: list[dict[str, Any]], key: Any) -> list[dict[str, Any]]:
    """Verdict counts per group, groups in first-seen order."""
    groups: dict[str, Counter[str]] = {}
    for test in tests:
        for name in key(test):
            groups.setdefault(name, Counter())[test["verdict"]] += 1
    return [{"name": name, "counts": counts, "total": sum(counts.values())} for name, counts in groups.items()]


def _time(epoch: Any) -> str:
    if not epoch:
        return ""
    return dt.datetime.fromtimestamp(float(epoch), dt.UTC).isoformat(timespec="milliseconds")


def _headers(headers: list[Any]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in headers)


def pre_text(text: str) -> Markup:
    """Text for a <pre> element: only &, < and > need escaping there, and bodies are full of quotes
    that the general escape would triple in size."""
    return Markup(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def _message(first_line: str, headers: list[Any], body: str) -> Markup:
    parts = [first_line, _headers(headers)] if headers else [first_line]
    text = "\n".join(parts) + (f"\n\n{body}" if body else "")
    return pre_text(text)


def exchange_view(exchange: dict[str, Any]) -> dict[str, Any]:
    """One exchange ready for the template: times, and request and response as HTTP-like text."""
    status = exchange.get("status")
    if status is None:
        response = f"no response: {exchange.get('error_kind') or 'error'}: {exchange.get('error')}"
        response_text = pre_text(response)
    else:
        # The status line as the DUT sent it: its HTTP version (when the results recorded it) and code.
        status_line = f"{exchange['http_version']} {status}" if exchange.get("http_version") else str(status)
        response_text = _message(status_line, exchange.get("response_headers", ()),
                                 pretty_body(exchange.get("response_body")))
        if exchange.get("error"):
            response_text += pre_text(f"\n\n{exchange.get('error_kind') or 'error'}: {exchange['error']}")
    return {
        "method": exchange.get("method"),
        "url": exchange.get("url"),
        "status": status,
        "http_version": exchange.get("http_version"),
        "error_kind": exchange.get("error_kind"),
        "started": _time(exchange.get("started")),
        "elapsed_ms": float(exchange.get("elapsed_s") or 0) * 1000,
        "request": _message(f"{exchange.get('method')} {exchange.get('url')}", exchange.get("request_headers", ()),
                            pretty_body(exchange.get("request_body"))),
        "response": response_text,
        "evidence": exchange.get("evidence"),
        "trace": exchange.get("trace"),
    }


class ExchangeViews(Sequence[dict[str, Any]]):
    """A step's exchanges as exchange_view()s, made as the template reads them and not kept.

    The views hold each body again, indented and escaped: made for every step of a whole-catalogue report at
    once they were as large as the results document itself, where the template needs one at a time.
    """

    def __init__(self, exchanges: Sequence[dict[str, Any]]) -> None:
        self._exchanges = exchanges

    def __len__(self) -> int:
        return len(self._exchanges)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [exchange_view(exchange) for exchange in self._exchanges[index]]
        return exchange_view(self._exchanges[index])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (exchange_view(exchange) for exchange in self._exchanges)


def _tls_summary(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The distinct TLS sessions a test saw (version, cipher, peer certificate and its chain)."""
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for step in steps:
        for exchange in step.get("exchanges", ()):
            tls = exchange.get("tls")
            if tls:
                chain = tuple(c.get("sha256") for c in tls.get("certificate_chain") or ())
                key = (tls.get("version"), tls.get("cipher"), tls.get("peer_certificate_sha256"), chain)
                seen.setdefault(key, tls)
    return list(seen.values())


def step_view(step: dict[str, Any], waived: dict[int, str]) -> dict[str, Any]:
    """One step ready for the template; waived steps carry their waiver's reason."""
    detailed = step.get("verdict") in _DETAILED_STEPS
    return {
        "index": step.get("index"),
        "name": step.get("name"),
        "verdict": step.get("verdict"),
        "message": step.get("message", ""),
        "ref": step.get("ref"),
        "line": step.get("line"),
        "duration_ms": float(step.get("duration_s") or 0) * 1000,
        "waiver": waived.get(step.get("index", -1)),
        "mismatches": step.get("mismatches", ()),
        "findings": step.get("findings", ()),
        "expected": pre_text(pretty_value(step["expected"])) if detailed and step.get("expected") else "",
        "observed": pre_text(pretty_value(step["observed"])) if detailed and step.get("observed") else "",
        "exchanges": ExchangeViews(step.get("exchanges") or ()),
        "actions": step.get("actions") or (),
    }


def test_view(test: dict[str, Any], dut_role: str) -> dict[str, Any]:
    """One test ready for the template."""
    waived = {int(w["step"]): str(w.get("reason", "")) for w in test.get("waivers") or () if "step" in w}
    steps = test.get("steps", ())
    procedure = test.get("procedure") or {}
    step_views = [step_view(step, waived) for step in steps]
    return {
        "id": test["id"],
        # Shown in full in the printed report (the PDF): what a lab must read there; report.html shows every test.
        "detailed": test["verdict"] in ("failed", "error") or any(
            s["verdict"] == "waived" or s["findings"] for s in step_views),
        "anchor": "t" + "".join(c if c.isalnum() or c in "-_" else "_" for c in test["id"]),
        "title": test.get("title", ""),
        "verdict": test["verdict"],
        "reason": test.get("reason", ""),
        "procedure": " ".join(str(procedure[k]) for k in ("doc", "version", "section") if procedure.get(k)),
        "function_sets": test.get("function_sets", ()),
        "requirements": test.get("requirements", ()),
        "case_version": test.get("case_version"),
        "case_sha256": test.get("case_sha256"),
        "file": test.get("file"),
        "started": _time(test.get("started")),
        "duration_s": float(test.get("duration_s") or 0),
        "steps": step_views,
        "waivers": test.get("waivers") or (),
        "actions": test.get("actions") or (),
        "tls": _tls_summary(steps),
        "sequence": sequence_svg(steps, dut_role),
        "timeline": timeline_svg(test.get("timeline")),  # client role (harness.report.timeline)
    }


# What each TLS verification mode (run.tls.verify) means for the DUT's identity, as the report says it.
_TLS_VERIFY = {
    "full": "the DUT's certificate chain (to the CA given) and its host name were verified",
    "chain": "the DUT's certificate chain was verified against the CA given, its host name was not "
             "(the certificate need not name the address the DUT was reached at)",
    "none": "the DUT's certificate was not verified at all; TLS did not establish which device answered",
}


def tls_verification(run: dict[str, Any]) -> dict[str, Any]:
    """The run's TLS verification mode for the report: mode, text and whether it calls for a warning."""
    mode = (run.get("tls") or {}).get("verify")
    if mode is None:
        return {"mode": None, "text": "not recorded (results written before the harness recorded it)",
                "warn": False}
    return {"mode": mode, "text": _TLS_VERIFY.get(mode, str(mode)), "warn": mode != "full"}


def build_view(document: dict[str, Any], results_sha256: str | None = None) -> dict[str, Any]:
    """Everything the report template needs, from a results document alone (and the bundled catalogue)."""
    run = document.get("run", {})
    dut = run.get("dut") or {}
    tests = document.get("tests", [])
    rows = coverage(document)
    coverage_counts = Counter(row.verdict for row in rows)
    role = str(dut.get("role") or "server")
    views = _unique_anchors([test_view(test, role) for test in tests])
    number = report_number(run)
    return {
        "document": document,
        "run": run,
        "dut": dut,
        "summary": document.get("summary", {}),
        "verdicts": VERDICTS,
        "coverage_verdicts": (*VERDICTS, NOT_RUN),
        "results_sha256": results_sha256,
        "tls_verify": tls_verification(run),
        "by_function_set": _counts(tests, lambda t: t.get("function_sets") or ["(none)"]),
        "by_family": _counts(tests, lambda t: [family(t["id"])]),
        "coverage": rows,
        "coverage_counts": coverage_counts,
        "tests": views,
        "report_number": number,
        "report_number_css": _css_string(f"Report {number}"),
        "lab_rows": lab_rows(run),
        "lab_given": bool(run.get("lab")),
        "identity_rows": identity_rows(dut),
        "identity_mismatches": dut.get("identity_mismatches") or (),
        "conclusions": conclusions(document, rows),
        "deviations": deviations(views),
        "coverage_split": coverage_split(rows),
        "matrix_column": MATRIX_COLUMN.get(role, role),
        "requirements": requirement_view(views),
        "equipment_rows": equipment_rows(run),
    }


def _css_string(text: str) -> Markup:
    """text as a quoted CSS string for the print style sheet's page margins (never able to end the <style>)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("<", "\\3C ")
    return Markup(f'"{escaped}"')


def _unique_anchors(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first test of an id keeps the plain anchor (the coverage table links to it); repeats get -2, -3."""
    seen: Counter[str] = Counter()
    for view in views:
        seen[view["anchor"]] += 1
        if seen[view["anchor"]] > 1:
            view["anchor"] = f"{view['anchor']}-{seen[view['anchor']]}"
    return views
