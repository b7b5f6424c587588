"""The step loop: run one loaded case against a server DUT through a transport, produce a TestRecord."""

from __future__ import annotations

import dataclasses
import time
import traceback
from typing import Any

from harness.cases.matchers import Mismatch
from harness.cases.model import Case, Step
from harness.cases.paths import PathError, lookup
from harness.cases.requires import unmet
from harness.cases.variables import VariableError, substitute
from harness.engine.checks import check_response
from harness.engine.context import RunContext
from harness.results import (
    ACTION_DONE,
    ERROR,
    FAILED,
    NOT_APPLICABLE,
    NOT_RUN,
    PASSED,
    WAIVED,
    ExchangeRecord,
    FindingRecord,
    StepRecord,
    TestRecord,
    body_evidence,
)
from harness.sep import MEDIA_TYPE_XML
from harness.transport.base import TOO_LARGE, Exchange, Request

_MAX_MISMATCHES_IN_MESSAGE = 5


def not_applicable_reason(case: Case, ctx: RunContext) -> str | None:
    """Why the case does not apply to this DUT, or None when it does."""
    if case.role != ctx.profile.role:
        return f"case is for {case.role} DUTs; the DUT profile declares role {ctx.profile.role}"
    missing = unmet(list(case.requires), ctx.profile.capabilities)
    if missing:
        return "the DUT profile does not declare: " + "; ".join(missing)
    return None


def _exchange_record(exchange: Exchange) -> ExchangeRecord:
    request, response = exchange.request, exchange.response
    return ExchangeRecord(
        method=request.method,
        url=request.url,
        request_headers=list(exchange.sent_headers if exchange.sent_headers is not None else request.headers),
        request_body=body_evidence(request.body),
        started=exchange.started,
        elapsed_s=round(exchange.elapsed, 6),
        status=response.status if response else None,
        response_headers=list(response.headers) if response else [],
        response_body=body_evidence(response.body) if response else None,
        tls=exchange.tls,
        error=exchange.error,
        error_kind=exchange.error_kind,
        transport=exchange.transport,
    )


def _build_request(step: Step, variables: dict[str, Any], ctx: RunContext) -> Request:
    spec = step.request
    assert spec is not None, "an action step has no request"
    target = substitute(spec.url, variables) if spec.url else None
    if target is None:
        path = str(substitute(spec.path or "", variables))
        target = path if path.startswith(("http://", "https://")) else ctx.base_url.rstrip("/") + path
    headers = {"Accept": MEDIA_TYPE_XML}
    body = b""
    if spec.body is not None:
        body = str(substitute(spec.body, variables)).encode("utf-8")
        headers["Content-Type"] = MEDIA_TYPE_XML
    for name, value in spec.headers.items():
        headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
        headers[name] = str(substitute(value, variables))
    return Request(method=spec.method, url=str(target), headers=list(headers.items()), body=body, timeout=spec.timeout)


def _describe(step: Step, problems: list[Any]) -> str:
    shown = [str(p) for p in problems[:_MAX_MISMATCHES_IN_MESSAGE]]
    more = len(problems) - len(shown)
    tail = f" (and {more} more)" if more > 0 else ""
    return f"step {step.index} {step.name!r}: " + "; ".join(shown) + tail


def _finding(f: Any) -> FindingRecord:
    return FindingRecord(message=f.message, line=f.line, path=f.path, kind=f.kind, severity=f.severity)


async def _action_step(step: Step, ctx: RunContext, variables: dict[str, Any], record: StepRecord) -> StepRecord:
    assert step.action is not None and ctx.actions is not None
    action = await ctx.actions.carry_out(step.action, variables)
    record.actions.append(action)
    record.duration_s = action.duration_s
    record.expected = {"action": step.action.name, "params": action.params}
    record.observed = {"outcome": action.outcome, "detail": action.detail}
    if action.outcome != ACTION_DONE:
        record.verdict = ERROR
        record.message = (f"step {step.index} {step.name!r}: action {step.action.name!r} failed through "
                          f"{action.mapping}: {action.detail}")
    return record


