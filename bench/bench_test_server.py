"""The test server at scale: 1, 100 and 1,000 reference DERs in one client process against OUR test server.

The test server (harness.server.testserver, what a client-role run serves a DUT from) runs in a process of its
own, serving fixtures/trees/der-basic.yaml repeated per device (harness.server.fleet: an EndDevice per device
LFDI, each client seeing only its own in the EndDeviceList), with every device certificate of the run's PKI
known to it. One reference DER client process runs N devices, each with its own certificate, key and TLS
connection. Measured until every device has finished its first walk (discovery from /dcap to the DERPrograms,
the DER PUTs read back, the MirrorUsagePoint and a first MirrorMeterReading POSTed), or --timeout:

  discovered/s       N / seconds from the client's start to the last device's first full walk
  requests/s         requests the test server logged in that time / that time (its own count, not the client's)
  p50/p99 latency    of every request as the client measured it (TLS handshake included on the first), ms;
                     and the test server's own time in its handler per request (parse, schema, tree, log), ms
  peak RSS           VmHWM of the client and of the test server process, MB

Ratios are against the first fleet size (1 device) of the same run. Target (issue 15): 1,000 devices discover and
finish a first poll cycle on 2 cores with the client process at most 300 MB.

Run: .venv/bin/python bench/bench_test_server.py [--sizes 1,100,1000] [--timeout 600]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness.pki import TestPki, make_device_certificates, make_test_pki
from harness.reference.derclient.process import spawn_der_client

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet_figures import cpu_seconds, fleet_parser, peak_rss_mb, run_fleets, wait_walked  # noqa: E402

TARGET_RSS_MB = 300
TREE = Path(__file__).resolve().parent.parent / "fixtures" / "trees" / "der-basic.yaml"


def percentile(values: list[float], fraction: float) -> float:
    """The value below which fraction of values lie (nearest rank); nan for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# --- the test server's process --------------------------------------------------------------------


async def serve(spec: dict) -> None:
    """Serve the fleet tree of spec until SIGTERM; then write the server's figures to spec['stats']."""
    from harness.engine.clock import Clock
    from harness.sep.schema import SchemaSet
    from harness.sep.tls import server_context
    from harness.server.clientrun import device_variables
    from harness.server.fleet import fleet_tree
    from harness.server.testserver import TestServer

    clock = Clock(1.0)
    devices = [device_variables(Path(cert), None, name=f"d{number}") for number, cert in enumerate(spec["certs"])]
    tree = fleet_tree(spec["tree"], devices, {"now": int(clock.now())}, clock.now)
    server = TestServer(tree, clock, SchemaSet.bundled(), {d["lfdi"]: d["name"] for d in devices})
    handled: list[float] = []
    inner = server.handle

    async def timed(request):  # type: ignore[no-untyped-def]
        begun = time.perf_counter()
        try:
            return await inner(request)
        finally:
            handled.append(time.perf_counter() - begun)

    server.handle = timed  # type: ignore[method-assign]
    base_url = await server.start(server_context(spec["server_cert"], spec["server_key"], spec["ca"]))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    Path(spec["ready"]).write_text(json.dumps({"base_url": base_url}))
    await stop.wait()
    statuses: dict[str, int] = {}
    for entry in server.log:
        statuses[str(entry.status)] = statuses.get(str(entry.status), 0) + 1
    Path(spec["stats"]).write_text(json.dumps({
        "walls": [entry.wall for entry in server.log], "statuses": statuses,
        "unknown": sum(1 for entry in server.log if entry.client == "unknown"),
        "handle_ms": [round(s * 1000, 3) for s in handled]}))
    await server.close()


def start_server(pki: TestPki, certs: list[Path], folder: Path) -> tuple[subprocess.Popen, str, Path]:
    """The test server's process (this script with --serve), once it listens: (process, base URL, stats file)."""
    spec = {"tree": str(TREE), "certs": [str(c) for c in certs], "server_cert": str(pki.server.cert),
            "server_key": str(pki.server.key), "ca": str(pki.ca), "ready": str(folder / "ready.json"),
            "stats": str(folder / "stats.json")}
    (folder / "spec.json").write_text(json.dumps(spec))
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(folder / "spec.json")])
    deadline = time.monotonic() + 300
    while not (folder / "ready.json").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the test server did not start (exit status {process.poll()})")
        time.sleep(0.05)
    return process, json.loads((folder / "ready.json").read_text())["base_url"], folder / "stats.json"


# --- one fleet --------------------------------------------------------------------------------------


