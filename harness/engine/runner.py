"""The step loop: run one loaded case against a server DUT through a transport, produce a TestRecord."""

from __future__ import annotations

import dataclasses
import time
import traceback
from typing import Any

from harness.cases.matchers import Mismatch, judging_time_by, match
from harness.cases.model import Case, ExpectSpec, RequestSpec, Step
from harness.cases.paths import PathError, lookup
from harness.cases.requires import Requirement, unmet
from harness.cases.variables import VariableError, substitute
from harness.codec.checking import for_checks, to_json_paths
from harness.engine.checks import ResponseCheck, advisories, check_response
from harness.engine.checks import describe_problems as _describe
from harness.engine.checks import failing_problems as _problems
from harness.engine.checks import finding_record as _finding
from harness.engine.clock import ClockNotRead
from harness.engine.context import RunContext
from harness.engine.events import event_status_mismatches, list_order_mismatches
from harness.engine.lateness import WaitTarget, request_lateness, tolerance, wait_lateness
from harness.engine.tls_steps import advise_tls, identity_problem, judge_tls, probes, send
from harness.engine.waiting import CURRENT_CASE, waiting_for
from harness.results import (
    ACTION_DONE,
    ERROR,
    FAILED,
    NOT_APPLICABLE,
    NOT_RUN,
    PASSED,
    WAIVED,
    ExchangeRecord,
    StepRecord,
    TestRecord,
    body_evidence,
)
from harness.sep import MEDIA_TYPE_XML
from harness.sep.findings import WARNING, Finding
from harness.sep.safexml import XMLRejected, parse_xml
from harness.sep.schema import FAILURE
from harness.transport.base import TOO_LARGE, Exchange, Request
from harness.transport.nats_run import HTTP_TLS_CASES

# Waiver outcomes recorded beside each waiver of a test (the report shows the stale ones).
WAIVER_APPLIED = "applied"
WAIVER_STEP_PASSED = "stale: the step now passes"
WAIVER_NO_SUCH_STEP = "stale: the case has no such step"
WAIVER_NOT_REACHED = "not reached: the step did not run"


class StepProblem(Exception):
    """A step that cannot be carried out as written: verdict (failed or error) and message."""

    def __init__(self, verdict: str, message: str) -> None:
        super().__init__(message)
        self.verdict = verdict


def not_applicable_reason(case: Case, ctx: RunContext) -> str | None:
    """Why the case does not apply to this DUT, or None when it does."""
    if case.role != ctx.profile.role:
        return f"case is for {case.role} DUTs; the DUT profile declares role {ctx.profile.role}"
    missing = unmet(list(case.requires), ctx.profile.capabilities)
    if missing:
        return "the DUT profile does not declare: " + "; ".join(missing)
    if getattr(ctx.transport, "name", "http").startswith("nats") and case.id in HTTP_TLS_CASES:
        return f"not applicable over NATS: {HTTP_TLS_CASES[case.id]}"
    if any(step.listener_state for step in case.steps) and not getattr(ctx.listener, "over_nats", False):
        return ("it takes the notification listener offline to see Notifications stored meanwhile delivered on its "
                "return, a promise of 2030.5 over NATS with JetStream; over HTTPS a POST to an absent listener "
                "is simply not delivered")
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
        http_version=response.http_version if response else None,
        tls=exchange.tls,
        error=exchange.error,
        error_kind=exchange.error_kind,
        transport=exchange.transport,
    )


def _substitute(value: Any, variables: dict[str, Any]) -> Any:
    """Substitute, turning an unresolvable reference into the right verdict.

    A name no variable has is the harness's or the author's fault (loading checks every name): error.
    A path into a value the DUT returned that leads nowhere (a list shorter than expected) is the DUT's.
    """
    try:
        return substitute(value, variables)
    except VariableError as exc:
        if exc.unknown and "'dut_time'" in str(exc):
            raise StepProblem(ERROR, f"{exc}: the DUT's clock is not known yet; an earlier step must GET the "
                                     "DUT's Time (expect: {schema: Time}) before ${dut_time} is used") from None
        raise StepProblem(ERROR if exc.unknown else FAILED, str(exc)) from None


def _target(step: Step, variables: dict[str, Any], ctx: RunContext) -> str:
    spec = step.request
    assert spec is not None, "only a request step has a target"
    if spec.url:
        return str(_substitute(spec.url, variables))
    path = str(_substitute(spec.path or "", variables))
    if path.startswith(("http://", "https://")):
        return path
    if not path.startswith("/"):
        # Literal paths are checked when the case loads; this one came from an href the DUT gave.
        raise StepProblem(FAILED, f"expected an href that is a path starting with '/' or an absolute http(s) "
                                  f"URI (RFC 3986 reference the harness can follow), saw {path!r}")
    return ctx.base_url.rstrip("/") + path


def _target_of(href: str, variables: dict[str, Any], ctx: RunContext) -> str:
    """The URL of a path or href a step names (a crawl's start), as a request step would reach it."""
    one = Step(index=0, name="", line=0, request=RequestSpec(method="GET", path=href), expect=ExpectSpec())
    return _target(one, variables, ctx)


