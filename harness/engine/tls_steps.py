"""Steps that act as a named identity or judge the TLS connection itself (COMM-003, COMM-004A..G).

A step written `as: NAME` sends through NAME's transport (harness.engine.identities). A step whose `expect` or
`should` holds `tls:` is sent through the TLS probe (harness.transport.tlsprobe): a fresh TCP connection and full
handshake, whose bytes become the step's packet trace (results-reporting RPT-060). `tls: refused` is met by a
fatal alert, a disconnect before any response, or an HTTP 403 (COMM-004 errata 7), or an answer with a status
the step's `expect: {status: [...]}` lists beside it; a completed handshake with any other answer is the DUT's
failure. `tls: {...}` checks the connection's facts (TLS_FACTS) and then the
response as usual.
"""

from __future__ import annotations

import base64
from typing import Any

from harness.cases.matchers import Mismatch
from harness.cases.model import ExpectSpec, Step
from harness.cases.variables import references
from harness.engine.context import RunContext
from harness.engine.identities import DEFAULT_IDENTITY
from harness.transport.base import FOREIGN_HOST, Exchange, Request
from harness.transport.http import HttpTransport
from harness.transport.tlsprobe import ESTABLISHED, LOCAL_REFUSAL, REFUSAL_KIND, probe

REFUSED = "refused"
# tls: {...} keys -> how the fact is read from the exchange's tls details.
TLS_FACTS = ("version", "cipher", "cipher_suite", "server_version", "client_certificate_requested",
             "server_certificate_key", "server_chain_length")
REFUSAL_SIGNALS = "a fatal TLS alert, a TCP disconnect before any response, or HTTP 403 (errata 7)"


def identity_of(step: Step) -> str:
    """The identity a step acts as."""
    return step.identity or DEFAULT_IDENTITY


def identity_problem(step: Step, ctx: RunContext) -> str | None:
    """Why the step cannot act as its identity, or use the `${identities.NAME...}` it names, on this DUT (the step
    is not applicable), or None."""
    names = [identity_of(step)]
    for expression in references(step.raw):
        parts = expression.split(".")
        if len(parts) > 1 and parts[0].strip() == "identities":
            names.append(parts[1].split("[")[0].strip())
    for name in dict.fromkeys(names):
        if name == DEFAULT_IDENTITY:
            continue
        if ctx.identities is None:
            return f"no identity {name!r}: the run has no identities"
        if name not in ctx.identities:
            return ctx.identities.missing_reason(name)
    return None


def probes(step: Step) -> bool:
    """Whether the step judges its connection (sent on a fresh connection through the TLS probe)."""
    return step.expect.tls is not None or (step.should is not None and step.should.tls is not None)


async def send(step: Step, ctx: RunContext, request: Request) -> Exchange:
    """Send request as the step's identity: through the probe when it judges TLS, else its transport."""
    name = identity_of(step)
    book = ctx.identities
    if probes(step):
        refusal = ctx.transport.refusal(request.url) if isinstance(ctx.transport, HttpTransport) else None
        if refusal:  # the probe presents a certificate too: only to the origins the user named
            return Exchange(request=request, error=refusal, error_kind=FOREIGN_HOST)
        context = book.probe_context(name) if book is not None and name in book else None
        if context is None:
            exchange = Exchange(request=request, error=f"a tls: step needs a certificate for identity {name!r} and "
                                "an https DUT", error_kind="tls")
            return exchange
        result = await probe(request, context, connect_timeout=ctx.profile.connect_timeout,
                             read_timeout=ctx.profile.read_timeout, total_timeout=ctx.profile.total_timeout,
                             max_body=ctx.profile.max_body)
        exchange = result.exchange
        if result.local and result.remote and exchange.tls is not None:
            # Imported here: the packet writer (dpkt) is needed by tls: steps only, not on every run's start-up.
            from harness.transport.pcap import pcap_bytes

            trace = pcap_bytes(result.segments, result.local, result.remote)
            exchange.tls["trace_pcap_base64"] = base64.b64encode(trace).decode("ascii")
    else:
        transport = book.transport(name) if book is not None and name != DEFAULT_IDENTITY else ctx.transport
        exchange = await transport.exchange(request)
    if exchange.tls is not None and book is not None:
        exchange.tls["client_identity"] = book.describe(name)
    return exchange


def _fact(tls: dict[str, Any], name: str) -> Any:
    chain = tls.get("certificate_chain") or []
    if name == "server_certificate_key":
        return chain[0].get("key") if chain else None
    if name == "server_chain_length":
        return len(chain)
    return tls.get(name)


def _fact_problems(wanted: dict[str, Any], tls: dict[str, Any]) -> list[Mismatch]:
    problems = []
    for name, expected in wanted.items():
        seen = _fact(tls, name)
        if name == "server_certificate_key":
            matched = seen is not None and str(expected).lower() in str(seen).lower()
        elif isinstance(seen, str) and isinstance(expected, str):
            matched = seen.lower() == expected.lower()
        else:
            matched = seen == expected
        if not matched:
            problems.append(Mismatch(f"tls.{name}", repr(expected), repr(seen)))
    return problems


def judge_tls(expect: ExpectSpec, exchange: Exchange) -> tuple[bool, list[Mismatch]]:
    """Judge a probed exchange against expect.tls: (whether the HTTP checks still apply, problems).

    Raises nothing; an exchange that could not be tried at all (connect error, timeout) is left to the
    caller's error path by returning (True, []) with no response.
    """
    wanted = expect.tls
    tls = exchange.tls or {}
    outcome = tls.get("outcome")
    refused = exchange.error_kind == REFUSAL_KIND or (exchange.response is not None and
                                                      exchange.response.status == 403)
    if wanted is None:  # only `should` asks about the connection: a refusal leaves nothing to check
        return not refused or exchange.response is not None, []
    if wanted == REFUSED:
        # `status` beside `tls: refused` names further HTTP answers that count as a refusal (e.g. 404 for a
        # resource the server hides from a client it does not know).
        answers = expect.status
        if refused or (exchange.response is not None and exchange.response.status in answers):
            return False, []
        if exchange.response is not None:
            signals = REFUSAL_SIGNALS + (f", or an answer {' or '.join(map(str, answers))}" if answers else "")
            return False, [Mismatch("tls", f"the server to refuse the certificate: {signals}",
                                    f"the handshake completed ({tls.get('version')}, {tls.get('cipher')}) and the "
                                    f"request was answered {exchange.response.status}")]
        return True, []
    if exchange.error_kind == REFUSAL_KIND:
        return False, [Mismatch("tls", "a completed TLS handshake and a response", exchange.error or outcome)]
    if outcome == LOCAL_REFUSAL:
        return False, [Mismatch("tls", "a server certificate chaining to the SERCA the harness trusts",
                                exchange.error)]
    if outcome != ESTABLISHED or not isinstance(wanted, dict):
        return True, []
    return True, _fact_problems(wanted, tls)


def advise_tls(should: ExpectSpec, exchange: Exchange) -> list[str]:
    """Warnings for what `should: {tls: ...}` asks and the connection did not show (never failures)."""
    if should.tls is None:
        return []
    _, problems = judge_tls(should, exchange)
    return [str(problem) for problem in problems]
