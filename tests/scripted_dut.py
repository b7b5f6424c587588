"""A scripted HTTPS "DUT" for the harness's own tests: fixed raw responses by path, and a count of connections.

Each response is sent byte for byte as given (so a test can answer `HTTP/1.0 200 OK`), and every TCP
connection is counted when it is accepted, before any TLS handshake: a server that must never be contacted
can show that it never was.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from types import TracebackType
from typing import Self

NS = "urn:ieee:std:2030.5:ns"


def response(body: str | bytes, *, status: str = "200 OK", version: str = "HTTP/1.1",
             content_type: str = "application/sep+xml") -> bytes:
    """A complete response that closes the connection after it."""
    data = body.encode() if isinstance(body, str) else body
    head = (f"{version} {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(data)}\r\n"
            "Connection: close\r\n\r\n")
    return head.encode("latin-1") + data


NOT_FOUND = response(b"", status="404 Not Found")


class LoopbackTlsServer:
    """A TLS server on 127.0.0.1 for the harness's own tests: accepts each connection on a thread of its own and
    hands it to _serve (a subclass's); counts connections when accepted, before any handshake; a context manager."""

    def __init__(self, context: ssl.SSLContext, name: str) -> None:
        self.connections = 0
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name=name, daemon=True)

    @property
    def base_url(self) -> str:
        """https://127.0.0.1:PORT."""
        return f"https://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()


class ScriptedDut(LoopbackTlsServer):
    """TLS on 127.0.0.1: answers each request path with its scripted bytes (404 otherwise); a context manager.

    delays holds, by path, the seconds to wait before answering: a DUT slow to answer.
    """

    def __init__(self, context: ssl.SSLContext, routes: dict[str, bytes], delays: dict[str, float] | None = None
                 ) -> None:
        super().__init__(context, "scripted-dut")
        self.routes = routes
        self.delays = delays or {}
        self.requests: list[str] = []

    def _serve(self, connection: socket.socket) -> None:
        connection.settimeout(5)
        with contextlib.suppress(OSError), connection, self._context.wrap_socket(connection, server_side=True) as tls:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = tls.recv(4096)
                if not chunk:
                    return
                head += chunk
            target = head.split(b"\r\n", 1)[0].split(b" ")[1].decode("latin-1")
            self.requests.append(target)
            time.sleep(self.delays.get(target.split("?", 1)[0], 0))
            tls.sendall(self.routes.get(target.split("?", 1)[0], NOT_FOUND))
