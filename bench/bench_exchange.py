"""Per-exchange cost of the full check pipeline against a bare httpx loop, on the same reference server.

  bare   httpx.AsyncClient(verify=client_context(...)) GET /dcap, body read, nothing else
  ours   run_step on a one-step in-memory case: GET /dcap through HttpTransport, then status,
         Content-Type, schema (DeviceCapability) and resource (TimeLink.href present) checks,
         plus a save, i.e. everything a test-case step does

Both use the same TLS client context, keep-alive and the same server process. Rounds alternate
(bare, ours, ours, bare, ...) and the medians of the per-round means are compared.

Run: /work/venv/bin/python bench/bench_exchange.py [--n 200] [--rounds 9]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from harness.cases.model import DutProfile, ExpectSpec, RequestSpec, Step
from harness.engine.context import RunContext, builtin_variables
from harness.engine.runner import run_step
from harness.pki import make_test_pki
from harness.reference.process import start_reference_server
from harness.results import PASSED
from harness.sep.schema import SchemaSet
from harness.sep.tls import client_context
from harness.transport.http import HttpTransport

TARGET_RATIO = 1.15

STEP = Step(
    index=1,
    name="GET DeviceCapability",
    line=1,
    request=RequestSpec(method="GET", path="${dcap}"),
    expect=ExpectSpec(
        status=(200,),
        content_type="application/sep+xml",
        schema="DeviceCapability",
        resource={"TimeLink": {"href": "present"}, "pollRate": {"min": 1}},
    ),
    save={"tm": "TimeLink.href"},
)


async def bare_round(client: httpx.AsyncClient, url: str, n: int) -> float:
    """Mean seconds per GET with a bare httpx client."""
    start = time.perf_counter()
    for _ in range(n):
        response = await client.get(url)
        response.read()
        assert response.status_code == 200
    return (time.perf_counter() - start) / n


async def ours_round(ctx: RunContext, n: int) -> float:
    """Mean seconds per step through run_step (send, check, validate, save)."""
    start = time.perf_counter()
    for _ in range(n):
        record = await run_step(STEP, ctx, dict(ctx.builtins))
        assert record.verdict == PASSED, record.message
    return (time.perf_counter() - start) / n


async def bench(base_url: str, cert: Path, key: Path, ca: Path, n: int, rounds: int) -> dict[str, list[float]]:
    """Interleaved rounds of both loops; returns the per-round means."""
    context = client_context(cert, key, ca)
    profile = DutProfile(role="server", base_url=base_url, capabilities=frozenset({"time"}))
    transport = HttpTransport(context, allowed_origins=[base_url])
    ctx = RunContext(profile=profile, base_url=base_url, transport=transport, schema=SchemaSet.bundled(),
                     builtins=builtin_variables(profile, base_url))
    timeout = httpx.Timeout(10.0, connect=5.0)
    # Same client settings as HttpTransport, so only the pipeline differs.
    async with httpx.AsyncClient(verify=context, timeout=timeout, trust_env=False, follow_redirects=False,
                                 headers={"Accept-Encoding": "identity", "User-Agent": "csip-harness"}) as client:
        url = base_url + "/dcap"
        await bare_round(client, url, 20)  # warm-up: connection, TLS session, lazy imports
        await ours_round(ctx, 20)
        times: dict[str, list[float]] = {"bare": [], "ours": []}
        for round_ in range(rounds):
            order = ("bare", "ours") if round_ % 2 == 0 else ("ours", "bare")
            for name in order:
                if name == "bare":
                    times[name].append(await bare_round(client, url, n))
                else:
                    times[name].append(await ours_round(ctx, n))
    await transport.aclose()
    return times


def main(argv: list[str] | None = None) -> int:
    """Start the reference server, run the interleaved rounds, print ms/exchange and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="exchanges per round")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-exchange-") as tmp:
        pki = make_test_pki(Path(tmp))
        client = pki.clients["client"]
        with start_reference_server(pki) as server:
            times = asyncio.run(bench(server.base_url, client.cert, client.key, pki.ca, args.n, args.rounds))
    median = {name: statistics.median(values) * 1000 for name, values in times.items()}
    for name, values in times.items():
        spread = f"{min(values) * 1000:.3f}..{max(values) * 1000:.3f}"
        print(f"{name:<5} {median[name]:.3f} ms/exchange   (round means {spread}, {args.rounds}×{args.n})")
    ratio = median["ours"] / median["bare"]
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(f"SUMMARY exchange bare-httpx {median['bare']:.3f} ms/exchange")
    print(f"SUMMARY exchange ours-run_step {median['ours']:.3f} ms/exchange ratio {ratio:.2f}x "
          f"({verdict} target <= {TARGET_RATIO}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
