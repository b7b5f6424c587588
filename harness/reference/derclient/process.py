"""Start and stop the reference DER client as a subprocess, like spawn_reference_server for the server."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.pki import CertPair, TestPki, make_device_certificates
from harness.reference.child import stop_child
from harness.reference.derclient.defects import validate_der_client_defects
from harness.reference.derclient.wire import EDITIONS


class DerClientError(RuntimeError):
    """The DER client did not come up; the message carries its stderr."""


class DerClientProcess:
    """A running reference DER client; a context manager that stops it on exit."""

    def __init__(self, args: list[str], workdir: Path) -> None:
        self._workdir = workdir
        self._ready_file = workdir / "ready.json"
        self._stderr_path = workdir / "stderr.log"
        self._stderr = self._stderr_path.open("wb")
        command = [sys.executable, "-m", "harness.reference.derclient", *args, "--ready-file", str(self._ready_file)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self._stderr)
        self.admin_url = ""
        self.devices: list[dict[str, Any]] = []
        self.defects: list[str] = []
        self.pairs: list[CertPair] = []

    @property
    def pid(self) -> int:
        """The client process's id."""
        return self.process.pid

    def stderr_text(self) -> str:
        """What the client wrote to stderr so far."""
        if not self._stderr.closed:
            self._stderr.flush()
        try:
            return self._stderr_path.read_text(errors="replace")
        except OSError:
            return "(the client's stderr is gone with its work directory)"

    def wait_ready(self, timeout: float = 30.0) -> DerClientProcess:
        """Block until the client's admin API listens; DerClientError if it dies or stalls."""
        deadline = time.monotonic() + timeout
        while not self._ready_file.exists():
            if self.process.poll() is not None:
                message = f"DER client exited with status {self.process.returncode}; stderr:\n{self.stderr_text()}"
                self.stop()
                raise DerClientError(message)
            if time.monotonic() > deadline:
                message = f"DER client not ready after {timeout} s; stderr:\n{self.stderr_text()}"
                self.stop()
                raise DerClientError(message)
            time.sleep(0.02)
        ready = json.loads(self._ready_file.read_text())
        self.admin_url = str(ready["admin_url"])
        self.devices = list(ready["devices"])
        self.defects = list(ready["defects"])
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the client (SIGTERM, then SIGKILL after timeout) and remove its work directory."""
        stop_child(self.process, self._stderr, self._workdir, timeout)

    def __enter__(self) -> DerClientProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def spawn_der_client(
    pki: TestPki,
    dcap_url: str,
    *,
    devices: int = 1,
    device_certs: Sequence[CertPair] | None = None,
    defects: Iterable[str] = (),
    time_scale: float = 1.0,
    edition: str = "2018",
    pin: int | None = None,
    seed: int | None = None,
    status_rate: int | None = None,
    nats_mapping: str | None = None,
    encoding: str | None = None,
    extra_args: Sequence[str] = (),
) -> DerClientProcess:
    """Launch the DER client without waiting; call wait_ready() on the result.

    One device presents pki.clients["client"]. With devices N > 1 and no device_certs, N - 1 more device
    certificates are issued from the PKI's CA into the client's work directory (make_device_certificates);
    device_certs, when given, are the N certificates to use. With a nats:// or tls:// dcap_url, nats_mapping
    (native, interstore) and encoding (xml, json) say how it talks (docs/nats-mapping.md). Raises ValueError for
    a bad option.
    """
    chosen = sorted(validate_der_client_defects(defects))
    if not 0 < time_scale <= 1:
        raise ValueError(f"expected a time scale F with 0 < F <= 1, saw {time_scale}")
    if edition not in EDITIONS:
        raise ValueError(f"expected an edition among {', '.join(EDITIONS)}, saw {edition!r}")
    if devices < 1:
        raise ValueError(f"expected at least 1 device, saw {devices}")
    workdir = Path(tempfile.mkdtemp(prefix="csip-derclient-"))
    if device_certs is not None:
        pairs = list(device_certs)[:devices]
        if len(pairs) < devices:
            raise ValueError(f"expected {devices} device certificates, got {len(pairs)}")
    else:
        pairs = [pki.clients["client"]]
        if devices > 1:
            pairs += make_device_certificates(pki, devices - 1, workdir / "certs", key_dir=workdir / "keys")
    certs_dir, keys_dir = workdir / "device-certs", workdir / "device-keys"
    certs_dir.mkdir()
    keys_dir.mkdir(mode=0o700)
    width = max(4, len(str(devices)))
    for number, pair in enumerate(pairs):
        # Symbolic links in device order, so the client's sorted folder keeps the caller's order.
        (certs_dir / f"d{number:0{width}d}.pem").symlink_to(pair.cert.resolve())
        (keys_dir / f"d{number:0{width}d}.key").symlink_to(pair.key.resolve())
    args = ["--server", dcap_url, "--ca", str(pki.ca), "--devices", str(devices), "--device-certs", str(certs_dir),
            "--device-keys", str(keys_dir), "--time-scale", repr(time_scale), "--edition", edition,
            "--admin-port", "0"]
    if pin is not None:
        args += ["--pin", str(pin)]
    if seed is not None:
        args += ["--seed", str(seed)]
    if status_rate is not None:
        args += ["--status-rate", str(status_rate)]
    if nats_mapping is not None:
        args += ["--nats-mapping", nats_mapping]
    if encoding is not None:
        args += ["--encoding", encoding]
    for name in chosen:
        args += ["--defect", name]
    process = DerClientProcess([*args, *extra_args], workdir)
    process.pairs = pairs
    return process


def start_der_client(pki: TestPki, dcap_url: str, *, timeout: float = 30.0, **options: Any) -> DerClientProcess:
    """Start the DER client and return once its admin API listens; options as for spawn_der_client."""
    return spawn_der_client(pki, dcap_url, **options).wait_ready(timeout)
