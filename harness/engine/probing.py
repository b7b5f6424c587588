"""Robustness probe steps (`probe:`): generated schema-valid and one-change-invalid resources sent where the DUT
accepts them, beyond what the CSIP procedures ask.

A conforming 2030.5 server answers a schema-valid body it accepts with 2xx and an invalid one with a 4xx, never
5xx, and never keeps an invalid resource: after an invalid body the resource is read back (the 2xx's Location for
a POST, the URL for a PUT) and must not be served as the invalid document. What 2030.5 asks beyond that is a
warning finding, never a failure: 400 with an Error body for an invalid one (IEEE 2030.5-2018 §6.5 "HTTP response
codes"; the Error resource is what a server may add), and 2xx for a schema-valid one (a server may refuse, with a
4xx, a document the schema allows but its own rules do not, a value 2030.5 marks reserved or a time it will not
take). The examples are drawn by hypothesis
(`harness.engine.probe_data`) from a seed; a failing example is shrunk by hypothesis to the smallest one that
still fails, and the step's message gives it with the seed and the commands that replay it. Every example is
checked against the schema before it is sent, so the DUT is never blamed for a generator's mistake.

The seed is random unless the environment gives `CSIP_PROBE_SEED` (what the replay command sets) or the step
its own `seed:`; it is always recorded in the step's observed values.
"""

from __future__ import annotations

import asyncio
import os
import random
import shlex
import tempfile
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, Phase, Verbosity, assume, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.configuration import set_hypothesis_home_dir

from harness.cases.model import RequestSpec
from harness.engine.probe_data import Mutant, Node, ProbeData
from harness.results import ERROR, FAILED, FindingRecord
from harness.sep import MEDIA_TYPE_XML
from harness.sep.safexml import XMLRejected, parse_xml
from harness.transport.base import Exchange, Request

if TYPE_CHECKING:
    from harness.cases.model import Step
    from harness.engine.context import RunContext
    from harness.results import StepRecord

SEED_VARIABLE = "CSIP_PROBE_SEED"
_EXCHANGE_TIMEOUT = 120.0


class _Unmet(AssertionError):
    """An example the DUT answered as a conforming server would not (hypothesis shrinks it)."""


class _Broken(Exception):
    """An exchange that brought no response: the probe stops with an error (no shrinking of the environment)."""


@dataclass
class _Failure:
    kind: str  # "valid" or "invalid"
    body: bytes
    change: str | None
    problem: str
    exchanges: list[Exchange] = field(default_factory=list)


def _local(root_tag: str) -> str:
    return root_tag.rsplit("}", 1)[-1]


def _root_of(body: bytes) -> str | None:
    try:
        return _local(parse_xml(body).tag) if body else None
    except XMLRejected:
        return None


def _seen(exchange: Exchange) -> str:
    response = exchange.response
    assert response is not None
    kind = response.header("content-type") or "no Content-Type"
    root = _root_of(response.body)
    return f"{response.status} ({kind}{', ' + root if root else ''}, {len(response.body)} bytes)"


