"""Request/reply latency (p50/p99) and throughput of the same reference resources over native NATS, the
InterSTORE tunnel and HTTPS on loopback, in XML and CUPID's JSON, in one run.

One reference server answers over HTTPS and, through a private nats-server, over both NATS mappings. For each
carriage and encoding the harness's own transport (HttpTransport, NatsTransport) GETs a rotation of
resources (/dcap, /tm, /edev, /derp, /derp/1/derc) `--n` times sequentially (latency: p50 and p99 of the
single exchanges) and then `--concurrency` at a time (throughput, exchanges/s). Rounds alternate the
carriages; figures are medians over the rounds.

Run: /work/venv/bin/python bench/bench_nats.py [--n 400] [--rounds 3] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.codec.cupid_json import MEDIA_TYPE_JSON
from harness.pki import make_test_pki
from harness.reference.natsd import NatsServer
from harness.reference.process import start_reference_server
from harness.sep import MEDIA_TYPE_XML
from harness.sep.identity import certificate_der, lfdi, sfdi
from harness.sep.tls import client_context
from harness.transport.base import Request
from harness.transport.http import HttpTransport, origin
from harness.transport.nats import INTERSTORE, NATIVE, NatsMapping, NatsTransport

TARGET_RATIO = 0.5  # native NATS p50 <= 0.5x HTTPS p50
PATHS = ("/dcap", "/tm", "/edev", "/derp", "/derp/1/derc")


def make_transport(kind: str, base: str, context: Any, identity: dict[str, str]) -> Any:
    if kind == "https":
        return HttpTransport(context, allowed_origins=[origin(base)])
    mode = NATIVE if kind == "nats-native" else INTERSTORE
    return NatsTransport(base, NatsMapping(mode), lfdi=identity["lfdi"], sfdi=identity["sfdi"])


async def measure(transport: Any, base: str, accept: str, n: int, concurrency: int) -> tuple[list[float], float]:
    """(latencies of n sequential exchanges in seconds, exchanges/s with concurrency in flight)."""
    headers = [("Accept", accept)]

    async def one(i: int) -> float:
        start = time.perf_counter()
        got = await transport.exchange(Request("GET", base + PATHS[i % len(PATHS)], headers))
        assert got.ok and got.response.status == 200, (got.error, got.response)
        return time.perf_counter() - start

    for i in range(20):  # warm: connections, caches
        await one(i)
    latencies = [await one(i) for i in range(n)]
    queue = iter(range(n))

    async def worker() -> None:
        for i in queue:
            await one(i)
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, n / (time.perf_counter() - start)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    pki = make_test_pki(Path(tempfile.mkdtemp(prefix="bench-nats-")), clients=("client",), profiles=False)
    client = pki.clients["client"]
    der = certificate_der(client.cert)
    identity = {"lfdi": lfdi(der), "sfdi": str(sfdi(der))}
    context = client_context(client.cert, client.key, pki.ca)
    kinds = ("https", "nats-native", "nats-interstore")
    encodings = {"xml": MEDIA_TYPE_XML, "json": MEDIA_TYPE_JSON}
    results: dict[tuple[str, str], dict[str, list[float]]] = {}
    with NatsServer() as natsd, start_reference_server(pki, preregister=[(client.cert, 111115)],
                                                       extra_args=["--nats", natsd.url]) as server:
        bases = {"https": server.base_url, "nats-native": natsd.url, "nats-interstore": natsd.url}
        for round_index in range(args.rounds):
            order = kinds if round_index % 2 == 0 else tuple(reversed(kinds))
            for kind in order:
                for encoding, accept in encodings.items():
                    async def go(kind: str = kind, accept: str = accept) -> tuple[list[float], float]:
                        transport = make_transport(kind, bases[kind], context, identity)
                        try:
                            return await measure(transport, bases[kind], accept, args.n, args.concurrency)
                        finally:
                            await transport.aclose()
                    latencies, rate = asyncio.run(go())
                    entry = results.setdefault((kind, encoding), {"p50": [], "p99": [], "rate": []})
                    entry["p50"].append(pct(latencies, 0.5))
                    entry["p99"].append(pct(latencies, 0.99))
                    entry["rate"].append(rate)
    print(f"{'carriage':<16} {'enc':<5} {'p50 ms':>8} {'p99 ms':>8} {'exch/s':>8}  (medians of {args.rounds} rounds, "
          f"n={args.n}, concurrency {args.concurrency})")
    figures: dict[tuple[str, str], tuple[float, float, float]] = {}
    for (kind, encoding), entry in results.items():
        p50, p99, rate = (statistics.median(entry[k]) for k in ("p50", "p99", "rate"))
        figures[(kind, encoding)] = (p50, p99, rate)
        print(f"{kind:<16} {encoding:<5} {p50 * 1000:8.3f} {p99 * 1000:8.3f} {rate:8.0f}")
    for encoding in encodings:
        ratio = figures[("nats-native", encoding)][0] / figures[("https", encoding)][0]
        verdict = "meets" if ratio <= TARGET_RATIO else "misses"
        print(f"SUMMARY nats native/https p50 {encoding} {ratio:.2f}x ({verdict} target <= {TARGET_RATIO}x)")
        tunnel = figures[("nats-interstore", encoding)][0] / figures[("https", encoding)][0]
        print(f"SUMMARY nats tunnel/https p50 {encoding} {tunnel:.2f}x")


if __name__ == "__main__":
    main()
