"""Run-to-run comparison of two results.json: what a firmware build changed, per CSIP procedure.

`csip-harness diff OLD NEW` (harness.cli) prints it and exits 1 when anything regressed, so that CI can gate a
build on "no new failures" as well as on "no failures". A regression is a procedure whose verdict is now
failed or error and was not that before (a procedure that newly fails, a pass that now errors, a case new in
this run that fails). Fixes, procedures newly not applicable, procedures run or no longer run, changed
findings and a changed DUT identity are listed, never a regression on their own.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

# When one procedure has several tests, the comparison uses the verdict that matters most (as the coverage does).
_SEVERITY = {"error": 5, "failed": 4, "passed": 3, "not_applicable": 2, "skipped": 1}
_BAD = frozenset({"failed", "error"})
_NOT_APPLICABLE = frozenset({"not_applicable", "skipped"})
# What identifies the DUT build, in the order a reader looks for it.
_IDENTITY_KEYS = ("swVer", "mfHwVer", "mfModel", "mfSerNum", "mfID", "mfInfo", "lFDI")


@dataclass(frozen=True)
class VerdictChange:
    """One procedure whose verdict differs: old and new verdict (None: not in that run) and the new reason."""

    procedure: str
    old: str | None
    new: str | None
    reason: str

    @property
    def kind(self) -> str:
        """regression, fixed, not applicable now, new, removed or changed."""
        if self.new in _BAD and self.old != self.new:
            return "regression"
        if self.new is None:
            return "no longer run"
        if self.old is None:
            return "newly run"
        if self.old in _BAD and self.new == "passed":
            return "fixed"
        if self.new in _NOT_APPLICABLE:
            return "newly not applicable"
        return "changed"


@dataclass(frozen=True)
class FindingChange:
    """A finding present in one run only: the procedure, its step, and the finding as shown."""

    procedure: str
    step: int | None
    change: str  # "new" or "gone"
    severity: str
    text: str


@dataclass
class Comparison:
    """Everything that differs between two runs, in procedure order."""

    old_label: str
    new_label: str
    verdicts: list[VerdictChange] = field(default_factory=list)
    findings: list[FindingChange] = field(default_factory=list)
    identity: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    unchanged: int = 0

    @property
    def regressions(self) -> list[VerdictChange]:
        """The procedures that regressed (the exit status of `csip-harness diff` is 1 when there is one)."""
        return [change for change in self.verdicts if change.kind == "regression"]


def _by_procedure(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    chosen: dict[str, dict[str, Any]] = {}
    for test in document.get("tests") or ():
        current = chosen.get(test["id"])
        if current is None or _SEVERITY.get(test["verdict"], 0) > _SEVERITY.get(current["verdict"], 0):
            chosen[test["id"]] = test
    return chosen


def _findings(test: dict[str, Any] | None) -> dict[tuple[Any, ...], tuple[int | None, str, str]]:
    """A test's findings keyed by what stays the same from run to run (step, kind, path, severity).

    The message is shown, not compared: it may carry the run's own times and addresses.
    """
    found: dict[tuple[Any, ...], tuple[int | None, str, str]] = {}
    for step in (test or {}).get("steps") or ():
        for finding in step.get("findings") or ():
            key = (step.get("index"), finding.get("kind"), finding.get("path"), finding.get("severity"),
                   finding.get("message") if not finding.get("path") else None)
            found.setdefault(key, (step.get("index"), str(finding.get("severity") or ""),
                                   str(finding.get("message") or "")))
    return found


def _identity(document: dict[str, Any]) -> dict[str, str]:
    dut = (document.get("run") or {}).get("dut") or {}
    info = dut.get("device_information") or {}
    values = {f"DeviceInformation {key}": str(info[key]) for key in _IDENTITY_KEYS if key in info}
    if dut.get("certificate_sha256"):
        values["certificate SHA-256"] = str(dut["certificate_sha256"])
    for key, value in (dut.get("declared") or {}).items():
        values[f"declared {key}"] = str(value)
    return values


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def compare(old: dict[str, Any], new: dict[str, Any], old_label: str = "old", new_label: str = "new") -> Comparison:
    """The differences between two results documents (harness.report.document.load_results)."""
    result = Comparison(old_label, new_label)
    before, after = _by_procedure(old), _by_procedure(new)
    order = list(after) + [procedure for procedure in before if procedure not in after]
    for procedure in order:
        was, now = before.get(procedure), after.get(procedure)
        old_verdict = was["verdict"] if was else None
        new_verdict = now["verdict"] if now else None
        if old_verdict != new_verdict:
            result.verdicts.append(VerdictChange(procedure, old_verdict, new_verdict,
                                                 _first_line(now.get("reason", "")) if now else ""))
        else:
            result.unchanged += 1
        old_findings, new_findings = _findings(was), _findings(now)
        for key in new_findings.keys() - old_findings.keys():
            step, severity, text = new_findings[key]
            result.findings.append(FindingChange(procedure, step, "new", severity, text))
        for key in old_findings.keys() - new_findings.keys():
            step, severity, text = old_findings[key]
            result.findings.append(FindingChange(procedure, step, "gone", severity, text))
    old_identity, new_identity = _identity(old), _identity(new)
    for key in dict.fromkeys([*old_identity, *new_identity]):
        if old_identity.get(key) != new_identity.get(key):
            result.identity.append((key, old_identity.get(key), new_identity.get(key)))
    return result


def _verdict(value: str | None) -> str:
    return value.replace("_", " ") if value else "not run"


def as_text(comparison: Comparison) -> str:
    """The comparison for a terminal: a headline, then one line per change."""
    lines = [headline(comparison)]
    for change in comparison.verdicts:
        reason = f": {change.reason}" if change.reason and change.new in _BAD else ""
        lines.append(f"  {change.kind.upper():<21} {change.procedure:<12} {_verdict(change.old)} -> "
                     f"{_verdict(change.new)}{reason}")
    for finding in comparison.findings:
        step = f" step {finding.step}" if finding.step is not None else ""
        lines.append(f"  finding {finding.change:<4} {finding.procedure}{step} ({finding.severity}): {finding.text}")
    for key, was, now in comparison.identity:
        lines.append(f"  DUT identity: {key}: {was or '(none)'} -> {now or '(none)'}")
    return "\n".join(lines) + "\n"


def headline(comparison: Comparison) -> str:
    """One line: regressed or not, and how many procedures changed."""
    regressions = comparison.regressions
    fixed = sum(1 for change in comparison.verdicts if change.kind == "fixed")
    if regressions:
        start = (f"REGRESSED: {len(regressions)} procedure(s) newly failed or in error "
                 f"({', '.join(change.procedure for change in regressions)})")
    else:
        start = "No regression"
    return (f"{start}; {fixed} fixed, {len(comparison.verdicts)} verdict change(s), {len(comparison.findings)} "
            f"finding change(s), {comparison.unchanged} procedure(s) unchanged "
            f"({comparison.old_label} -> {comparison.new_label})")


def as_markdown(comparison: Comparison) -> str:
    """The short form for a pull-request comment (GitHub-flavoured markdown)."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    parts = [f"**{cell(headline(comparison))}**", ""]
    if comparison.verdicts:
        parts += ["| Procedure | Change | Before | After | Reason |", "|---|---|---|---|---|"]
        parts += [f"| {cell(c.procedure)} | {c.kind} | {_verdict(c.old)} | {_verdict(c.new)} | {cell(c.reason)} |"
                  for c in comparison.verdicts]
        parts.append("")
    if comparison.findings:
        parts += ["| Procedure | Step | Finding | Severity | Text |", "|---|---|---|---|---|"]
        parts += [f"| {cell(f.procedure)} | {f.step if f.step is not None else ''} | {f.change} | {f.severity} | "
                  f"{cell(f.text)} |" for f in comparison.findings]
        parts.append("")
    if comparison.identity:
        parts += ["| DUT identity | Before | After |", "|---|---|---|"]
        parts += [f"| {cell(k)} | {cell(a or '(none)')} | {cell(b or '(none)')} |" for k, a, b in comparison.identity]
        parts.append("")
    return "\n".join(parts)