def _check_own_body(body: bytes, ctx: RunContext) -> None:
    """A body the case sends must be valid 2030.5, or the DUT's refusal would be blamed on the DUT.

    Raises StepProblem(error) naming what is wrong: an authoring mistake, found before anything is sent.
    """
    try:
        root = parse_xml(body)
    except XMLRejected as exc:
        raise StepProblem(ERROR, f"the case's request body is not acceptable XML (an authoring mistake, not sent): "
                                 f"{exc}") from None
    failures = [f for f in ctx.schema.validate(root) if f.severity == FAILURE]
    if failures:
        shown = "; ".join(f"{f.path}: {f.message}" for f in failures[:3])
        raise StepProblem(ERROR, f"the case's request body is not valid 2030.5 (an authoring mistake, not sent; "
                                 f"mark the request 'invalid: true' to send it on purpose): {shown}")


def _build_request(step: Step, variables: dict[str, Any], ctx: RunContext) -> Request:
    spec = step.request
    assert spec is not None, "an action step has no request"
    target = _target(step, variables, ctx)
    headers = {"Accept": ctx.codec.media_type}
    body = b""
    if spec.body is not None:
        body = str(_substitute(spec.body, variables)).encode("utf-8")
        headers["Content-Type"] = ctx.codec.media_type
        if not spec.invalid:
            _check_own_body(body, ctx)
            if ctx.codec.media_type != MEDIA_TYPE_XML:
                # The case writes XML; the run sends the same resource in its encoding (--encoding json).
                body = ctx.codec.serialize(parse_xml(body))
    for name, value in spec.headers.items():
        headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
        headers[name] = str(_substitute(value, variables))
    return Request(method=spec.method, url=target, headers=list(headers.items()), body=body, timeout=spec.timeout)


_ABSENT = object()


def _state(variables: dict[str, Any], name: str) -> Any:
    try:
        return lookup(variables, name)
    except PathError:
        return _ABSENT


def _holds(value: Any) -> bool:
    return value is not _ABSENT and value not in (None, "", [], {}, False)


def _describe_state(name: str, value: Any) -> str:
    if value is _ABSENT or value is None:
        return f"{name} is absent"
    if value is False:
        return f"{name} is false"
    if value in ("", [], {}):
        return f"{name} is empty"
    return f"{name} is set"


def when_reason(when: Requirement | None, variables: dict[str, Any]) -> str | None:
    """Why a `when:` expression does not hold (the state of each variable it names), or None when it does."""
    if when is None or when.evaluate(lambda name: _holds(_state(variables, name))):
        return None
    states = [_describe_state(name, _state(variables, name)) for name in dict.fromkeys(when.names())]
    return f"when: {when.text!r} does not hold ({', '.join(states)})"


async def _wait_step(step: Step, ctx: RunContext, variables: dict[str, Any], record: StepRecord,
                     case_id: str) -> StepRecord:
    """Wait until the DUT's clock (from its Time and the offset to ours) reads the step's `until`."""
    assert step.wait is not None
    wait = step.wait
    target = _substitute(wait.until, variables)
    try:
        until = float(target)
    except (TypeError, ValueError):
        raise StepProblem(ERROR, f"wait: expected a TimeType (seconds) to wait until, saw {target!r}") from None
    try:
        left = until - ctx.clock.dut_now()
    except ClockNotRead as exc:
        raise StepProblem(ERROR, f"wait: {exc}") from None
    late = tolerance(wait.late, ctx.late, ctx.clock.scale)
    record.expected = {"until": int(until), "for": wait.purpose, "max_s": wait.max, "late_s": late}
    if left > wait.max:
        raise StepProblem(ERROR, f"wait for {wait.purpose}: the DUT's clock reads {until - left:.0f}, so the wait "
                                 f"until {until:.0f} would take {left:.0f} s on the DUT's clock, more than the step "
                                 f"allows ({wait.max:g} s)")
    where = f"{case_id} step {step.index}" if case_id else f"step {step.index}"
    scale = "" if ctx.clock.scale == 1 else f", time scale {ctx.clock.scale:g}"

    def report(seconds_left: float) -> None:
        ctx.progress(f"{where}: waiting until {wait.purpose} on the DUT's clock ({seconds_left:.0f} s left{scale})")

    waited = await ctx.clock.wait_until(until, report)
    record.duration_s = round(waited, 6)
    record.observed = {"dut_time": int(ctx.clock.dut_now()), "waited_s": round(waited, 3)}
    problem = wait_lateness(WaitTarget(until, wait.purpose, late), ctx.clock)
    if problem:
        raise StepProblem(ERROR, problem)
    return record


async def _action_step(step: Step, ctx: RunContext, variables: dict[str, Any], record: StepRecord) -> StepRecord:
    assert step.action is not None and ctx.actions is not None
    action = await ctx.actions.carry_out(step.action, variables)
    record.actions.append(action)
    ctx.case_actions.append(action)
    record.duration_s = action.duration_s
    record.expected = {"action": step.action.name, "params": action.params}
    record.observed = {"outcome": action.outcome, "detail": action.detail}
    if action.outcome != ACTION_DONE:
        record.verdict = ERROR
        record.message = (f"step {step.index} {step.name!r}: action {step.action.name!r} failed through "
                          f"{action.mapping}: {action.detail}")
    return record


@dataclasses.dataclass
class _Outcome:
    """A request sent and checked (every page of it, for a paged list): exchanges, check, what failed."""

    exchanges: list[Exchange]
    check: ResponseCheck | None
    problems: list[Any]
    expected: dict[str, Any]

    @property
    def exchange(self) -> Exchange:
        """The last exchange: the one that failed, or the last page."""
        return self.exchanges[-1]


# A list resource's own attributes; every other member of its view is an item (2030.5 lists hold only items).
_LIST_ATTRIBUTES = frozenset({"href", "all", "results", "pollRate", "subscribable"})
_MAX_PAGES = 1000


