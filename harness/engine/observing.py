"""A client case's `observe:` step: read what the DER really does, out of band, and judge it with the matchers.

The wire shows what a DER says (its Responses); CSIP's client procedures also require what it does ("the power
factor changes at the start and reverts at the end", "the client stored all seven programs"). An observation
(harness/actions/registry.yaml, kind observation) reads it through the DUT profile's mapping; the step's `expect`
matchers apply to the value, as to a resource view. Until `within` server seconds from the step's start (or the
server time `before`) pass, a mismatching observation is read again (every 5 server seconds; an operator is
asked once): a DER takes a moment to apply a control.

Verdicts: no mapping for the observation -> the step is not applicable, and a case that passes everything else is
not applicable (never a pass) - see harness.engine.client_runner; an observation that cannot be read (the
mapping failed, an operator is needed in an unattended run) -> error; a value that does not match -> failed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from harness.actions.observe import shown
from harness.cases.matchers import Mismatch, match
from harness.cases.model import ActionCall, Step
from harness.cases.paths import PathError, lookup
from harness.cases.variables import VariableError, substitute
from harness.engine.context import RunContext
from harness.results import ACTION_DONE, ERROR, FAILED, NOT_APPLICABLE, StepRecord

# The keys of an observe step besides the observation's name.
OBSERVE_KEYS = ("expect", "within", "before")
REREAD_EVERY_S = 5.0  # server seconds between two reads of a mismatching observation
_MIN_REAL_PAUSE = 0.05
_MAX_SHOWN = 5
UNMAPPED_PREFIX = "the DUT profile maps no way to observe"


def as_view(value: Any) -> Any:
    """An observed JSON value shaped like a resource view, so the matchers treat it alike: scalars as text
    (true/false, numbers in decimal), null members left out (absent)."""
    if isinstance(value, dict):
        return {str(k): as_view(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [as_view(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return None
    return str(value)


class ObserveProblem(Exception):
    """The step did not pass: verdict (failed or error) and why."""

    def __init__(self, verdict: str, message: str) -> None:
        super().__init__(message)
        self.verdict = verdict


def _deadline(spec: dict[str, Any], now: float) -> float:
    if "before" in spec:
        try:
            return float(spec["before"])
        except (TypeError, ValueError):
            raise ObserveProblem(ERROR, f"before: expected a TimeType (seconds), saw {spec['before']!r}") from None
    return now + float(spec.get("within", 0))


async def observe_step(step: Step, ctx: RunContext, server_now: Any, variables: dict[str, Any],
                       record: StepRecord) -> None:
    """Carry out an observe step into record; ObserveProblem when it fails or errs, record.verdict not applicable
    when the DUT profile maps no way to read the observation. server_now() is the test server's clock."""
    assert step.client is not None and step.client.observation is not None
    call = step.client.observation
    try:
        spec = substitute(step.client.spec, variables)
    except VariableError as exc:
        raise ObserveProblem(ERROR if exc.unknown else FAILED, str(exc)) from None
    expected = spec.get("expect") or {}
    record.expected = {"observation": call.name, **({"expect": expected} if expected else {})}
    if ctx.actions is None or ctx.actions.unmapped([call]):
        record.verdict = NOT_APPLICABLE
        record.message = (f"{UNMAPPED_PREFIX} {call.name!r} (add it under 'actions:' in the profile): what the "
                          f"DER really does is not judged")
        return
    begun = server_now()
    deadline = _deadline(spec, begun)
    if "before" in spec or "within" in spec:
        record.expected["by"] = int(deadline)
    once = ctx.profile.actions[call.name].kind == "operator"
    reads = 0
    while True:
        action, value = await ctx.actions.observe(ActionCall(call.name, spec.get(call.name) or {}, call.line),
                                                  variables)
        reads += 1
        # The first read and the last one are kept: a hundred identical reads say nothing more.
        record.actions[1:] = [action]
        if action.outcome != ACTION_DONE:
            raise ObserveProblem(ERROR, f"observation {call.name!r} could not be read through {action.mapping}: "
                                        f"{action.detail}")
        at = server_now()
        view = as_view(value)
        record.observed = {"at": int(at), "value": value, "reads": reads}
        mismatches: list[Mismatch] = match(expected, view, call.name) if expected else []
        if not mismatches:
            break
        if once or at >= deadline:
            shown_problems = "; ".join(str(m) for m in mismatches[:_MAX_SHOWN])
            waited = f" (read {reads} times until server time {deadline:.0f})" if reads > 1 else ""
            raise ObserveProblem(FAILED, f"the DER's {call.name} at server time {at:.0f}{waited}: {shown_problems}; "
                                         f"observed {shown(value)}")
        ctx.progress(f"{step.name}: the DER's {call.name} does not match yet ({deadline - at:.0f} s left)")
        await asyncio.sleep(max(_MIN_REAL_PAUSE, ctx.clock.real_seconds(min(REREAD_EVERY_S, deadline - at))))
    for name, path in step.save.items():
        optional = path.endswith("?")
        try:
            record.saved[name] = lookup(view or {}, path.removesuffix("?"))
        except PathError as exc:
            if not optional:
                raise ObserveProblem(FAILED, f"save {name}: expected a value at {path} of the observed "
                                             f"{call.name}, {exc}") from None
            record.saved[name] = None
