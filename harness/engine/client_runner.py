"""The client-role step loop: serve a case's tree on the test server, change it, judge the DUT's requests.

Beside the server-role runner (harness.engine.runner) and sharing its matching (harness.cases.matchers), body
checks (harness.engine.checks), DUT-side actions and result records. Every time here is on the test
server's timeline (TestServer.now(): our clock scaled by --time-scale, plus the tree's time_offset), which is
the DUT's clock because the test server owns /tm. A step is one of:

- await: a request the DUT must make (method, path, a `where` selector over its body) within a window
  (`within` server seconds of the step's start, `before`/`after` TimeTypes); its body is checked like a
  response (`expect`: schema, resource; `should`: warnings only); `save`/`save_request` keep what it showed.
- act: change the served tree (add a resource, cancel, supersede or remove an event, set pollRate...) or
  answer the next matching requests with another status (respond).
- pause: let server time pass.  check: a judgement over the request log (poll_rate).
- forbid: requests the DUT must not make for a while.  action: a DUT-side action the profile maps.
- observe: read what the DER really does out of band (harness.engine.observing), judged with matchers.

Requests from other identities are not the DUT's and never match; requests with a certificate the run does
not know are answered 403 and named when an await misses.
"""

from __future__ import annotations

import asyncio
import re
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from harness.cases.matchers import Mismatch, judging_time_by, match
from harness.cases.model import Case, ExpectSpec, Step
from harness.cases.paths import PathError, lookup
from harness.cases.requires import unmet
from harness.cases.variables import VariableError, substitute
from harness.cases.yamlload import YamlFileError
from harness.engine.checks import advisories, check_response
from harness.engine.context import RunContext
from harness.engine.observing import UNMAPPED_PREFIX, ObserveProblem, observe_step
from harness.engine.rating_checks import judge_bound, judge_mode_needs
from harness.results import (
    ACTION_DONE,
    ERROR,
    FAILED,
    NOT_APPLICABLE,
    NOT_RUN,
    PASSED,
    ExchangeRecord,
    FindingRecord,
    StepRecord,
    TestRecord,
    body_evidence,
)
from harness.sep.findings import FAILURE
from harness.sep.safexml import XMLRejected, local_name, parse_xml
from harness.sep.view import resource_view
from harness.server.testserver import UNKNOWN_CLIENT, LoggedRequest, TestServer
from harness.server.tree import CANCELLED, SUPERSEDED, ServedTree, TreeError
from harness.transport.base import Response
from harness.transport.nats_run import CLIENT_HTTP_TLS_CASES

DEFAULT_WITHIN_S = 300.0
DEFAULT_POLL_TOLERANCE = 0.25
_MAX_SHOWN = 5


class _Problem(Exception):
    def __init__(self, verdict: str, message: str) -> None:
        super().__init__(message)
        self.verdict = verdict


@dataclass
class ClientState:
    """What a client-role case keeps between its steps: the log positions and the timeline's marks."""

    case_seq: int
    cursor: int
    started_at: float
    acts: list[dict[str, Any]] = field(default_factory=list)
    awaited: list[dict[str, Any]] = field(default_factory=list)


def _sub(value: Any, variables: dict[str, Any]) -> Any:
    try:
        return substitute(value, variables)
    except VariableError as exc:
        raise _Problem(ERROR if exc.unknown else FAILED, str(exc)) from None


