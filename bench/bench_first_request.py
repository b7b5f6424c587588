"""Start-up of a whole run: from the process start of `csip-harness run` to its first byte at the DUT.

A vendor re-running one procedure waits for this every time. The DUT is the reference server behind a
loopback TCP relay that notes when the first byte of the first connection arrives (the TLS ClientHello of
the harness's pre-flight or first request). Baseline, measured in the same run through the same relay: a
fresh `python -c` process that imports httpx and GETs /dcap with the same client certificate, i.e. the
interpreter's and the HTTP stack's own start-up, which no harness can avoid.

Also printed: the whole process's wall time for the one-case run, and the time pytest alone takes to start
(`python -m pytest --version`) for scale.

Run: python bench/bench_first_request.py [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from harness.pki import make_test_pki
from harness.reference.process import start_reference_server

TARGET_S = 0.3
CASE = """\
id: LAB-100
title: DeviceCapability answers
role: server
procedure: {doc: bench, version: "1"}
steps:
  - name: GET DeviceCapability
    request: {method: GET, path: "${dcap}"}
    expect: {status: 200, schema: DeviceCapability}
"""


class Relay:
    """A TCP relay on 127.0.0.1 to the DUT that records the arrival of the first byte after each arm()."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.first_byte: float | None = None
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self) -> None:
        with self._lock:
            self.first_byte = None

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError), client, socket.create_connection(("127.0.0.1", self.target_port)) as up:
            first = client.recv(65536)
            with self._lock:
                if self.first_byte is None:
                    self.first_byte = time.perf_counter()
            up.sendall(first)
            threading.Thread(target=self._pipe, args=(up, client), daemon=True).start()
            self._pipe(client, up)

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def timed(relay: Relay, command: list[str]) -> tuple[float, float]:
    """(seconds to the first byte at the relay, seconds of the whole process)."""
    relay.arm()
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    ended = time.perf_counter()
    if done.returncode != 0 or relay.first_byte is None:
        raise SystemExit(f"{command[:3]} ended {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return relay.first_byte - start, ended - start


@contextlib.contextmanager
def dut(tmp: Path) -> Iterator[tuple[Relay, dict[str, Path]]]:
    pki = make_test_pki(tmp / "pki")
    client = pki.clients["client"]
    with start_reference_server(pki) as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        yield Relay(port), {"cert": client.cert, "key": client.key, "ca": pki.ca}


def main(argv: list[str] | None = None) -> int:
    """Time both commands in alternation; print medians, the ratio and the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    cli = str(Path(sys.executable).with_name("csip-harness"))
    with tempfile.TemporaryDirectory(prefix="bench-first-") as name, dut(Path(name)) as (relay, files):
        tmp = Path(name)
        (tmp / "testcases").mkdir()
        (tmp / "testcases" / "LAB-100.yaml").write_text(CASE)
        url = f"https://127.0.0.1:{relay.port}"
        ours = [cli, "run", "--dut", url, "--cert", str(files["cert"]), "--key", str(files["key"]),
                "--ca", str(files["ca"]), "--cases", str(tmp / "testcases"), "-q"]
        baseline = [sys.executable, "-c",
                    "import ssl, sys, httpx\n"
                    "c = ssl.create_default_context(cafile=sys.argv[3]); c.load_cert_chain(sys.argv[1], sys.argv[2])\n"
                    "httpx.get(sys.argv[4] + '/dcap', verify=c).raise_for_status()",
                    str(files["cert"]), str(files["key"]), str(files["ca"]), url]
        pytest_start = [sys.executable, "-m", "pytest", "--version"]
        results: dict[str, list[tuple[float, float]]] = {"ours": [], "baseline": []}
        pytest_alone: list[float] = []
        timed(relay, baseline)  # warm the OS file cache, not Python
        for run in range(args.runs):
            out = tmp / f"out{run}"
            for kind in (("baseline", "ours") if run % 2 else ("ours", "baseline")):
                command = [*ours, "--out", str(out)] if kind == "ours" else baseline
                results[kind].append(timed(relay, command))
            start = time.perf_counter()
            subprocess.run(pytest_start, capture_output=True, check=True)
            pytest_alone.append(time.perf_counter() - start)
    first = {k: statistics.median(v[0] for v in values) for k, values in results.items()}
    whole = {k: statistics.median(v[1] for v in values) for k, values in results.items()}
    for kind in results:
        runs = ", ".join(f"{f:.3f}" for f, _ in results[kind])
        print(f"{kind:<8} first byte at the DUT after {first[kind]:.3f} s (runs {runs}); "
              f"process {whole[kind]:.3f} s")
    print(f"pytest --version alone: {statistics.median(pytest_alone):.3f} s")
    ratio = first["ours"] / first["baseline"]
    verdict = "meets" if first["ours"] <= TARGET_S else "MISSES"
    print(f"SUMMARY first-request baseline-httpx-process {first['baseline']:.3f} s")
    print(f"SUMMARY first-request csip-harness-run {first['ours']:.3f} s ratio {ratio:.2f}x of the baseline "
          f"({verdict} target <= {TARGET_S} s)")
    print(f"SUMMARY one-case-run csip-harness-run process {whole['ours']:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