def _page_target(url: str, start: int, size: int) -> str:
    return f"{url}{'&' if '?' in url else '?'}s={start}&l={size}"


def _merge_pages(views: list[dict[str, Any]]) -> dict[str, Any]:
    """One view of a whole list from its pages: the first page's attributes, every page's items in order."""
    merged = {key: value for key, value in views[0].items() if key in _LIST_ATTRIBUTES}
    count = 0
    for view in views:
        for key, value in view.items():
            if key in _LIST_ATTRIBUTES:
                continue
            items = value if isinstance(value, list) else [value]
            merged.setdefault(key, []).extend(items)
            count += len(items)
    merged["results"] = str(count)
    return merged


async def _send(step: Step, ctx: RunContext, request: Request) -> Exchange:
    """One exchange with the DUT; while it is outstanding, ctx.progress hears what the step waits for."""
    limit = request.timeout or ctx.profile.total_timeout
    return await waiting_for(ctx, step.index, f"the DUT: {request.method} {request.url}", limit,
                             send(step, ctx, request))


async def _exchange(step: Step, ctx: RunContext, variables: dict[str, Any], expect: ExpectSpec) -> _Outcome:
    """Send the step's request (every page of it when `pages` is set) and check what came back."""
    each = step.request is not None and step.request.each
    request = None if each else _build_request(step, variables, ctx)
    # replace(), not asdict(): asdict deep-copies the whole expectation on every exchange.
    expect = dataclasses.replace(expect, **_substitute(
        {"headers": expect.headers, "resource": expect.resource, "schema": expect.schema}, variables))
    shown = {f.name: getattr(expect, f.name) for f in dataclasses.fields(expect)}
    expected = {k: v for k, v in shown.items() if v not in (None, (), {}) and v is not False}
    size = step.request.pages if step.request is not None else None
    if request is None:
        return await _each_list(step, ctx, variables, expect, expected, size or _EACH_PAGE)
    if size:
        return await _pages(step, ctx, request, expect, expected, size)
    exchange = await _send(step, ctx, request)
    if probes(step):
        http_checks, tls_problems = judge_tls(expect, exchange)
        if step.should is not None and step.should.tls is not None:
            expected["should_tls"] = step.should.tls
        if not http_checks or tls_problems:
            check = ResponseCheck(findings=_tls_warnings(step, exchange))
            return _Outcome([exchange], check, list(tls_problems), expected)
    if exchange.error or exchange.response is None:
        return _Outcome([exchange], None, [], expected)
    needs_view = (bool(step.save) or (step.require is not None and step.require.resource is not None)
                  or bool(step.should and (step.should.resource or step.should.event_status is not None
                                           or step.should.list_order))
                  or expect.event_status is not None or expect.list_order)
    decoded = for_checks(exchange.response, ctx.codec, expect.schema)
    check = check_response(expect, decoded.response, ctx.schema, needs_view=needs_view,
                           max_body=ctx.profile.max_body)
    check.findings = decoded.findings + to_json_paths(check.findings, decoded.pointers)
    _observe_time(expect, exchange, check, ctx)
    _time_checks(expect, [exchange], check, ctx, step.should)
    _advise(step, exchange, check, variables)
    if probes(step):
        check.findings.extend(_tls_warnings(step, exchange))
    return _Outcome([exchange], check, _problems(check), expected)


def _tls_warnings(step: Step, exchange: Exchange) -> list[Finding]:
    """`should: {tls: ...}` not met: warning findings of kind protocol (never failures)."""
    if step.should is None:
        return []
    return [Finding(message=f"{text} (asked by 'should', not required by the procedure)", line=None,
                    path="tls", kind="protocol", severity=WARNING) for text in advise_tls(step.should, exchange)]
def _observe_time(expect: ExpectSpec, exchange: Exchange, check: ResponseCheck, ctx: RunContext) -> None:
    """A valid Time read from the DUT sets the run's reading of the DUT's clock (harness.engine.clock)."""
    if expect.schema != "Time" or check.view is None or check.mismatches or any(
            f.severity == FAILURE for f in check.findings):
        return
    try:
        current = int(str(check.view.get("currentTime")).strip())
    except ValueError:
        return
    ctx.clock.observe_time(current, exchange.started, exchange.elapsed)


def _time_checks(expect: ExpectSpec, exchanges: list[Exchange], check: ResponseCheck, ctx: RunContext,
                 should: ExpectSpec | None = None) -> None:
    """The 2030.5 relations a step asked for: EventStatus against interval and the DUT's time while it answered
    (every page of a paged list); list order. Under `expect` what 2030.5 requires fails the step and what it only
    advises (an ended event still shown Active) is a warning finding; under `should` every mismatch is a warning."""
    wants = [(spec, required) for spec, required in ((expect, True), (should, False))
             if spec is not None and (spec.event_status is not None or spec.list_order)]
    if check.view is None or any(m.path == "status" for m in check.mismatches) or not wants:
        return
    advised: list[Mismatch] = []
    for spec, required in wants:
        found = check.mismatches if required else advised
        schema = spec.schema or expect.schema
        if spec.list_order and schema:
            found.extend(list_order_mismatches(check.view, schema))
        if spec.event_status is not None:
            try:
                dut_time = ctx.clock.dut_between(exchanges[0].started,
                                                 exchanges[-1].started + exchanges[-1].elapsed)
            except ClockNotRead as exc:
                raise StepProblem(ERROR, f"event_status: {exc}") from None
            found.extend(event_status_mismatches(check.view, dut_time, spec.event_status))
            advised.extend(event_status_mismatches(check.view, dut_time, spec.event_status, advised=True))
    check.findings.extend(Finding(message=f"should: {m}", line=None, path=m.path, kind="match", severity=WARNING)
                          for m in advised)