def _time_value(value: Any, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _Problem(ERROR, f"{what}: expected a TimeType (seconds), saw {value!r}") from None


def logged_exchange(entry: LoggedRequest, server: TestServer) -> ExchangeRecord:
    """A logged request as the evidence of one exchange (the DUT's request, the test server's answer); over NATS
    the URL is on the NATS server and the transport names the mapping (nats, nats-interstore)."""
    over_nats = entry.identity_source in ("subject", "envelope") and getattr(server, "nats_url", None)
    base = server.nats_url if over_nats else f"{server.scheme}://127.0.0.1"
    return ExchangeRecord(
        method=entry.method, url=f"{base}{entry.target}" if entry.target.startswith("/")
        else entry.target, request_headers=list(entry.headers), request_body=body_evidence(entry.body),
        started=entry.wall, elapsed_s=0.0, status=entry.status, response_headers=list(entry.response_headers),
        response_body=body_evidence(entry.response_body),
        http_version="NATS/1.0" if over_nats and entry.identity_source == "subject" else "HTTP/1.1",
        transport=("nats" if entry.identity_source == "subject" else "nats-interstore") if over_nats else "http")


def _view(entry: LoggedRequest, ctx: RunContext) -> dict[str, Any] | None:
    cached = getattr(entry, "_view", False)
    if cached is not False:
        return cached
    view = None
    if entry.body:
        try:
            view = resource_view(parse_xml(entry.body), ctx.schema.list_shape())
        except XMLRejected:
            view = None
    entry._view = view  # type: ignore[attr-defined]
    return view


def _is_dut(entry: LoggedRequest, ctx: RunContext) -> bool:
    return entry.client == ctx.builtins.get("device", {}).get("name", "client")


def _matches(entry: LoggedRequest, spec: dict[str, Any], ctx: RunContext) -> bool:
    """Whether a logged request is the one spec describes: the DUT's, method, path, and the where selector."""
    if not _is_dut(entry, ctx) or entry.method != spec["method"]:
        return False
    if "path" in spec and entry.path != spec["path"]:
        return False
    if "path_regex" in spec and not re.fullmatch(spec["path_regex"], entry.path):
        return False
    if "where" in spec:
        view = _view(entry, ctx)
        return view is not None and not match(spec["where"], view)
    return True


def _describe_request(spec: dict[str, Any]) -> str:
    what = f"{spec['method']} {spec.get('path') or '/' + spec.get('path_regex', '') + '/'}"
    return what + (f" whose body matches {spec['where']}" if "where" in spec else "")


def _seen(entries: list[LoggedRequest], ctx: RunContext) -> str:
    mine = [e for e in entries if _is_dut(e, ctx)]
    shown = "; ".join(e.summary() for e in mine[-_MAX_SHOWN:]) or "no request from the DUT"
    unknown = [e for e in entries if e.client == UNKNOWN_CLIENT]
    if unknown:
        shown += (f"; {len(unknown)} request(s) with a certificate this run does not know (LFDI "
                  f"{unknown[-1].lfdi or 'none'}) were answered 403")
    return shown


def _check_body(step: Step, entry: LoggedRequest, spec: dict[str, Any], ctx: RunContext,
                record: StepRecord) -> list[Any]:
    expect_raw = spec.get("expect") or {}
    expect = ExpectSpec(schema=expect_raw.get("schema"), resource=expect_raw.get("resource"),
                        content_type=expect_raw.get("content_type"))
    response = Response(status=200, headers=list(entry.headers), body=entry.body)
    check = check_response(expect, response, ctx.schema, needs_view=bool(step.save or spec.get("should")),
                           max_body=ctx.profile.max_body)
    record.findings = [FindingRecord(message=f.message, line=f.line, path=f.path, kind=f.kind, severity=f.severity)
                       for f in (*check.findings, *(f for f in entry.findings if f.kind == "check"))]
    record.observed["resource"] = check.view
    record.mismatches = [{"path": m.path, "expected": m.expected, "seen": m.seen} for m in check.mismatches]
    if spec.get("should"):
        should = spec["should"]
        for finding in advisories(ExpectSpec(resource=should.get("resource")), response, check.view):
            record.findings.append(FindingRecord(message=finding.message, line=None, path=finding.path,
                                                 kind=finding.kind, severity=finding.severity))
    problems: list[Any] = list(check.mismatches)
    for f in check.findings:
        if f.severity == FAILURE:
            problems.append(Mismatch(f"{f.kind} {f.path or ''}".strip(), "a valid 2030.5 body", f.message))
    for name, path in step.save.items():
        optional = path.endswith("?")
        try:
            record.saved[name] = lookup(check.view or {}, path.removesuffix("?"))
        except PathError as exc:
            if optional:
                record.saved[name] = None
            else:
                problems.append(Mismatch(f"save {name}", f"a value at {path}", str(exc)))
    return problems


async def _wait_for(server: TestServer, seq: int, real_seconds: float) -> None:
    await server.wait_beyond(seq, max(0.0, real_seconds))


async def _await_step(step: Step, ctx: RunContext, server: TestServer, variables: dict[str, Any],
                      state: ClientState, record: StepRecord) -> None:
    assert step.client is not None
    spec = _sub(step.client.spec, variables)
    clock = ctx.clock
    begun = server.now()
    since = spec.get("since", "last")
    seen = {"case": state.case_seq, "step": server.last_seq, "last": state.cursor}[since]
    first_seq = seen
    before = _time_value(spec["before"], "before") if "before" in spec else begun + float(
        spec.get("within", DEFAULT_WITHIN_S))
    after = _time_value(spec["after"], "after") if "after" in spec else None
    record.expected = {"request": _describe_request(spec), "by": int(before),
                       **({"after": int(after)} if after is not None else {}), **(
                           {"expect": spec["expect"]} if "expect" in spec else {})}
    found: LoggedRequest | None = None
    while found is None:
        for entry in server.since(seen):
            seen = entry.seq
            if _matches(entry, spec, ctx):
                found = entry
                break
        if found is not None:
            break
        left = before - server.now()
        if left <= 0:
            break
        ctx.progress(f"{step.name}: waiting for the DUT to {_describe_request(spec)} ({left:.0f} s left on the "
                     f"server's clock)")
        await _wait_for(server, seen, min(clock.real_seconds(left), 10.0))
    state.awaited.append({"step": step.index, "name": step.name, "by": before, "after": after, "from": begun,
                          "at": found.at if found else None, "request": _describe_request(spec)})
    if found is None:
        raise _Problem(FAILED, f"expected the DUT to {_describe_request(spec)} by server time {before:.0f} "
                               f"({before - begun:.0f} s after the step began); none came (seen: "
                               f"{_seen(server.since(first_seq), ctx)})")
    state.cursor = found.seq
    record.exchanges.append(logged_exchange(found, server))
    record.observed = {"at": int(found.at), "path": found.path, "status": found.status}
    if found.at > before:
        raise _Problem(FAILED, f"expected {_describe_request(spec)} by server time {before:.0f}, saw it at "
                               f"{found.at:.0f} ({found.at - before:.0f} s late)")
    if after is not None and found.at < after:
        raise _Problem(FAILED, f"expected {_describe_request(spec)} no earlier than server time {after:.0f}, saw it "
                               f"at {found.at:.0f} ({after - found.at:.0f} s early)")
    # `near_now` in the expectation judges a time the DUT sent against the moment it sent it.
    with judging_time_by(lambda: found.at):
        problems = _check_body(step, found, spec, ctx, record)
    wanted_path = (spec.get("expect") or {}).get("path_regex")
    if wanted_path and not re.fullmatch(wanted_path, found.path):
        problems.insert(0, Mismatch("path", f"a path matching {wanted_path}", found.path))
    if "tls_cipher" in spec:
        record.observed["tls_cipher"] = found.cipher
        if found.cipher != spec["tls_cipher"]:
            problems.insert(0, Mismatch("tls.cipher", spec["tls_cipher"], found.cipher or "no TLS"))
    location = next((v for k, v in found.response_headers if k.lower() == "location"), None)
    facts = {"at": int(found.at), "path": found.path, "location": location, "status": found.status}
    for name, fact in step.client.save_request.items():
        record.saved[name] = facts[fact]
    if problems:
        shown = "; ".join(str(p) for p in problems[:_MAX_SHOWN])
        raise _Problem(FAILED, f"the DUT's {found.method} {found.path} at {found.at:.0f}: {shown}")


def _checked_element(tree: ServedTree, href: str, ctx: RunContext) -> None:
    """A resource an act adds must be valid 2030.5 as served, or the DUT would be blamed for the case's mistake:
    an invalid one is taken back out of the tree and the step is an error."""
    root = tree.element(tree.resources[href])
    failures = [f for f in ctx.schema.validate(root) if f.severity == FAILURE]
    if failures:
        tree.remove(href)
        shown = "; ".join(f"{f.path}: {f.message}" for f in failures[:3])
        raise _Problem(ERROR, f"act: the {local_name(root)} the case adds is not valid 2030.5 (an authoring "
                              f"mistake, not served): {shown}")


def _act_step(step: Step, ctx: RunContext, server: TestServer, variables: dict[str, Any],
              state: ClientState, record: StepRecord) -> None:
    assert step.client is not None
    spec = _sub(step.client.spec, variables)
    (verb, what), = spec.items()
    tree = server.tree
    at = server.now()
    try:
        if verb == "add":
            (kind, content), = ((k, v) for k, v in what.items() if k[:1].isupper())
            content = dict(content or {})
            tree.add(what["href"], kind, content, what.get("to"))
            _checked_element(tree, what["href"], ctx)
            interval = content.get("interval") if isinstance(content, dict) else None
            mark = {"verb": "add", "href": what["href"], "kind": kind}
            if isinstance(interval, dict):
                mark.update(start=int(interval.get("start", 0)), duration=int(interval.get("duration", 0)))
        elif verb in ("cancel", "supersede"):
            tree.set_status(what, CANCELLED if verb == "cancel" else SUPERSEDED)
            mark = {"verb": verb, "href": what}
        elif verb == "remove":
            tree.remove(what)
            mark = {"verb": verb, "href": what}
        elif verb == "set":
            for name, value in what.items():
                if name != "href":
                    tree.set_value(what["href"], name, value)
            mark = {"verb": verb, **what}
        else:  # respond
            server.respond(what["method"], what.get("path"), what.get("path_regex"), int(what["status"]),
                           int(what.get("times", 1)))
            mark = {"verb": verb, "request": _describe_request(what), "status": what["status"]}
    except TreeError as exc:
        raise _Problem(ERROR, f"act {verb}: {exc} (an authoring mistake)") from None
    mark["at"] = at
    state.acts.append(mark)
    record.observed = {"at": int(at), "act": verb}
    record.expected = {"act": spec}


async def _pause_step(step: Step, ctx: RunContext, server: TestServer, variables: dict[str, Any],
                      record: StepRecord) -> None:
    assert step.client is not None
    spec = _sub(step.client.spec, variables)
    now = server.now()
    until = _time_value(spec["until"], "until") if "until" in spec else now + _time_value(spec["for"], "for")
    record.expected = {"until": int(until)}
    while (left := until - server.now()) > 0:
        ctx.progress(f"{step.name}: letting {left:.0f} s pass on the server's clock")
        await asyncio.sleep(min(ctx.clock.real_seconds(left), 10.0))
    record.observed = {"at": int(server.now())}


def _check_step(step: Step, ctx: RunContext, server: TestServer, variables: dict[str, Any],
                state: ClientState, record: StepRecord) -> None:
    assert step.client is not None
    spec = _sub(step.client.spec, variables)
    for name in ("not_above", "not_below", "mode_needs"):
        if name in spec:
            problem = judge_mode_needs(spec[name], record) if name == "mode_needs" else judge_bound(
                spec[name], record, above_fails=name == "not_above")
            if problem:
                raise _Problem(FAILED, problem)
            return
    if "list_covered" in spec:
        _list_covered(spec["list_covered"], server, state, ctx, record)
        return
    if "answers" in spec:
        _answers(spec["answers"], server, state, ctx, record)
        return
    if "sent_times" in spec:
        _sent_times(spec["sent_times"], server, state, ctx, record)
        return
    poll = spec["poll_rate"]
    rate = _time_value(poll["rate"], "rate")
    tolerance = float(poll.get("tolerance", DEFAULT_POLL_TOLERANCE))
    least = int(poll.get("min_polls", 2))
    # `after` leaves out what came before a moment of the case, e.g. the polls of a device before it restarted.
    start = _time_value(poll["after"], "after") if "after" in poll else None
    polls = [e for e in server.since(state.case_seq)
             if _is_dut(e, ctx) and e.method == "GET" and e.path == poll["path"] and (start is None or e.at >= start)]
    times = [e.at for e in polls]
    gaps = [round(b - a, 1) for a, b in zip(times, times[1:], strict=False)]
    record.expected = {"path": poll["path"], "poll_rate_s": rate, "tolerance": tolerance, "min_polls": least,
                       **({"after": int(start)} if start is not None else {})}
    record.observed = {"polls": [int(t) for t in times], "intervals_s": gaps}
    record.exchanges.extend(logged_exchange(e, server) for e in polls[-_MAX_SHOWN:])
    if len(times) < least:
        raise _Problem(FAILED, f"expected at least {least} GETs of {poll['path']} spaced by its pollRate {rate:g} s, "
                               f"saw {len(times)}")
    low, high = rate * (1 - tolerance), rate * (1 + tolerance)
    # The first interval runs from a discovery walk the client may take a while to finish: judged only when it
    # is the only one.
    judged = gaps[1:] if len(gaps) > 1 else gaps
    if poll.get("faster_ok"):
        low = 0.0
    wrong = [g for g in judged if not low <= g <= high]
    if wrong:
        raise _Problem(FAILED, f"expected GETs of {poll['path']} every {rate:g} s (pollRate, intervals within "
                               f"{low:.0f}-{high:.0f} s), saw intervals {gaps} s")
    if "until" in poll:
        # Polling must go on through a moment of the case (CORE-022: through T0 + 720 s), not stop early.
        until = _time_value(poll["until"], "until")
        record.expected["until"] = int(until)
        if times[-1] < until - high:
            raise _Problem(FAILED, f"expected GETs of {poll['path']} every {rate:g} s through server time "
                                   f"{until:.0f}, saw the last at {times[-1]:.0f} ({until - times[-1]:.0f} s before)")


def _list_covered(spec: dict[str, Any], server: TestServer, state: ClientState, ctx: RunContext,
                  record: StepRecord) -> None:
    """The distinct items the DUT read of a list, over all its GETs of it (any s/l paging), from our answers."""
    reads = [e for e in server.since(state.case_seq)
             if _is_dut(e, ctx) and e.method == "GET" and e.path == spec["path"] and e.status == 200]
    seen: set[str] = set()
    for entry in reads:
        try:
            root = parse_xml(entry.response_body)
        except XMLRejected:
            continue
        seen.update(child.get("href") for child in root if child.get("href"))
    record.expected = {"path": spec["path"], "distinct items read": spec["items"]}
    record.observed = {"reads": len(reads), "items": sorted(seen)}
    record.exchanges.extend(logged_exchange(e, server) for e in reads[-_MAX_SHOWN:])
    if len(seen) < int(spec["items"]):
        raise _Problem(FAILED, f"expected the DUT to read {spec['items']} items of {spec['path']} (paging with s/l "
                               f"as needed), saw {len(seen)} in {len(reads)} GET(s)")


def _answers(spec: dict[str, Any], server: TestServer, state: ClientState, ctx: RunContext,
             record: StepRecord) -> None:
    """Every request of the DUT during the case (to matching paths) got one of the expected statuses."""
    pattern = spec.get("path_regex")
    entries = [e for e in server.since(state.case_seq)
               if _is_dut(e, ctx) and (pattern is None or re.fullmatch(pattern, e.path))]
    wrong = [e for e in entries if e.status not in spec["status"]]
    record.expected = {"status": spec["status"], "requests": pattern or "all"}
    record.observed = {"requests": len(entries), "other_status": [e.summary() for e in wrong[:_MAX_SHOWN]]}
    record.exchanges.extend(logged_exchange(e, server) for e in wrong[:_MAX_SHOWN])
    if wrong:
        raise _Problem(FAILED, f"expected every request of the DUT to be answered {spec['status']}, saw "
                               f"{len(wrong)} other: " + "; ".join(e.summary() for e in wrong[:_MAX_SHOWN]))


def _sent_times(spec: dict[str, Any], server: TestServer, state: ClientState, ctx: RunContext,
                record: StepRecord) -> None:
    """Every time the DUT stamped on what it sent (the named top-level TimeType fields of its bodies, e.g.
    readingTime, createdDateTime) after `after` is within tolerance of the server's time when it came (CORE-005: a
    client keeps the server's time). Not applicable when no such body came: nothing to judge."""
    fields, tolerance = spec["fields"], float(spec["tolerance"])
    start = _time_value(spec["after"], "after") if "after" in spec else state.started_at
    stamped: list[tuple[LoggedRequest, str, float]] = []
    for entry in server.since(state.case_seq):
        if not _is_dut(entry, ctx) or entry.at < start or not entry.body:
            continue
        view = _view(entry, ctx) or {}
        for name in fields:
            value = view.get(name)
            try:
                stamped.append((entry, name, float(value)))
            except (TypeError, ValueError):
                continue
    record.expected = {"fields": fields, "within_s": tolerance, "after": int(start)}
    record.observed = {"stamped": [f"{e.method} {e.path} {name} {value:.0f} at {e.at:.0f}" for e, name, value in
                                   stamped[:_MAX_SHOWN]], "count": len(stamped)}
    if not stamped:
        record.verdict = NOT_APPLICABLE
        record.message = f"the DUT sent no body with {' or '.join(fields)} after server time {start:.0f}: not judged"
        return
    wrong = [(e, name, value) for e, name, value in stamped if abs(value - e.at) > tolerance]
    record.exchanges.extend(logged_exchange(e, server) for e, _, _ in (wrong or stamped)[:_MAX_SHOWN])
    if wrong:
        e, name, value = wrong[0]
        raise _Problem(FAILED, f"expected the times the DUT sends to follow the server's time within {tolerance:g} s, "
                               f"saw {len(wrong)} off: {e.method} {e.path} {name} {value:.0f} at server time "
                               f"{e.at:.0f} ({value - e.at:+.0f} s)")


def _forbidden(entries: list[LoggedRequest], spec: dict[str, Any], ctx: RunContext) -> LoggedRequest | None:
    return next((e for e in entries if _matches(e, spec, ctx)), None)


async def _forbid_step(step: Step, ctx: RunContext, server: TestServer, variables: dict[str, Any],
                       record: StepRecord) -> None:
    assert step.client is not None
    spec = _sub(step.client.spec, variables)
    first = seen = server.last_seq
    until = server.now() + float(spec.get("for", 0))
    record.expected = {"no request": _describe_request(spec), "until": int(until)}
    while True:
        hit = _forbidden(server.since(first), spec, ctx)
        if hit is not None:
            record.exchanges.append(logged_exchange(hit, server))
            raise _Problem(FAILED, f"expected no {_describe_request(spec)}"
                                   f"{' (' + spec['reason'] + ')' if spec.get('reason') else ''}, saw one at "
                                   f"{hit.at:.0f}")
        left = until - server.now()
        if left <= 0:
            return
        seen = server.last_seq
        await _wait_for(server, seen, min(ctx.clock.real_seconds(left), 10.0))


async def _action(step: Step, ctx: RunContext, variables: dict[str, Any], record: StepRecord) -> None:
    assert step.action is not None and ctx.actions is not None
    action = await ctx.actions.carry_out(step.action, variables)
    record.actions.append(action)
    record.expected = {"action": step.action.name, "params": action.params}
    record.observed = {"outcome": action.outcome, "detail": action.detail}
    if action.outcome != ACTION_DONE:
        raise _Problem(ERROR, f"action {step.action.name!r} failed through {action.mapping}: {action.detail}")


_WAITING_KINDS = frozenset({"await", "pause", "forbid", "observe"})


async def run_client_step(step: Step, ctx: RunContext, server: TestServer, variables: dict[str, Any],
                          state: ClientState) -> StepRecord:
    """Carry out one client-role step; never raises for what the DUT does."""
    record = StepRecord(index=step.index, name=step.name, verdict=PASSED, ref=step.ref, line=step.line)
    began = time.perf_counter()
    missing = unmet(list(step.requires), ctx.profile.capabilities)
    if missing:
        record.verdict, record.message = NOT_APPLICABLE, "the DUT profile does not declare: " + "; ".join(missing)
        return record
    kind = step.client.kind if step.client else "action"
    try:
        if kind == "await":
            await _await_step(step, ctx, server, variables, state, record)
        elif kind == "act":
            _act_step(step, ctx, server, variables, state, record)
        elif kind == "pause":
            await _pause_step(step, ctx, server, variables, record)
        elif kind == "check":
            _check_step(step, ctx, server, variables, state, record)
        elif kind == "forbid":
            await _forbid_step(step, ctx, server, variables, record)
        elif kind == "observe":
            try:
                await observe_step(step, ctx, server.now, variables, record)
            except ObserveProblem as exc:
                raise _Problem(exc.verdict, str(exc)) from None
        else:
            # What an action provokes (a power-cycled DER's fresh walk, a raised alarm's LogEvent) comes after it
            # began: the next await (since: last) must not take a request the DER made before, e.g. its
            # steady-state polling while an operator was still restarting it.
            state.cursor = server.last_seq
            await _action(step, ctx, variables, record)
        if step.set:
            record.saved.update(_sub(step.set, {**variables, **record.saved}))
    except _Problem as exc:
        record.verdict = exc.verdict
        record.message = f"step {step.index} {step.name!r}: {exc}"
    record.duration_s = round(time.perf_counter() - began, 6)
    if kind in _WAITING_KINDS:
        # The time an await, pause, forbid or observe step takes is the DUT's clock passing: the run's time split
        # (harness.report.timing) counts it as waiting, not as the harness's own time.
        record.observed = {**(record.observed or {}), "waited_s": round(record.duration_s, 3)}
    return record


def _case_forbids(case: Case, ctx: RunContext, server: TestServer, variables: dict[str, Any],
                  state: ClientState) -> StepRecord | None:
    """The case's forbid list judged over every request the DUT made during the case; a record when one came."""
    entries = server.since(state.case_seq)
    for number, raw in enumerate(case.forbid, 1):
        spec = _sub(raw, variables)
        hit = _forbidden(entries, spec, ctx)
        if hit is not None:
            reason = f" ({spec['reason']})" if spec.get("reason") else ""
            return StepRecord(index=len(case.steps) + number, name=f"forbid: {_describe_request(spec)}",
                              verdict=FAILED, exchanges=[logged_exchange(hit, server)],
                              message=f"forbid {number}: expected no {_describe_request(spec)}{reason} during the "
                                      f"case, saw one at {hit.at:.0f}")
    return None


def _detail(entry: LoggedRequest, ctx: RunContext) -> str | None:
    """A Response's status ("R2") for the timeline; None for any other request."""
    if entry.kind not in ("Response", "DERControlResponse"):
        return None
    view = _view(entry, ctx) or {}
    status = view.get("status")
    return f"R{status}" if isinstance(status, str) else None


def timeline(case: Case, server: TestServer, state: ClientState, ctx: RunContext, ended: float) -> dict[str, Any]:
    """What the report draws: the case's window, the acts (event windows), the DUT's requests, the awaits."""
    requests = [{"at": round(e.at, 3), "method": e.method, "path": e.path, "status": e.status, "kind": e.kind,
                 "dut": _is_dut(e, ctx), "detail": _detail(e, ctx)} for e in server.since(state.case_seq)[-2000:]]
    return {"start": round(state.started_at, 3), "end": round(ended, 3), "scale": ctx.clock.scale,
            "acts": state.acts, "requests": requests, "awaits": state.awaited}


async def run_client_case(case: Case, ctx: RunContext) -> TestRecord:
    """Run a client-role case on ctx.test_server: serve its tree, carry out its steps in order (stopping at the
    first failure or error), then judge its forbid list. Never raises for what the DUT does."""
    record = TestRecord(id=case.id, title=case.title, role=case.role, verdict=PASSED, file=str(case.file),
                        case_sha256=case.sha256, case_version=case.version, procedure=dict(case.procedure),
                        function_sets=list(case.function_sets), requirements=list(case.requirements),
                        started=ctx.clock.wall())
    began = time.perf_counter()
    server: TestServer | None = ctx.test_server
    missing = unmet(list(case.requires), ctx.profile.capabilities)
    if case.role != ctx.profile.role or missing or server is None:
        record.verdict = NOT_APPLICABLE
        record.reason = (f"case is for {case.role} DUTs; the DUT profile declares role {ctx.profile.role}"
                         if case.role != ctx.profile.role else "the DUT profile does not declare: " + "; ".join(
                             missing) if missing else "no test server runs for this DUT")
        return record
    if getattr(server, "over_nats", False) and case.id in CLIENT_HTTP_TLS_CASES:
        record.verdict, record.reason = NOT_APPLICABLE, f"not applicable over NATS: {CLIENT_HTTP_TLS_CASES[case.id]}"
        return record
    with judging_time_by(server.now):
        try:
            await _run(case, ctx, server, record)
        except Exception as exc:  # a harness bug must still leave a complete, honest record
            record.verdict = ERROR
            record.reason = f"harness error: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
    record.duration_s = round(time.perf_counter() - began, 6)
    return record


async def _run(case: Case, ctx: RunContext, server: TestServer, record: TestRecord) -> None:
    variables: dict[str, Any] = {**ctx.builtins, **case.variables, "now": int(server.now())}
    assert case.serve is not None
    try:
        tree = ServedTree.load(case.serve, variables, ctx.clock.now)
    except YamlFileError as exc:
        record.verdict, record.reason = ERROR, f"the case's tree cannot be served: {exc}"
        return
    for name, value in case.serve_with.items():
        setattr(tree, {"tzOffset": "tz_offset"}.get(name, name), value)
    server.serve(tree)
    state = ClientState(case_seq=server.last_seq, cursor=server.last_seq, started_at=server.now())
    needed = [*case.setup, *(s.action for s in case.steps if s.action is not None)]
    unmapped = ctx.actions.unmapped(needed) if ctx.actions and needed else []
    if unmapped:
        record.verdict = NOT_APPLICABLE
        record.reason = (f"the DUT profile maps no way to carry out {', '.join(map(repr, unmapped))} (add it under "
                         "'actions:' in the profile)")
        return
    for call in case.setup:
        assert ctx.actions is not None
        action = await ctx.actions.carry_out(call, variables)
        record.actions.append(action)
        if action.outcome != ACTION_DONE:
            record.verdict = ERROR
            record.reason = f"setup action {call.name!r} failed through {action.mapping}: {action.detail}"
            return
    stopped = ""
    for step in case.steps:
        if stopped:
            record.steps.append(StepRecord(index=step.index, name=step.name, verdict=NOT_RUN, ref=step.ref,
                                           line=step.line, message=f"not run: {stopped}"))
            continue
        variables["now"] = int(server.now())
        step_record = await run_client_step(step, ctx, server, variables, state)
        record.steps.append(step_record)
        record.actions.extend(step_record.actions)
        variables.update(step_record.saved)
        if step_record.verdict in (FAILED, ERROR):
            record.verdict, record.reason = step_record.verdict, step_record.message
            stopped = "an earlier step did not pass"
    forbidden = _case_forbids(case, ctx, server, variables, state)
    if forbidden is not None:
        record.steps.append(forbidden)
        if record.verdict == PASSED:
            record.verdict, record.reason = FAILED, forbidden.message
    unobserved = [s for s in record.steps if s.verdict == NOT_APPLICABLE and s.message.startswith(UNMAPPED_PREFIX)]
    if record.verdict == PASSED and unobserved:
        # What the DER really does is part of the procedure's pass criteria: unobserved, the case cannot pass.
        record.verdict, record.reason = NOT_APPLICABLE, (
            f"every other check passed, but step {unobserved[0].index} could not be judged: {unobserved[0].message}")
    if record.verdict == PASSED and not any(s.verdict == PASSED and (s.exchanges or s.expected.get("path"))
                                            for s in record.steps):
        record.verdict, record.reason = NOT_APPLICABLE, "nothing the DUT did was checked"
    record.timeline = timeline(case, server, state, ctx, server.now())