class _Prober:
    """Sends and judges one kind of example for one probe step (runs in a worker thread, sends on the loop)."""

    def __init__(self, step: Step, ctx: RunContext, url: str, loop: asyncio.AbstractEventLoop, send: Any) -> None:
        assert step.probe is not None
        self.step, self.ctx, self.url, self.loop, self.send = step, ctx, url, loop, send
        self.spec = step.probe
        self.warnings: dict[str, str] = {}  # one warning per kind of answer, with its first example

    def warn(self, key: str, message: str) -> None:
        self.warnings.setdefault(key, message)

    def exchange(self, method: str, url: str, body: bytes = b"") -> Exchange:
        headers = [("Accept", MEDIA_TYPE_XML)] + ([("Content-Type", MEDIA_TYPE_XML)] if body else [])
        request = Request(method=method, url=url, headers=headers, body=body)
        exchange = asyncio.run_coroutine_threadsafe(self.send(self.step, self.ctx, request), self.loop).result(
            _EXCHANGE_TIMEOUT)
        if exchange.error or exchange.response is None:
            raise _Broken(f"{method} {url}: {exchange.error or 'no response'}")
        return exchange

    def read_back(self, sent: Exchange) -> tuple[Exchange | None, str | None]:
        """GET what a 2xx may have stored: the Location of a POST, the URL of a PUT."""
        assert sent.response is not None
        where = sent.response.header("Location") if self.spec.method == "POST" else self.url
        if not where or not self.spec.read_back:
            return None, None
        if where.startswith("/"):
            where = self.ctx.base_url.rstrip("/") + where
        if not where.startswith(("http://", "https://")):
            return None, None
        got = self.exchange("GET", where)
        return got, where

    def _valid(self, exchange: Exchange) -> bool:
        assert exchange.response is not None
        try:
            return self.ctx.schema.is_valid(parse_xml(exchange.response.body))
        except XMLRejected:
            return False

    def judge(self, body: bytes, valid: bool, change: str | None) -> tuple[list[Exchange], str | None]:
        sent = self.exchange(self.spec.method, self.url, body)
        exchanges = [sent]
        response = sent.response
        assert response is not None
        what = f"a schema-valid {self.spec.resource}" if valid else f"an invalid {self.spec.resource} ({change})"
        if response.status >= 500:
            return exchanges, f"{what}: expected {'2xx' if valid else '400 with an Error'}, saw {_seen(sent)}, a " \
                              f"server error"
        if valid:
            if 400 <= response.status < 500:
                self.warn(f"valid {response.status}", f"{what} was refused: a 2xx was expected, saw {_seen(sent)} "
                                                      f"(a server may refuse what the schema allows; example: "
                                                      f"{body.decode()})")
                return exchanges, None
            if not 200 <= response.status < 300:
                return exchanges, f"{what}: expected 2xx, saw {_seen(sent)}"
            got, where = self.read_back(sent)
            if got is not None:
                exchanges.append(got)
            return exchanges, None
        if 200 <= response.status < 300:
            got, where = self.read_back(sent)
            stored = ""
            if got is not None:
                exchanges.append(got)
                assert got.response is not None
                # A POST's Location answering is the invalid resource kept; a PUT's URL always answers, so
                # there what it serves must be schema-invalid (the document as sent) to count as kept.
                kept = got.response.status == 200 and (self.spec.method == "POST" or not self._valid(got))
                if kept:
                    stored = f"; and stored it: GET {where} answers 200"
            return exchanges, f"{what}: expected 400 with an Error, saw {_seen(sent)}{stored}"
        if not 400 <= response.status < 500:
            return exchanges, f"{what}: expected 400 with an Error body, saw {_seen(sent)}"
        if response.status != 400 or _root_of(response.body) != "Error":
            self.warn(f"invalid {response.status} {_root_of(response.body)}",
                      f"{what} was refused with {_seen(sent)}: IEEE 2030.5 asks for 400 Bad Request, which may carry "
                      f"an Error body")
        if self.spec.method == "PUT" and self.spec.read_back:
            got = self.exchange("GET", self.url)
            exchanges.append(got)
            assert got.response is not None
            if got.response.status == 200 and got.response.body.strip() == body.strip():
                return exchanges, f"{what}: answered 400, yet GET {self.url} serves the invalid document"
        return exchanges, None

    def run(self, valid: bool, seed: int, counts: dict[str, int]) -> _Failure | None:
        """Draw examples (hypothesis, seeded), judge each; the shrunk failing example, or None."""
        data = ProbeData(self.ctx.schema.structure())
        fixed = self.spec.fields
        include = self.spec.include
        strategy = (data.document(self.spec.resource, fixed, include) if valid
                    else data.mutant(self.spec.resource, fixed, include))
        kind = "valid" if valid else "invalid"
        failures: list[_Failure] = []
        schema = self.ctx.schema

        @hypothesis_seed(seed)
        @settings(max_examples=self.spec.examples, database=None, deadline=None, derandomize=False,
                  verbosity=Verbosity.quiet, suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                  phases=(Phase.generate, Phase.shrink))
        @given(strategy)
        def check(example: Node | Mutant) -> None:
            document, change = (example, None) if isinstance(example, Node) else (example.document, example.change)
            body = document.to_bytes()
            assume(schema.is_valid(parse_xml(body)) == valid)  # the generator's mistakes are never sent
            counts[kind] += 1
            exchanges, problem = self.judge(body, valid, change)
            if problem:
                failures.append(_Failure(kind, body, change, problem, exchanges))
                raise _Unmet(problem)

        try:
            check()
        except _Unmet:
            return failures[-1]  # hypothesis runs the shrunk example last
        return None


