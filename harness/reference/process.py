"""Start and stop the reference server as a subprocess, for tests and lab runs."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.pki import TestPki
from harness.reference.child import stop_child
from harness.reference.defects import validate_defects

PathLike = str | Path


class ReferenceServerError(RuntimeError):
    """The reference server did not come up; the message carries its stderr."""


class ReferenceProcess:
    """A running reference server subprocess; a context manager that stops it on exit."""

    def __init__(self, args: list[str], workdir: Path, host: str) -> None:
        self.host = host
        self._workdir = workdir
        self._ready_file = workdir / "ready.json"
        self._stderr_path = workdir / "stderr.log"
        self._stderr = self._stderr_path.open("wb")
        command = [sys.executable, "-m", "harness.reference", *args, "--ready-file", str(self._ready_file)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self._stderr)
        self.https_port = 0
        self.http_port = 0
        self.admin_port = 0
        self.admin_token = ""
        self.defects: list[str] = []
        # The run's certificate and private-key directories, for a profile's `identities:` (${pki_dir}).
        self.pki_dirs: dict[str, str] = {}
        self.xmdns: dict[str, str] = {}
        self.time_scale = 1.0
        self.time_origin: float | None = None

    @property
    def base_url(self) -> str:
        """https://host:port of the TLS listener."""
        return f"https://{self.host}:{self.https_port}"

    @property
    def http_url(self) -> str:
        """http://host:port of the plain-HTTP redirect listener."""
        return f"http://{self.host}:{self.http_port}"

    @property
    def admin_url(self) -> str:
        """http://host:port of the admin interface (bearer token in admin_token)."""
        return f"http://{self.host}:{self.admin_port}"

    def admin_variables(self) -> dict[str, str]:
        """The run variables the reference profile needs: admin_url and admin_token (the admin interface a
        builtin or http action mapping reaches) and, when started with a TestPki, pki_dir and pki_keys (the
        directories of its certificates and private keys, which the profile's `identities:` name) and, when its
        xmDNS responder answers, xmdns_group, xmdns_port and xmdns_interface (the harness's `discover:` steps)."""
        return {"admin_url": self.admin_url, "admin_token": self.admin_token, **self.pki_dirs, **self.xmdns}

    def admin_options(self, flag: str = "--var") -> list[str]:
        """The admin variables as command-line options: `--var admin_url=…` (or `--csip-var` for pytest)."""
        return [option for name, value in self.admin_variables().items() for option in (flag, f"{name}={value}")]

    def stderr_text(self) -> str:
        """What the server wrote to stderr so far."""
        if not self._stderr.closed:  # stop() closes it; what was written is still in the file until cleanup
            self._stderr.flush()
        try:
            return self._stderr_path.read_text(errors="replace")
        except OSError:
            return "(the server's stderr is gone with its work directory)"

    def wait_ready(self, timeout: float = 10.0) -> ReferenceProcess:
        """Block until the server announces its ports; raise ReferenceServerError if it dies or stalls."""
        deadline = time.monotonic() + timeout
        while not self._ready_file.exists():
            if self.process.poll() is not None:
                message = f"reference server exited with status {self.process.returncode}; stderr:\n"
                message += self.stderr_text()
                self.stop()
                raise ReferenceServerError(message)
            if time.monotonic() > deadline:
                message = f"reference server not ready after {timeout} s; stderr:\n{self.stderr_text()}"
                self.stop()
                raise ReferenceServerError(message)
            time.sleep(0.02)
        ready = json.loads(self._ready_file.read_text())
        self.https_port = int(ready["https_port"])
        self.http_port = int(ready["http_port"])
        self.admin_port = int(ready["admin_port"])
        self.admin_token = str(ready["admin_token"])
        self.defects = list(ready["defects"])
        # Where its xmDNS responder answers (COMM-001): the run variables of the harness's discover steps.
        xmdns = ready.get("xmdns")
        self.xmdns = {} if not xmdns else {"xmdns_group": str(xmdns["group"]), "xmdns_port": str(xmdns["port"]),
                                           "xmdns_interface": str(xmdns["interface"])}
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after timeout) and remove its work directory."""
        stop_child(self.process, self._stderr, self._workdir, timeout)

    def __enter__(self) -> ReferenceProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def spawn_reference_server(
    pki: TestPki | None = None,
    *,
    cert: PathLike | None = None,
    key: PathLike | None = None,
    ca: PathLike | None = None,
    defects: Iterable[str] = (),
    preregister: Iterable[tuple[PathLike, int]] = (),
    registrars: Iterable[PathLike] = (),
    extra_enddevices: int = 0,
    time_quality: int = 3,
    host: str = "127.0.0.1",
    port: int = 0,
    http_port: int = 0,
    time_scale: float = 1.0,
    time_origin: float | None = None,
    extra_args: Iterable[str] = (),
    xmdns: bool = True,
) -> ReferenceProcess:
    """Launch the server without waiting; call wait_ready() on the result (lets tests start many at once).

    It starts as a fresh head-end: one DERProgram, no EndDevice and Time quality 3, unless preregister,
    extra_enddevices and time_quality say otherwise; registrars are certificates of registration clients
    that may register EndDevices in band. Test cases set it up through its admin interface. With time_scale
    F < 1 its clock runs 1/F times as fast from time_origin (default: now, Unix s), which the result keeps as
    `time_origin` for the harness run against it (RunOptions.time_scale and time_origin). With xmdns (the
    default, IPv4 hosts) it answers xmDNS/DNS-SD queries on 239.255.255.251 at a free UDP port of its own.
    """
    if not 0 < time_scale <= 1:
        raise ValueError(f"expected a time scale F with 0 < F <= 1, saw {time_scale}")
    origin = time.time() if time_origin is None else time_origin
    chosen = sorted(validate_defects(defects))
    if pki is not None:
        cert, key, ca = cert or pki.server.cert, key or pki.server.key, ca or pki.ca
    if cert is None or key is None or ca is None:
        raise ValueError("give a TestPki or all of cert, key and ca")
    args = ["--cert", str(cert), "--key", str(key), "--ca", str(ca), "--host", host]
    args += ["--port", str(port), "--http-port", str(http_port), "--extra-enddevices", str(extra_enddevices)]
    args += ["--time-quality", str(time_quality), "--time-scale", repr(time_scale), "--time-origin", repr(origin)]
    for path, pin in preregister:
        args += ["--preregister", f"{path}:{pin}"]
    for path in registrars:
        args += ["--registrar", str(path)]
    for name in chosen:
        args += ["--defect", name]
    if xmdns and ":" not in host:
        # Its own free UDP port on the xmDNS group, so that parallel servers never answer each other's queries.
        args += ["--xmdns", "239.255.255.251:0"]
    args += list(extra_args)  # e.g. --nats URL (harness.reference.nats_front)
    process = ReferenceProcess(args, Path(tempfile.mkdtemp(prefix="csip-reference-")), host)
    if pki is not None:
        process.pki_dirs = {"pki_dir": str(pki.ca.parent), "pki_keys": str(pki.server.key.parent)}
    process.time_scale, process.time_origin = time_scale, origin
    return process


def start_reference_server(pki: TestPki | None = None, *, timeout: float = 10.0, **options: Any) -> ReferenceProcess:
    """Start the reference server and return once it listens; options as for spawn_reference_server."""
    return spawn_reference_server(pki, **options).wait_ready(timeout)
