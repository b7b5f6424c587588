"""The bundled reference server as the DUT of one run: `csip-harness run --reference`, `pytest --csip-reference`.

One code path for both (the CLI passes --csip-reference to pytest). The run gets its own test PKI: the
private keys live in a private temporary directory (mode 0700, keys 0600) that is removed when the run
ends, also when the process is ended by SIGTERM; the certificates are copied into the evidence bundle's
pki/ by its recorder (the identities the run used), so no key ever enters the bundle or its manifest.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from types import FrameType
from typing import Any

from harness.pki import TestPki, make_test_pki
from harness.reference.process import ReferenceProcess, ReferenceServerError, spawn_reference_server

__all__ = ["ReferenceDut", "ReferenceServerError", "reference_profile"]

KEY_DIR_PREFIX = "csip-harness-keys-"


def reference_profile() -> Path:
    """The DUT profile describing the reference server (its builtin actions), used unless one is given."""
    from harness.paths import project_dir

    return project_dir("fixtures") / "profiles" / "reference-server.yaml"


class ReferenceDut:
    """A reference server started for one run, with the run's PKI; start() then stop() (idempotent).

    Raises ValueError from start() for an unknown defect name (the message lists the known ones) and
    ReferenceServerError when the server does not come up (the message carries its stderr).
    """

    def __init__(self, defects: Iterable[str] = (), time_scale: float = 1.0, transport: str = "http") -> None:
        self.defects = tuple(defects)
        # "nats": a private nats-server (harness.reference.natsd) and the server answering over it too.
        self.transport = transport
        self.natsd: Any = None
        self.time_scale = time_scale  # 0 < F <= 1: its clock and schedules run 1/F times as fast
        self.pki: TestPki | None = None
        self.server: ReferenceProcess | None = None
        self._dir: Path | None = None
        self._previous_handler: Any = None
        self._handler_installed = False
        self._spawning = False
        self._pending_signal: int | None = None

    def start(self) -> ReferenceDut:
        """Make the PKI, start the server and wait until it listens."""
        self._install_sigterm_handler()
        self._dir = Path(tempfile.mkdtemp(prefix=KEY_DIR_PREFIX))  # mode 0700
        try:
            self.pki = make_test_pki(self._dir / "certificates", key_dir=self._dir)
            # A SIGTERM while the process is being made waits until it is remembered: stop() must know of every
            # process it has to end (a blocked signal mask would be inherited by the server, so a flag).
            extra: list[str] = []
            if self.transport == "nats":
                from harness.reference.natsd import NatsServer

                # JetStream on: the server keeps its Notifications in a stream (harness.reference.nats_notify).
                self.natsd = NatsServer(jetstream=True, workdir=self._dir / "natsd").start()
                extra = ["--nats", self.natsd.url]
            self._spawning = True
            try:
                self.server = spawn_reference_server(self.pki, defects=self.defects, time_scale=self.time_scale,
                                                     extra_args=extra)
            finally:
                self._spawning = False
            if self._pending_signal is not None:
                self._terminated(self._pending_signal, None)
            self.server.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def options(self) -> dict[str, Any]:
        """The run options that point the harness at this server: dut, http_url, cert, key, ca, and the time
        scale with the origin of its scaled clock (so the harness's idea of its time agrees with it)."""
        assert self.server is not None and self.pki is not None, "start() first"
        client = self.pki.clients["client"]
        dut = self.natsd.url if self.natsd is not None else self.server.base_url
        return {"dut": dut, "http_url": self.server.http_url, "cert": str(client.cert),
                "key": str(client.key), "ca": str(self.pki.ca), "time_scale": self.time_scale,
                "time_origin": self.server.time_origin}

    def variables(self) -> dict[str, str]:
        """The template variables the reference profile's builtin actions need (admin_url, admin_token)."""
        assert self.server is not None, "start() first"
        return self.server.admin_variables()

    def certificates(self) -> list[Path]:
        """The run's certificates (CA, server, every identity; PEM, no key), for the bundle's pki/."""
        if self.pki is None:
            return []
        # Every certificate the PKI made (the CA, the server, every identity, the foreign CA of wrong-ca), never a key.
        return sorted(path for path in self.pki.ca.parent.glob("*.pem") if path.is_file())

    def stop(self) -> None:
        """Stop the server and remove the private keys; restore the SIGTERM handler found at start()."""
        natsd, self.natsd = self.natsd, None
        if natsd is not None:
            natsd.stop()
        server, self.server = self.server, None
        try:
            if server is not None:
                server.stop()
        finally:
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None
            self._restore_sigterm_handler()

    def _terminated(self, signum: int, frame: FrameType | None) -> None:
        # The default action would end the process without stop(), leaving the keys on disk and the server
        # running; clean up, then end by the same signal as before.
        if self._spawning:
            self._pending_signal = signum
            return
        self.stop()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def _install_sigterm_handler(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may set handlers; a caller in another thread stops us itself
        self._previous_handler = signal.signal(signal.SIGTERM, self._terminated)
        self._handler_installed = True

    def _restore_sigterm_handler(self) -> None:
        if self._handler_installed:
            self._handler_installed = False
            signal.signal(signal.SIGTERM, self._previous_handler)