def measure(size: int, base: Path, timeout: float) -> dict[str, float]:
    """Run N devices against the test server to their first full walk; the figures."""
    folder = base / f"n{size}"
    pki = make_test_pki(folder / "pki", key_dir=folder / "keys", profiles=False)
    made = time.perf_counter()
    pairs = [pki.clients["client"], *make_device_certificates(pki, size - 1, folder / "certs",
                                                              key_dir=folder / "dkeys")]
    cert_seconds = time.perf_counter() - made
    made = time.perf_counter()
    server, base_url, stats_file = start_server(pki, [p.cert for p in pairs], folder)
    server_start = time.perf_counter() - made
    server_cpu_idle = cpu_seconds(server.pid)
    try:
        client = spawn_der_client(pki, base_url + "/dcap", devices=size, device_certs=pairs).wait_ready(120)
        try:
            stats = wait_walked(client.admin_url, size, timeout)
            done_wall = time.time()
            client_rss, server_rss = peak_rss_mb(client.pid), peak_rss_mb(server.pid)
            client_cpu, server_cpu = cpu_seconds(client.pid), cpu_seconds(server.pid) - server_cpu_idle
        finally:
            client.stop()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(120)
    served = json.loads(stats_file.read_text())
    walled = [w for w in served["walls"] if w <= done_wall]
    walked = max(stats["discovered_after"], default=float("nan"))
    window = (max(walled) - min(walled)) if len(walled) > 1 else walked
    handle = served["handle_ms"]
    return {
        "devices": size, "discovered": stats["discovered"], "seconds": walked,
        "discovered_per_s": stats["discovered"] / walked, "client_requests": stats["requests"],
        "served": len(walled), "served_per_s": len(walled) / window if window else float("nan"),
        "statuses": served["statuses"], "unknown": served["unknown"], "failures": stats["failures"],
        "p50_ms": stats["latency_ms"]["p50"], "p99_ms": stats["latency_ms"]["p99"],
        "handle_p50_ms": percentile(handle, 0.5), "handle_p99_ms": percentile(handle, 0.99),
        "handle_mean_ms": statistics.fmean(handle) if handle else float("nan"),
        "client_rss_mb": client_rss, "server_rss_mb": server_rss, "cert_seconds": cert_seconds,
        "server_start_s": server_start, "client_cpu_s": client_cpu, "server_cpu_s": server_cpu,
    }


def describe(row: dict) -> str:
    """One fleet size's figures as a line."""
    return (f"N={row['devices']}: {row['discovered']}/{row['devices']} walked in {row['seconds']:.2f} s "
            f"({row['discovered_per_s']:.1f}/s); test server logged {row['served']} requests "
            f"({row['served_per_s']:.0f}/s, statuses {row['statuses']}, {row['unknown']} unknown clients), "
            f"client counted {row['client_requests']} ({row['failures']} failed); client p50 {row['p50_ms']} ms "
            f"p99 {row['p99_ms']} ms; server handler p50 {row['handle_p50_ms']:.2f} ms p99 "
            f"{row['handle_p99_ms']:.2f} ms mean {row['handle_mean_ms']:.2f} ms; peak RSS client "
            f"{row['client_rss_mb']:.0f} MB test server {row['server_rss_mb']:.0f} MB; CPU client "
            f"{row['client_cpu_s']:.1f} s test server {row['server_cpu_s']:.1f} s; {row['devices'] - 1} "
            f"certificates in {row['cert_seconds']:.2f} s, server up in {row['server_start_s']:.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = fleet_parser(__doc__.splitlines()[0])
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # internal: run the test server of a spec file
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(json.loads(Path(args.serve).read_text())))
        return 0
    rows = run_fleets(args.sizes, "bench-testserver-", lambda size, folder: measure(size, folder, args.timeout),
                      describe)
    baseline = rows[0]
    for row in rows:
        met = row["discovered"] >= row["devices"] and row["client_rss_mb"] <= TARGET_RSS_MB
        target = (f" ({'meets' if met else 'MISSES'} target: {row['devices']} discover, client <= {TARGET_RSS_MB} MB)"
                  if row["devices"] >= 1000 else "")
        print(f"SUMMARY test-server N={row['devices']} discovered/s {row['discovered_per_s']:.1f} "
              f"(x{row['discovered_per_s'] / baseline['discovered_per_s']:.1f} of N={baseline['devices']}) "
              f"requests/s {row['served_per_s']:.0f} (x{row['served_per_s'] / baseline['served_per_s']:.1f}) "
              f"p50 {row['p50_ms']:.1f} ms (x{row['p50_ms'] / baseline['p50_ms']:.1f}) p99 {row['p99_ms']:.1f} ms "
              f"(x{row['p99_ms'] / baseline['p99_ms']:.1f}) server-handler p50 {row['handle_p50_ms']:.2f} ms "
              f"(x{row['handle_p50_ms'] / baseline['handle_p50_ms']:.1f}) client-rss {row['client_rss_mb']:.0f} MB "
              f"server-rss {row['server_rss_mb']:.0f} MB{target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
