"""The reference DER client at scale: 1, 100 and 1,000 simulated DERs in one process against the reference server.

For each fleet size N, in one run: a fresh reference server with the N device certificates pre-registered, and
one DER client process running N devices (each its own certificate, key and TLS connection). Measured until
every device has finished its first walk (discovery from /dcap to the DERPrograms, the DER PUTs read back and
the Metering Mirror POST), or --timeout:

  discovered/s     N / seconds from the client's start to the last device's first full walk
  requests/s       requests the server answered in that time (counted by the client) / that time
  p50/p99 latency  of every request, ms, as the client measured it (TLS handshake included on the first)
  peak RSS         VmHWM of the client and of the server process, MB
  CPU              user + system seconds each process used (the server's from when it was ready), and the
                   server's per request: what the server costs, whatever else loads the machine

Ratios are against the 1-device baseline of the same run. Target (issue 15): 1,000 devices discover and finish
a first poll cycle on 2 cores with the client process at most 300 MB.

Run: /work/venv/bin/python bench/bench_der_client.py [--sizes 1,100,1000] [--timeout 600]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from harness.pki import make_device_certificates, make_test_pki
from harness.reference.derclient.process import spawn_der_client
from harness.reference.process import spawn_reference_server

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet_figures import cpu_seconds, fleet_parser, peak_rss_mb, run_fleets, wait_walked  # noqa: E402

TARGET_RSS_MB = 300


def measure(size: int, base: Path, timeout: float) -> dict[str, float]:
    """Run N devices to their first full walk; the figures."""
    pki = make_test_pki(base / f"pki-{size}", key_dir=base / f"keys-{size}", profiles=False)
    made = time.perf_counter()
    pairs = [pki.clients["client"], *make_device_certificates(pki, size - 1, base / f"certs-{size}",
                                                              key_dir=base / f"dkeys-{size}")]
    cert_seconds = time.perf_counter() - made
    server = spawn_reference_server(pki, preregister=[(p.cert, 111115) for p in pairs]).wait_ready(120)
    server_cpu_idle = cpu_seconds(server.process.pid)
    try:
        client = spawn_der_client(pki, server.base_url + "/dcap", devices=size, device_certs=pairs).wait_ready(120)
        try:
            stats = wait_walked(client.admin_url, size, timeout)
            client_rss, server_rss = peak_rss_mb(client.pid), peak_rss_mb(server.process.pid)
            client_cpu = cpu_seconds(client.pid)
            server_cpu = cpu_seconds(server.process.pid) - server_cpu_idle
        finally:
            client.stop()
    finally:
        server.stop()
    walked = max(stats["discovered_after"], default=float("nan"))
    return {
        "devices": size, "discovered": stats["discovered"], "seconds": walked,
        "discovered_per_s": stats["discovered"] / walked, "requests": stats["requests"],
        "requests_per_s": stats["requests"] / walked, "failures": stats["failures"],
        "p50_ms": stats["latency_ms"]["p50"], "p99_ms": stats["latency_ms"]["p99"],
        "client_rss_mb": client_rss, "server_rss_mb": server_rss, "cert_seconds": cert_seconds,
        "client_cpu_s": client_cpu, "server_cpu_s": server_cpu,
    }


def describe(row: dict) -> str:
    """One fleet size's figures as a line."""
    return (f"N={row['devices']}: {row['discovered']}/{row['devices']} walked in {row['seconds']:.2f} s "
            f"({row['discovered_per_s']:.1f}/s), {row['requests']} requests ({row['requests_per_s']:.0f}/s, "
            f"{row['failures']} failed), p50 {row['p50_ms']} ms p99 {row['p99_ms']} ms, "
            f"client {row['client_rss_mb']:.0f} MB server {row['server_rss_mb']:.0f} MB peak RSS, "
            f"CPU client {row['client_cpu_s']:.1f} s server {row['server_cpu_s']:.1f} s "
            f"({row['server_cpu_s'] * 1000 / max(1, row['requests']):.2f} ms a request), "
            f"{row['devices'] - 1} certificates in {row['cert_seconds']:.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = fleet_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    rows = run_fleets(args.sizes, "bench-derclient-", lambda size, folder: measure(size, folder, args.timeout),
                      describe)
    baseline = rows[0]
    for row in rows:
        print(f"SUMMARY der-client N={row['devices']} discovered/s {row['discovered_per_s']:.1f} "
              f"(x{row['discovered_per_s'] / baseline['discovered_per_s']:.1f} of N={baseline['devices']}) "
              f"requests/s {row['requests_per_s']:.0f} (x{row['requests_per_s'] / baseline['requests_per_s']:.1f}) "
              f"p50 {row['p50_ms']} ms (x{row['p50_ms'] / baseline['p50_ms']:.1f}) p99 {row['p99_ms']} ms "
              f"client-rss {row['client_rss_mb']:.0f} MB (target <= {TARGET_RSS_MB}) "
              f"server-rss {row['server_rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