def _seed(step: Step) -> int:
    assert step.probe is not None
    given_seed = os.environ.get(SEED_VARIABLE, "").strip()
    if given_seed.isdigit():
        return int(given_seed)
    if step.probe.seed is not None:
        return step.probe.seed
    return random.SystemRandom().randrange(2**32)


def replay_commands(case_id: str, seed: int, method: str, url: str, body: bytes) -> list[str]:
    """The harness run that draws the same examples, and one curl command sending the shrunk example."""
    return [
        f"{SEED_VARIABLE}={seed} csip-harness run --cases <the probes folder> <your DUT options> -- -k {case_id}",
        "curl --cert client.pem --key client.key --cacert ca.pem -X " + method
        + " -H 'Content-Type: application/sep+xml' --data-binary " + shlex.quote(body.decode()) + " "
        + shlex.quote(url),
    ]


async def probe_step(step: Step, ctx: RunContext, variables: dict[str, Any], record: StepRecord, *,
                     substitute: Any, target: Any, send: Any, exchange_record: Any, case_id: str) -> StepRecord:
    """Run a probe step: valid examples, then invalid ones; fail with the first kind's shrunk example."""
    assert step.probe is not None
    # hypothesis keeps caches under ./.hypothesis by default: a run must leave nothing in the lab's folder.
    set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "csip-harness-hypothesis"))
    spec = replace(step.probe, fields={k: str(v) for k, v in substitute(step.probe.fields, variables).items()})
    probing = replace(step, probe=spec, request=RequestSpec(method=spec.method, path=spec.path))
    url = target(probing, variables, ctx)
    seed = _seed(step)
    counts = {"valid": 0, "invalid": 0}
    prober = _Prober(probing, ctx, url, asyncio.get_running_loop(), send)
    failures: list[_Failure] = []
    try:
        for valid in (True, False):
            found = await asyncio.to_thread(prober.run, valid, seed, counts)
            if found is not None:
                failures.append(found)
    except _Broken as exc:
        record.verdict = ERROR
        record.message = f"step {step.index} {step.name!r}: the probe could not go on (seed {seed}): {exc}"
        record.observed = {"seed": seed, "examples": counts}
        return record
    record.expected = {"probe": spec.resource, "method": spec.method, "valid": "2xx (a 4xx is a warning)",
                       "invalid": "4xx (400 with an Error, else a warning), nothing stored",
                       "examples_each": spec.examples}
    record.findings.extend(FindingRecord(message=message, line=None, path=None, kind="protocol", severity="warning")
                           for message in prober.warnings.values())
    record.observed = {"seed": seed, "examples": counts, "failures": [
        {"kind": f.kind, "change": f.change, "problem": f.problem, "example": f.body.decode(),
         "replay": replay_commands(case_id, seed, spec.method, url, f.body)} for f in failures]}
    for failure in failures:
        record.exchanges.extend(exchange_record(e) for e in failure.exchanges)
    if failures:
        first = failures[0]
        commands = replay_commands(case_id, seed, spec.method, url, first.body)
        record.verdict = FAILED
        record.message = (f"step {step.index} {step.name!r}: {first.problem}; shrunk example: {first.body.decode()}; "
                          f"seed {seed}; replay: {commands[0]}"
                          + (f" ({len(failures)} kinds of example failed)" if len(failures) > 1 else ""))
    return record