def _advise(step: Step, exchange: Exchange, check: ResponseCheck, variables: dict[str, Any]) -> None:
    if step.should is not None and not check.mismatches and exchange.response is not None:
        should = dataclasses.replace(step.should, **_substitute(
            {"headers": step.should.headers, "resource": step.should.resource}, variables))
        check.findings.extend(advisories(should, exchange.response, check.view))


async def _pages(step: Step, ctx: RunContext, request: Request, expect: ExpectSpec, expected: dict[str, Any],
                 size: int) -> _Outcome:
    """Read a whole list `size` items at a time (s=0, size, 2*size... until `all` items are read, 2030.5 list
    paging) and judge the merged list: each page against status, content type, headers and schema; the
    resource expectation against every item of every page."""
    per_page = dataclasses.replace(expect, resource=None)
    exchanges: list[Exchange] = []
    views: list[dict[str, Any]] = []
    findings: list[Any] = []
    start = previous = 0
    for _ in range(_MAX_PAGES):
        exchange = await _send(step, ctx, dataclasses.replace(request, url=_page_target(request.url, start, size)))
        exchanges.append(exchange)
        if exchange.error or exchange.response is None:
            return _Outcome(exchanges, None, [], expected)
        decoded = for_checks(exchange.response, ctx.codec, per_page.schema)
        check = check_response(per_page, decoded.response, ctx.schema, needs_view=True,
                               max_body=ctx.profile.max_body)
        check.findings = decoded.findings + to_json_paths(check.findings, decoded.pointers)
        findings.extend(check.findings)
        problems = _problems(check)
        if problems or check.view is None:
            check.findings = findings
            return _Outcome(exchanges, check, problems, expected)
        items = {k: v for k, v in check.view.items() if k not in _LIST_ATTRIBUTES}
        if views and start and items and items == {k: v for k, v in views[-1].items() if k not in _LIST_ATTRIBUTES}:
            # The page at s=start holds exactly what the previous page held: s was not applied (2030.5 6.6).
            repeat = Mismatch("resource", f"the items from s={start} on (list paging, 2030.5 list query s)",
                              f"the same items as the page before, at s={previous}")
            check.findings = findings
            return _Outcome(exchanges, check, [repeat], expected)
        views.append(check.view)
        read = sum(len(v) if isinstance(v, list) else 1 for v in items.values())
        previous, start = start, start + read
        try:
            total = int(str(views[0].get("all", "0")))
        except ValueError:
            total = 0
        if read == 0 or start >= total:
            break
    merged = ResponseCheck(findings=findings, view=_merge_pages(views))
    if expect.resource is not None:
        merged.mismatches.extend(match(expect.resource, merged.view, "resource"))
    _time_checks(expect, exchanges, merged, ctx, step.should)
    return _Outcome(exchanges, merged, _problems(merged), expected)


_EACH_PAGE = 255


async def _each_list(step: Step, ctx: RunContext, variables: dict[str, Any], expect: ExpectSpec,
                     expected: dict[str, Any], size: int) -> _Outcome:
    """`each: true`: read every list the path's variable names (each whole, `size` items a page, each page
    judged on its own and each list in its own 2030.5 order when `list_order` asks) and judge the items of all of
    them as one list: the resource expectation and `event_status` against the merged items.

    The lists a client must gather (the DERProgramLists of every FunctionSetAssignments of an EndDevice, IEEE
    2030.5-2018 FSA function set) are as many as the DUT links; an empty set of lists is an empty list.
    """
    assert step.request is not None
    hrefs = _substitute(step.request.path, variables)
    if isinstance(hrefs, str):
        hrefs = [hrefs]
    if isinstance(hrefs, list):
        # A list of lists (a for_each step's save of ...[*].href, one list per item) is read as one list.
        hrefs = [h for group in hrefs for h in (group if isinstance(group, list) else [group])]
    if not isinstance(hrefs, list) or not all(isinstance(h, str) for h in hrefs):
        raise StepProblem(ERROR, f"each: expected {step.request.path} to be a list of hrefs (a save of "
                                 f"...[*].href), saw {hrefs!r}")
    per_list = dataclasses.replace(expect, resource=None, event_status=None)
    exchanges: list[Exchange] = []
    views: list[dict[str, Any]] = []
    findings: list[Any] = []
    for href in hrefs:
        one = dataclasses.replace(step, request=dataclasses.replace(step.request, path=href, each=False))
        outcome = await _pages(step, ctx, _build_request(one, variables, ctx), per_list, expected, size)
        exchanges.extend(outcome.exchanges)
        if outcome.check is None or outcome.problems:
            return _Outcome(exchanges, outcome.check, outcome.problems, expected)
        findings.extend(outcome.check.findings)
        views.append(outcome.check.view or {})
    merged_view = _rank_programs(_merge_pages(views)) if views else {"results": "0"}
    merged_view["all"] = merged_view["results"]
    merged = ResponseCheck(findings=findings, view=merged_view)
    if expect.resource is not None:
        merged.mismatches.extend(match(expect.resource, merged.view, "resource"))
    if expect.event_status is not None and exchanges:
        _time_checks(dataclasses.replace(expect, list_order=False), exchanges, merged, ctx)
    return _Outcome(exchanges, merged, _problems(merged), expected)


