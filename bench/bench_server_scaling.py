"""What one request costs each server as its fleet grows: 1, 100 and 1,000 registered devices, no TLS, no sockets.

The handlers alone, in this process: the reference server's `ReferenceApp.dispatch` and the test server's
`TestServer.handle` (serving fixtures/trees/der-basic.yaml repeated per device, harness.server.fleet), each asked
for the GETs of a discovery walk by a sample of its devices (each request carrying that device's certificate):
/dcap, /tm, the EndDeviceList page (s=0, l=25), the device's EndDevice, Registration, FunctionSetAssignmentsList
and the DERProgramList. Every device has POSTed its MirrorUsagePoint first (the reference server's
DeviceCapability counts the client's mirrors). What grows with the fleet here is what each request scans, sorts
or renders: a server whose cost per request is flat stays near x1.0 of the 1-device figure.

  us/request    mean handler time per request over rounds, median of rounds (microseconds)

Run: .venv/bin/python bench/bench_server_scaling.py [--sizes 1,100,1000] [--sample 100] [--rounds 5]
Run the same script with PYTHONPATH=<an older checkout> (and --servers reference-server) to compare with that code.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness.pki import make_device_certificates, make_test_pki
from harness.reference.derclient import wire
from harness.sep.identity import certificate_der, lfdi
from harness.server.http import HttpRequest

TREE = Path(__file__).resolve().parent.parent / "fixtures" / "trees" / "der-basic.yaml"
PAGE = [("s", "0"), ("l", "25")]


def request(method: str, target: str, der: bytes, body: bytes = b"") -> HttpRequest:
    """An HTTPS request as the front end hands it on, from the client with certificate der."""
    path, _, query = target.partition("?")
    pairs = [tuple(p.split("=", 1)) for p in query.split("&")] if query else []
    return HttpRequest(method=method, target=target, path=path, query=pairs,  # type: ignore[arg-type]
                       headers=[("Host", "127.0.0.1"), ("Content-Type", "application/sep+xml")], body=body,
                       peer_cert_der=der, scheme="https", http_version="1.1", tls_version="TLSv1.2")


def walk(number: int) -> list[str]:
    """The GET targets of device number's discovery walk (its EndDevice is /edev/number on both servers)."""
    return ["/dcap", "/tm", "/edev?s=0&l=25", f"/edev/{number}", f"/edev/{number}/rg", f"/edev/{number}/fsa?s=0&l=25",
            "/derp?s=0&l=25"]


def mirror(der: bytes) -> bytes:
    value = lfdi(der)
    return wire.mirror_usage_point(value[:28] + "0001", value[:28] + "0002", value, 300, "2018")


def reference_handler(ders: list[bytes]):  # type: ignore[no-untyped-def]
    """The reference server's dispatch over a tree with every certificate pre-registered, mirrors POSTed."""
    from harness.reference import clock
    from harness.reference.app import ReferenceApp
    from harness.reference.defects import Defects
    from harness.reference.tree import seed_tree

    clock.configure(1.0, None)
    app = ReferenceApp(seed_tree(int(clock.now()), 0, [(der, 111115) for der in ders]), Defects())
    for der in ders:
        assert app.dispatch(request("POST", "/mup", der, mirror(der))).status == 201

    def handle(item: HttpRequest) -> int:
        return app.dispatch(item).status
    return handle


def test_server_handler(ders: list[bytes], certs: list[Path]):  # type: ignore[no-untyped-def]
    """The test server's handle over the fleet tree of every certificate, mirrors POSTed."""
    from harness.engine.clock import Clock
    from harness.sep.schema import SchemaSet
    from harness.server.clientrun import device_variables
    from harness.server.fleet import fleet_tree
    from harness.server.testserver import TestServer

    clock = Clock(1.0)
    devices = [device_variables(cert, None, name=f"d{n}") for n, cert in enumerate(certs)]
    server = TestServer(fleet_tree(TREE, devices, {"now": int(clock.now())}, clock.now), clock, SchemaSet.bundled(),
                        {d["lfdi"]: d["name"] for d in devices})
    loop = asyncio.new_event_loop()
    for der in ders:
        assert loop.run_until_complete(server.handle(request("POST", "/mup", der, mirror(der)))).status == 201

    def handle(item: HttpRequest) -> int:
        return loop.run_until_complete(server.handle(item)).status
    return handle


def timed(handle, ders: list[bytes], sample: int, rounds: int) -> float:  # type: ignore[no-untyped-def]
    """Median over rounds of the mean handler time (us) of the walks of sample devices spread over the fleet (the
    walks repeated up to 7 x sample requests a round)."""
    step = max(1, len(ders) // sample)
    walks = [request("GET", target, ders[n]) for n in range(0, len(ders), step) for target in walk(n + 1)]
    items = walks * max(1, (7 * sample) // len(walks))  # as many requests per round whatever the fleet
    means = []
    for _ in range(rounds + 1):  # the first round warms up (lxml, the schema, caches) and is dropped
        begun = time.perf_counter()
        for item in items:
            status = handle(item)
            assert status == 200, (item.target, status)
        means.append((time.perf_counter() - begun) / len(items) * 1e6)
    return statistics.median(means[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,100,1000", help="fleet sizes, comma-separated; the first is the baseline")
    parser.add_argument("--sample", type=int, default=100, help="devices whose walk is timed per fleet")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--servers", default="reference-server,test-server",
                        help="which handlers to time (an older checkout may have only the reference server's)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: dict[str, list[tuple[int, float]]] = {name: [] for name in args.servers.split(",")}
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as folder:
        pki = make_test_pki(Path(folder) / "pki", key_dir=Path(folder) / "keys", profiles=False)
        pairs = [pki.clients["client"], *make_device_certificates(pki, max(sizes) - 1, Path(folder) / "certs")]
        ders = [certificate_der(p.cert) for p in pairs]
        for size in sizes:
            for name in rows:
                handle = reference_handler(ders[:size]) if name == "reference-server" else test_server_handler(
                    ders[:size], [p.cert for p in pairs[:size]])
                us = timed(handle, ders[:size], args.sample, args.rounds)
                rows[name].append((size, us))
                print(f"{name} N={size}: {us:.0f} us/request", flush=True)
    for name, figures in rows.items():
        base = figures[0][1]
        for size, us in figures:
            print(f"SUMMARY scaling {name} N={size} {us:.0f} us/request (x{us / base:.2f} of N={figures[0][0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