def as_html(comparison: Comparison) -> str:
    """The same short form as an HTML fragment (tables, no script, no style sheet)."""
    e = html.escape
    parts = [f"<p><strong>{e(headline(comparison))}</strong></p>"]
    if comparison.verdicts:
        parts.append("<table><thead><tr><th>Procedure</th><th>Change</th><th>Before</th><th>After</th>"
                     "<th>Reason</th></tr></thead><tbody>")
        parts += [f"<tr><td>{e(c.procedure)}</td><td>{e(c.kind)}</td><td>{e(_verdict(c.old))}</td>"
                  f"<td>{e(_verdict(c.new))}</td><td>{e(c.reason)}</td></tr>" for c in comparison.verdicts]
        parts.append("</tbody></table>")
    if comparison.findings:
        parts.append("<table><thead><tr><th>Procedure</th><th>Step</th><th>Finding</th><th>Severity</th>"
                     "<th>Text</th></tr></thead><tbody>")
        parts += [f"<tr><td>{e(f.procedure)}</td><td>{'' if f.step is None else f.step}</td><td>{e(f.change)}</td>"
                  f"<td>{e(f.severity)}</td><td>{e(f.text)}</td></tr>" for f in comparison.findings]
        parts.append("</tbody></table>")
    if comparison.identity:
        parts.append("<table><thead><tr><th>DUT identity</th><th>Before</th><th>After</th></tr></thead><tbody>")
        parts += [f"<tr><td>{e(k)}</td><td>{e(a or '(none)')}</td><td>{e(b or '(none)')}</td></tr>"
                  for k, a, b in comparison.identity]
        parts.append("</tbody></table>")
    return "\n".join(parts) + "\n"