def _primacy(item: Any) -> int:
    try:
        return int(str(item.get("primacy")).strip()) if isinstance(item, dict) else 1 << 8
    except ValueError:
        return 1 << 8  # an unreadable primacy is the schema's finding; such a program ranks last


def _rank_programs(view: dict[str, Any]) -> dict[str, Any]:
    """The DERPrograms gathered from several DERProgramLists as a client ranks them: each program once (by href)
    and in primacy order, the lowest value first (IEEE 2030.5-2018 DERProgram primacy; the order within one
    DERProgramList is kept for equal primacy). Other lists are returned as they are."""
    if "DERProgram" not in view:
        return view
    programs = view["DERProgram"] if isinstance(view["DERProgram"], list) else [view["DERProgram"]]
    seen: set[Any] = set()
    unique = []
    for program in programs:
        href = program.get("href") if isinstance(program, dict) else None
        if href is not None and href in seen:
            continue
        seen.add(href)
        unique.append(program)
    view["DERProgram"] = sorted(unique, key=_primacy)
    view["results"] = str(len(unique))
    return view


def _exchange_failure(outcome: _Outcome) -> tuple[str, str]:
    """Verdict and message of an exchange that brought no complete response."""
    exchange = outcome.exchange
    verdict = FAILED if exchange.error_kind == TOO_LARGE else ERROR
    return verdict, f"{exchange.request.method} {exchange.request.url}: {exchange.error}"


def _save(step: Step, outcome: _Outcome, variables: dict[str, Any], saved: dict[str, Any]) -> list[Mismatch]:
    """Apply the step's saves (a path ending in '?' is optional) and sets; return what could not be saved."""
    problems: list[Mismatch] = []
    view = outcome.check.view if outcome.check else None
    for name, raw_path in step.save.items():
        optional = raw_path.endswith("?")
        try:
            path = str(_substitute(raw_path.removesuffix("?"), variables))
        except StepProblem as exc:
            problems.append(Mismatch(f"save {name}", f"a value at {raw_path}", str(exc)))
            continue
        try:
            saved[name] = lookup(view, path, skip_absent=optional)
        except PathError as exc:
            if optional:
                saved[name] = None
            else:
                problems.append(Mismatch(f"save {name}", f"a value at {path}", str(exc)))
    response = outcome.exchange.response
    for name, raw_header in step.save_headers.items():
        header = raw_header.removesuffix("?")
        value = response.header(header) if response is not None else None
        if value is None and not raw_header.endswith("?"):
            problems.append(Mismatch(f"save {name}", f"a {header} header", "absent"))
        saved[name] = value
    if step.set:
        try:
            saved.update(_substitute(step.set, {**variables, **saved}))
        except StepProblem:
            # A set of a value the DUT did not give: the failed save already says so, and the step fails on it.
            if not problems:
                raise
    return problems


async def _request_step(step: Step, ctx: RunContext, variables: dict[str, Any], record: StepRecord) -> StepRecord:
    if step.request is not None and step.request.for_each:
        return await _for_each_step(step, ctx, variables, record)
    clock = time.perf_counter()
    outcome = await _exchange(step, ctx, variables, step.expect)
    record.expected = outcome.expected
    record.exchanges.extend(_exchange_record(exchange) for exchange in outcome.exchanges)
    record.duration_s = round(time.perf_counter() - clock, 6)
    if outcome.check is None:
        record.verdict, message = _exchange_failure(outcome)
        record.message = f"step {step.index} {step.name!r}: {message}"
        return record
    check, response = outcome.check, outcome.exchange.response
    record.findings = [_finding(f) for f in check.findings]
    if response is None:  # a connection the DUT refused, as the step's tls expectation asked
        tls = outcome.exchange.tls or {}
        record.observed = {"tls": {k: tls.get(k) for k in ("outcome", "alert", "server_messages")},
                           "error": outcome.exchange.error}
        if outcome.problems:
            record.verdict, record.message = FAILED, _describe(step, outcome.problems)
        return record
    record.observed = {"status": response.status, "content_type": response.header("content-type"),
                       "resource": check.view}
    if response.status and outcome.exchange.tls and "outcome" in outcome.exchange.tls:
        record.observed["tls"] = {k: outcome.exchange.tls.get(k) for k in ("outcome", "version", "cipher")}
    # A Time just read gives `${dut_time}` to this step's own `set:` (an event start relative to it, say);
    # `${now}` stays what the request was built with, so a `set:` of it names what was sent.
    if ctx.clock.dut_read:
        variables["dut_time"] = int(ctx.clock.dut_now())
    # Saves run even when the step failed: a waived step must still give the next steps their variables.
    problems = outcome.problems + _save(step, outcome, variables, record.saved)
    record.mismatches = [{"path": m.path, "expected": m.expected, "seen": m.seen} for m in check.mismatches]
    if problems:
        record.verdict = FAILED
        record.message = _describe(step, problems)
    return record


def _for_each_items(step: Step, variables: dict[str, Any]) -> list[dict[str, Any]]:
    """The bindings of a `for_each` step, one per item: each name to the n-th item of its list."""
    assert step.request is not None
    lists: dict[str, list[Any]] = {}
    for name, ref in step.request.for_each.items():
        value = _substitute(ref, variables)
        if isinstance(value, (str, int)):
            value = [value]
        if not isinstance(value, list):
            raise StepProblem(ERROR, f"for_each: expected {ref} to be a list (a save of ...[*]... or of a for_each "
                                     f"step), saw {value!r}")
        if not step.request.each:
            # A for_each step's save of ...[*]... is a list per item: its items are sent one by one. Under
            # `each: true` an item that is a list is the set of lists that item reads, and stays whole.
            value = [v for group in value for v in (group if isinstance(group, list) else [group])]
        lists[name] = value
    if len({len(v) for v in lists.values()}) > 1:
        sizes = ", ".join(f"{step.request.for_each[name]} {len(v)}" for name, v in lists.items())
        raise StepProblem(ERROR, f"for_each: expected lists of one length, to take side by side, saw {sizes} items")
    return [dict(zip(lists, values, strict=True)) for values in zip(*lists.values(), strict=True)]