async def run_step(step: Step, ctx: RunContext, variables: dict[str, Any]) -> StepRecord:
    """Execute one step: substitute, send, check, save. Never raises for what the DUT does."""
    record = StepRecord(index=step.index, name=step.name, verdict=PASSED, ref=step.ref, line=step.line)
    missing = unmet(list(step.requires), ctx.profile.capabilities)
    if missing:
        record.verdict = NOT_APPLICABLE
        record.message = "the DUT profile does not declare: " + "; ".join(missing)
        return record
    if step.action is not None:
        return await _action_step(step, ctx, variables, record)
    clock = time.perf_counter()
    try:
        request = _build_request(step, variables, ctx)
        # replace(), not asdict(): asdict deep-copies the whole expectation on every exchange.
        expect = dataclasses.replace(step.expect, **substitute(
            {"headers": step.expect.headers, "resource": step.expect.resource}, variables))
    except VariableError as exc:
        # A reference into something the DUT returned earlier (a list too short, say) is the DUT's doing.
        record.verdict = FAILED
        record.message = f"step {step.index} {step.name!r}: {exc}"
        return record
    shown = {f.name: getattr(expect, f.name) for f in dataclasses.fields(expect)}
    record.expected = {k: v for k, v in shown.items() if v not in (None, (), {})}
    exchange = await ctx.transport.exchange(request)
    record.exchanges.append(_exchange_record(exchange))
    record.duration_s = round(time.perf_counter() - clock, 6)
    if exchange.error or exchange.response is None:
        record.verdict = FAILED if exchange.error_kind == TOO_LARGE else ERROR
        record.message = f"step {step.index} {step.name!r}: {request.method} {request.url}: {exchange.error}"
        return record
    check = check_response(
        expect,
        exchange.response,
        ctx.schema,
        needs_view=bool(step.save),
        max_body=ctx.profile.max_body,
    )
    record.findings = [_finding(f) for f in check.findings]
    record.observed = {
        "status": exchange.response.status,
        "content_type": exchange.response.header("content-type"),
        "resource": check.view,
    }
    problems: list[Any] = list(check.mismatches)
    problems += [Mismatch(f"schema {f.path or ''} line {f.line}".strip(), "a valid resource", f.message)
                 for f in check.findings]
    if not problems:
        for name, path in step.save.items():
            try:
                record.saved[name] = lookup(check.view, str(substitute(path, variables)))
            except (PathError, VariableError) as exc:
                problems.append(Mismatch(f"save {name}", f"a value at {path}", str(exc)))
        for name, header in step.save_headers.items():
            value = exchange.response.header(header)
            if value is None:
                problems.append(Mismatch(f"save {name}", f"a {header} header", "absent"))
            record.saved[name] = value
    record.mismatches = [{"path": m.path, "expected": m.expected, "seen": m.seen} for m in check.mismatches]
    if problems:
        record.verdict = FAILED
        record.message = _describe(step, problems)
    return record


async def _set_up(case: Case, ctx: RunContext, variables: dict[str, Any], record: TestRecord) -> bool:
    """Carry out the case's setup actions; False (with the verdict set) when the steps must not run."""
    needed = [*case.setup, *(step.action for step in case.steps if step.action is not None)]
    if not needed:
        return True
    unmapped = ctx.actions.unmapped(needed) if ctx.actions else sorted({c.name for c in needed})
    if unmapped:
        record.verdict = NOT_APPLICABLE
        record.reason = ("the DUT profile maps no way to carry out the setup action"
                         f"{'s' if len(unmapped) > 1 else ''} {', '.join(map(repr, unmapped))} "
                         "(add it under 'actions:' in the profile)")
        if ctx.actions:
            record.actions = [ctx.actions.unmapped_record(c) for c in needed if c.name in unmapped]
        return False
    assert ctx.actions is not None
    for call in case.setup:
        variables["now"] = int(time.time())
        action = await ctx.actions.carry_out(call, variables)
        record.actions.append(action)
        if action.outcome != ACTION_DONE:
            record.verdict = ERROR
            record.reason = f"setup action {call.name!r} failed through {action.mapping}: {action.detail}"
            record.steps = [StepRecord(index=s.index, name=s.name, verdict=NOT_RUN, ref=s.ref, line=s.line,
                                       message="not run: the case's setup did not complete") for s in case.steps]
            return False
    return True


async def run_case(case: Case, ctx: RunContext) -> TestRecord:
    """Run every step of a case in order, stopping at the first failure or error."""
    record = TestRecord(
        id=case.id,
        title=case.title,
        role=case.role,
        verdict=PASSED,
        file=str(case.file),
        case_sha256=case.sha256,
        case_version=case.version,
        procedure=dict(case.procedure),
        function_sets=list(case.function_sets),
        requirements=list(case.requirements),
        started=time.time(),
    )
    clock = time.perf_counter()
    reason = not_applicable_reason(case, ctx)
    if reason:
        record.verdict, record.reason = NOT_APPLICABLE, reason
        return record
    variables: dict[str, Any] = {**ctx.builtins, **case.variables}
    waivers = {w.step: w for w in ctx.profile.waivers if w.case == case.id}
    try:
        if not await _set_up(case, ctx, variables, record):
            record.duration_s = round(time.perf_counter() - clock, 6)
            return record
        for step in case.steps:
            if record.verdict in (FAILED, ERROR):
                record.steps.append(StepRecord(index=step.index, name=step.name, verdict=NOT_RUN, ref=step.ref,
                                               line=step.line, message="not run: an earlier step did not pass"))
                continue
            variables["now"] = int(time.time())
            step_record = await run_step(step, ctx, variables)
            record.steps.append(step_record)
            record.actions.extend(step_record.actions)
            variables.update(step_record.saved)
            waiver = waivers.get(step.index)
            if step_record.verdict == FAILED and waiver:
                # A waived check is shown, never hidden: the step keeps its failure message, the test the reason.
                step_record.verdict = WAIVED
                record.waivers.append({"step": step.index, "reason": waiver.reason, "by": waiver.by})
            elif step_record.verdict in (FAILED, ERROR):
                record.verdict, record.reason = step_record.verdict, step_record.message
    except Exception as exc:  # a harness bug must still leave a complete, honest record
        record.verdict = ERROR
        record.reason = f"harness error: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
    record.duration_s = round(time.perf_counter() - clock, 6)
    return record