async def _for_each_step(step: Step, ctx: RunContext, variables: dict[str, Any], record: StepRecord) -> StepRecord:
    """`for_each`: the step's request once per item, each exchange judged against `expect` on its own; saves
    collect one value per item (a list, in the items' order), `set` runs once after the last. The first item
    that fails fails the step, naming the item; no item at all makes the step not applicable.

    How a client does one thing per resource a list named (a Subscription POST per DERProgramList, CSIP UTIL-003
    steps 4-5) without the case knowing how many the DUT links."""
    clock = time.perf_counter()
    items = _for_each_items(step, variables)
    if not items:
        refs = ", ".join(step.request.for_each.values()) if step.request else ""
        record.verdict, record.message = NOT_APPLICABLE, f"for_each: {refs} holds no item"
        return record
    assert step.request is not None
    one = dataclasses.replace(step, request=dataclasses.replace(step.request, for_each={}), set={})
    collected: dict[str, list[Any]] = {name: [] for name in (*step.save, *step.save_headers)}
    observed: list[dict[str, Any]] = []
    for n, binding in enumerate(items, 1):
        scope = {**variables, **binding}
        label = (f"step {step.index} {step.name!r}, item {n} of {len(items)} ("
                 + ", ".join(f"{name}={value}" for name, value in binding.items()) + ")")
        outcome = await _exchange(one, ctx, scope, step.expect)
        record.expected = outcome.expected
        record.exchanges.extend(_exchange_record(exchange) for exchange in outcome.exchanges)
        if outcome.check is None:
            record.verdict, message = _exchange_failure(outcome)
            record.message = f"{label}: {message}"
            break
        record.findings.extend(_finding(f) for f in outcome.check.findings)
        response = outcome.exchange.response
        observed.append({**binding, "status": response.status if response else None,
                         "resource": outcome.check.view})
        saved: dict[str, Any] = {}
        problems = outcome.problems + _save(one, outcome, scope, saved)
        for name, values in collected.items():
            values.append(saved.get(name))
        if problems:
            record.mismatches = [{"path": m.path, "expected": m.expected, "seen": m.seen}
                                 for m in outcome.check.mismatches]
            record.verdict, record.message = FAILED, _describe(step, problems, label)
            break
    record.observed = {"for_each": observed}
    record.saved.update(collected)
    if step.set:
        record.saved.update(_substitute(step.set, {**variables, **record.saved}))
    record.duration_s = round(time.perf_counter() - clock, 6)
    return record


async def _choose_step(step: Step, ctx: RunContext, variables: dict[str, Any], record: StepRecord) -> StepRecord:
    """Try the options in order; take the first whose `when` and `require` hold."""
    clock = time.perf_counter()
    passed_over: list[str] = []
    for option in step.choose:
        label = f"step {step.index} {step.name!r}, option {option.index} {option.name!r}"
        reason = when_reason(option.when, variables) or identity_problem(option, ctx)
        if reason:
            passed_over.append(f"option {option.index} {option.name!r}: {reason}")
            continue
        outcome = await _exchange(option, ctx, variables, option.expect)
        record.exchanges.extend(_exchange_record(exchange) for exchange in outcome.exchanges)
        if outcome.check is None:
            record.verdict, message = _exchange_failure(outcome)
            record.message = f"{label}: {message}"
            break
        record.findings.extend(_finding(f) for f in outcome.check.findings)
        # The precondition decides whether this option applies at all; only then does its expect judge the DUT.
        require = option.require
        if require is not None:
            precondition = dataclasses.replace(require, **_substitute(
                {"headers": require.headers, "resource": require.resource}, variables))
            unmet_ = [str(m) for m in match(precondition.resource, outcome.check.view)] if (
                precondition.resource is not None) else []
            if precondition.status and outcome.exchange.response.status not in precondition.status:
                unmet_.insert(0, f"status: expected {precondition.status}, saw {outcome.exchange.response.status}")
            if unmet_:
                passed_over.append(f"option {option.index} {option.name!r}: " + "; ".join(unmet_))
                continue
        if outcome.problems:
            record.expected, record.verdict = outcome.expected, FAILED
            record.mismatches = [{"path": m.path, "expected": m.expected, "seen": m.seen}
                                 for m in outcome.check.mismatches]
            record.message = _describe(option, outcome.problems, label)
            break
        problems = _save(option, outcome, variables, record.saved)
        record.expected = outcome.expected
        record.observed = {"chosen": option.name, "passed_over": passed_over,
                           "status": outcome.exchange.response.status, "resource": outcome.check.view}
        if problems:
            record.verdict, record.message = FAILED, _describe(option, problems, label)
        break
    else:
        record.verdict = NOT_APPLICABLE
        record.message = f"step {step.index} {step.name!r}: no option applies: " + "; ".join(passed_over)
        record.observed = {"passed_over": passed_over}
    record.duration_s = round(time.perf_counter() - clock, 6)
    return record


async def run_step(step: Step, ctx: RunContext, variables: dict[str, Any], case_id: str = "") -> StepRecord:
    """Execute one step: substitute, send, check, save (or wait, or carry out an action). Never raises for what
    the DUT does; case_id names the case in what a wait reports through ctx.progress."""
    record = StepRecord(index=step.index, name=step.name, verdict=PASSED, ref=step.ref, line=step.line)
    missing = unmet(list(step.requires), ctx.profile.capabilities)
    if missing:
        record.verdict = NOT_APPLICABLE
        record.message = "the DUT profile does not declare: " + "; ".join(missing)
        return record
    reason = when_reason(step.when, variables) or identity_problem(step, ctx)
    if reason:
        record.verdict, record.message = NOT_APPLICABLE, reason
        return record
    try:
        if step.action is not None:
            return await _action_step(step, ctx, variables, record)
        if step.wait is not None:
            return await _wait_step(step, ctx, variables, record, case_id)
        if step.probe is not None:
            # Imported here: hypothesis is needed by probe steps only, not on every run's start-up.
            from harness.engine.probing import probe_step

            return await probe_step(step, ctx, variables, record, substitute=_substitute, target=_target,
                                    send=_send, exchange_record=_exchange_record, case_id=case_id)
        if step.await_ is not None:
            from harness.engine.notifications import await_step

            return await await_step(step, ctx, variables, record)
        if step.listener_state is not None:
            from harness.engine.notifications import listener_step

            return await listener_step(step, ctx, record)
        if step.discover is not None:
            from harness.engine.discovery import DiscoveryError, discover_step

            try:
                return await discover_step(step, ctx, variables, record)
            except DiscoveryError as exc:
                raise StepProblem(ERROR, str(exc)) from None
        if step.crawl is not None:
            from harness.engine.crawl import crawl_step

            return await crawl_step(step, ctx, variables, record, substitute=_substitute,
                                    target=lambda href: _target_of(href, variables, ctx), send=_send,
                                    exchange_record=_exchange_record)
        if step.choose:
            return await _choose_step(step, ctx, variables, record)
        return await _request_step(step, ctx, variables, record)
    except StepProblem as exc:
        record.verdict = exc.verdict
        record.message = f"step {step.index} {step.name!r}: {exc}"
        return record


async def _set_up(case: Case, ctx: RunContext, variables: dict[str, Any], record: TestRecord) -> bool:
    """Carry out the case's setup actions; False (with the verdict set) when the steps must not run."""
    # An action step whose `requires:` the profile does not declare will be not applicable: it is not needed.
    needed = [*case.setup, *(step.action for step in case.steps if step.action is not None
                             and not unmet(list(step.requires), ctx.profile.capabilities))]
    if not needed:
        return True
    unmapped = ctx.actions.unmapped(needed) if ctx.actions else sorted({c.name for c in needed})
    if unmapped:
        record.verdict = NOT_APPLICABLE
        record.reason = ("the DUT profile maps no way to carry out the setup action"
                         f"{'s' if len(unmapped) > 1 else ''} {', '.join(map(repr, unmapped))} "
                         "(add it under 'actions:' in the profile)")
        if ctx.actions:
            # One record per action the profile does not map, however many times the case names it.
            firsts = {c.name: c for c in reversed(needed) if c.name in unmapped}
            record.actions = [ctx.actions.unmapped_record(firsts[name]) for name in unmapped]
        return False
    assert ctx.actions is not None
    for call in case.setup:
        _set_time_variables(variables, ctx)
        action = await ctx.actions.carry_out(call, variables)
        record.actions.append(action)
        ctx.case_actions.append(action)
        if action.outcome != ACTION_DONE:
            record.verdict = ERROR
            record.reason = f"setup action {call.name!r} failed through {action.mapping}: {action.detail}"
            record.steps = [StepRecord(index=s.index, name=s.name, verdict=NOT_RUN, ref=s.ref, line=s.line,
                                       message="not run: the case's setup did not complete") for s in case.steps]
            return False
    return True


async def _listen(case: Case, ctx: RunContext, variables: dict[str, Any], record: TestRecord) -> bool:
    """Start the run's notification listener for the case and give it `${listener.url}`; False (the case an
    error with the reason, its steps not run) when there is no listener or it cannot start."""
    problem = "the run has no notification listener" if ctx.listener is None else await ctx.listener.ensure_started()
    if problem is None:
        variables["listener"] = ctx.listener.begin_case(case.id, case.listener)
        return True
    record.verdict, record.reason = ERROR, problem
    record.steps = [StepRecord(index=s.index, name=s.name, verdict=NOT_RUN, ref=s.ref, line=s.line,
                               message="not run: the notification listener is not available") for s in case.steps]
    return False


def _end_listening(ctx: RunContext, record: TestRecord) -> None:
    """Keep the Notifications no step judged as evidence (on the last step that ran), and free the paths."""
    from harness.engine.notifications import unjudged_records

    if ctx.listener is None or ctx.listener.case is None:
        return
    left = ctx.listener.end_case()
    ran = [step for step in record.steps if step.verdict != NOT_RUN]
    if left and ran:
        ran[-1].exchanges.extend(unjudged_records(left, ctx.listener))


def _set_time_variables(variables: dict[str, Any], ctx: RunContext) -> None:
    """`${now}`: our clock on the DUT's timeline; `${dut_time}`: the DUT's clock, once its Time has been read."""
    variables["now"] = int(ctx.clock.now())
    if ctx.clock.dut_read:
        variables["dut_time"] = int(ctx.clock.dut_now())
    else:
        variables.pop("dut_time", None)


def _after_wait(step: Step, record: StepRecord, after_wait: WaitTarget | None, ctx: RunContext) -> WaitTarget | None:
    """Judge the harness's lateness on the request step right after a wait (harness.engine.lateness): a failure
    sent later than the wait's target + late is an error. Returns the wait the next step is right after, if any."""
    if step.wait is not None:
        if record.verdict != PASSED:
            return None
        return WaitTarget(record.expected["until"], step.wait.purpose, record.expected["late_s"])
    if after_wait is None or step.await_ is not None:
        return None
    if step.action is not None or not record.exchanges:
        return after_wait  # nothing sent yet: the next request is still the one right after the wait
    if record.verdict == FAILED:
        problem = request_lateness(after_wait, ctx.clock, record.exchanges[0].started)
        if problem:
            record.verdict = ERROR
            saw = record.message.removeprefix(f"step {step.index} {step.name!r}: ")
            record.message = f"step {step.index} {step.name!r}: {problem} (the step saw: {saw})"
    return None


def _checked(step: Step, record: StepRecord) -> bool:
    """Whether the step judged something the DUT sent (an action or a skipped step judges nothing; an `await`
    step judges the Notification it received)."""
    return step.action is None and bool(record.exchanges) and record.verdict in (PASSED, FAILED, WAIVED)


def _settle_waivers(case: Case, ctx: RunContext, record: TestRecord) -> None:
    """Record what became of each of the profile's waivers for this case, stale ones included."""
    by_index = {step.index: step for step in record.steps}
    for waiver in ctx.profile.waivers:
        if waiver.case != case.id:
            continue
        step = by_index.get(waiver.step)
        if waiver.step > len(case.steps):
            status = WAIVER_NO_SUCH_STEP
        elif step is None or step.verdict in (NOT_RUN, NOT_APPLICABLE):
            status = WAIVER_NOT_REACHED
        elif step.verdict == WAIVED:
            status = WAIVER_APPLIED
        elif step.verdict == PASSED:
            status = WAIVER_STEP_PASSED
        else:
            status = WAIVER_NOT_REACHED
        record.waivers.append({"step": waiver.step, "reason": waiver.reason, "by": waiver.by, "status": status})


async def run_case(case: Case, ctx: RunContext) -> TestRecord:
    """Run every step of a case in order, stopping at the first failure or error.

    A case in which no step judged anything the DUT sent is not applicable, with the steps' reasons: a
    verdict of passed always means something was checked. Time is judged by the run's clock: each case reads
    the DUT's Time itself before it uses the DUT's time (a reading from another case is not reused).
    """
    if case.role == "client" and ctx.test_server is not None:
        from harness.engine.client_runner import run_client_case

        return await run_client_case(case, ctx)
    ctx.clock.reading = None
    with judging_time_by(ctx.clock.now):
        return await _run_case(case, ctx)


async def _run_case(case: Case, ctx: RunContext) -> TestRecord:
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
        started=ctx.clock.wall(),
    )
    clock = time.perf_counter()
    CURRENT_CASE.set(case.id)  # for progress lines; the task running this case has its own context
    reason = not_applicable_reason(case, ctx)
    if reason:
        record.verdict, record.reason = NOT_APPLICABLE, reason
        return record
    variables: dict[str, Any] = {**ctx.builtins, **case.variables}
    waivers = {w.step: w for w in ctx.profile.waivers if w.case == case.id}
    checked = False
    stopped = ""
    after_wait: WaitTarget | None = None
    ctx.case_actions = []
    try:
        if case.uses_listener and not await _listen(case, ctx, variables, record):
            record.duration_s = round(time.perf_counter() - clock, 6)
            return record
        if not await _set_up(case, ctx, variables, record):
            record.duration_s = round(time.perf_counter() - clock, 6)
            return record
        for step in case.steps:
            if stopped:
                record.steps.append(StepRecord(index=step.index, name=step.name, verdict=NOT_RUN, ref=step.ref,
                                               line=step.line, message=f"not run: {stopped}"))
                continue
            _set_time_variables(variables, ctx)
            step_record = await run_step(step, ctx, variables, case.id)
            after_wait = _after_wait(step, step_record, after_wait, ctx)
            record.steps.append(step_record)
            record.actions.extend(step_record.actions)
            variables.update(step_record.saved)
            checked = checked or _checked(step, step_record)
            waiver = waivers.get(step.index)
            if step_record.verdict == FAILED and waiver:
                # A waived check is shown, never hidden: the step keeps its failure message, the test the reason.
                step_record.verdict = WAIVED
            elif step_record.verdict in (FAILED, ERROR):
                record.verdict, record.reason = step_record.verdict, step_record.message
                stopped = "an earlier step did not pass"
            elif step.choose and step_record.verdict == NOT_APPLICABLE and "passed_over" in step_record.observed:
                # Every later step depends on the choice: the procedure cannot be carried out on this DUT.
                record.verdict, record.reason = NOT_APPLICABLE, step_record.message
                stopped = "no option of an earlier choice applies"
        if record.verdict == PASSED and not checked:
            reasons = [f"step {s.index}: {s.message}" for s in record.steps if s.verdict == NOT_APPLICABLE]
            record.verdict = NOT_APPLICABLE
            record.reason = "nothing was checked" + (": " + "; ".join(reasons) if reasons else "")
        _settle_waivers(case, ctx, record)
    except Exception as exc:  # a harness bug must still leave a complete, honest record
        record.verdict = ERROR
        record.reason = f"harness error: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
    finally:
        if case.uses_listener:
            _end_listening(ctx, record)
    record.duration_s = round(time.perf_counter() - clock, 6)
    return record
