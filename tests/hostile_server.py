"""A deliberately hostile HTTPS "DUT" for the harness's own tests: each request path is an attack.

It runs its own asyncio loop in a background thread, so the harness under test (a subprocess or
the test's own loop) never shares a loop with it. Over TLS the scenario is chosen by the request
path (``/xxe``, ``/bomb``, ...); the raw-TCP scenarios, which misbehave before any HTTP is spoken,
each get their own plain listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType

NS = "urn:ieee:std:2030.5:ns"
MEDIA = "application/sep+xml"
HUGE_BODY = 50 * 1024 * 1024
_CHUNK = 256 * 1024

Handler = Callable[["HostileServer", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n' for i in range(1, 10)
    )
    + f']>\n<DeviceCapability xmlns="{NS}" href="/dcap"><pollRate>&lol9;</pollRate></DeviceCapability>'
).encode()

PLAIN_DOCTYPE = (
    f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE DeviceCapability>\n'
    f'<DeviceCapability xmlns="{NS}" href="/dcap" pollRate="900"><TimeLink href="/tm"/></DeviceCapability>'
).encode()

BAD_UTF8 = (
    f'<DeviceCapability xmlns="{NS}" href="/dcap"><TimeLink href="/tm'.encode() + b"\xff\xfe\xc3(" + b'"/>'
    b"</DeviceCapability>"
)

CUT_MID_ELEMENT = (
    f'<?xml version="1.0" encoding="UTF-8"?>\n<DeviceCapability xmlns="{NS}" href="/dcap"><TimeLi'.encode()
)

# Well-behaved answers, so a test can show that the harness recovers after an attack on the same connection pool.
GOOD_DCAP = (
    f'<DeviceCapability xmlns="{NS}" href="/ok" pollRate="900"><TimeLink href="/ok-tm"/></DeviceCapability>'.encode()
)
GOOD_TIME = (
    f'<Time xmlns="{NS}" href="/ok-tm" pollRate="900"><currentTime>1700000000</currentTime>'
    "<dstEndTime>1711803600</dstEndTime><dstOffset>3600</dstOffset><dstStartTime>1696089600</dstStartTime>"
    "<quality>7</quality><tzOffset>36000</tzOffset></Time>"
).encode()

GARBAGE = b"\x00\x17\xfe\xed SSH-2.0-not-http-at-all \xff\x00\r\n\r\n\x80\x81\x82" * 8


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} OK"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _full(body: bytes, *, length: int | None = None, content_type: str = MEDIA) -> bytes:
    # One request per connection: the server hangs up after every answer, and says so.
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body) if length is None else length)),
               ("Connection", "close")]
    return _head(200, headers) + body


def _gone(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Whether the client hung up: asyncio's TLS transport drops writes to a closed peer without raising."""
    sock = writer.get_extra_info("socket")
    closed = sock is None or sock.fileno() < 0
    return closed or writer.is_closing() or reader.at_eof() or reader.exception() is not None


async def read_request(reader: asyncio.StreamReader) -> str:
    """Read one request head (GETs only carry no body) and return its path."""
    head = await reader.readuntil(b"\r\n\r\n")
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    return parts[1].decode("latin-1").split("?", 1)[0] if len(parts) > 1 else "/"


async def _ok(server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(_full(GOOD_DCAP))
    await writer.drain()


async def _ok_tm(server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(_full(GOOD_TIME))
    await writer.drain()


async def _xxe(server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    body = (
        f'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file://{server.secret_file}">]>'
        f'<DeviceCapability xmlns="{NS}">&x;</DeviceCapability>'
    ).encode()
    writer.write(_full(body))
    await writer.drain()


async def _bomb(server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(_full(BILLION_LAUGHS))
    await writer.drain()


async def _doctype(server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(_full(PLAIN_DOCTYPE))
    await writer.drain()


async def _huge(server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # Declares and streams 50 MB as fast as the client reads; it stops when the client hangs up.
    opening = f'<DeviceCapability xmlns="{NS}" href="/dcap">'.encode()
    writer.write(_head(200, [("Content-Type", MEDIA), ("Content-Length", str(HUGE_BODY))]) + opening)
    sent = len(opening)
    filler = b"<!-- padding -->" * (_CHUNK // 16)
    while sent < HUGE_BODY and not _gone(reader, writer):
        piece = filler[: HUGE_BODY - sent]
        writer.write(piece)
        await writer.drain()
        # drain() does not yield once the peer is gone, so yield here to let asyncio notice the hang-up.
        await asyncio.sleep(0)
        sent += len(piece)
        server.huge_bytes_sent = max(server.huge_bytes_sent, sent)


async def _slow(server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # Chunked, one byte every 100 ms, forever: every read timeout is met, only a total deadline ends it.
    writer.write(_head(200, [("Content-Type", MEDIA), ("Transfer-Encoding", "chunked")]) + b"1\r\n<\r\n")
    while not _gone(reader, writer):
        await asyncio.sleep(0.1)
        writer.write(b"1\r\n \r\n")
        await writer.drain()


async def _bad_utf8(server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(_full(BAD_UTF8))
    await writer.drain()


async def _short(server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # Content-Length promises 4096 bytes; the connection closes after the first 60.
    writer.write(_full(PLAIN_DOCTYPE[:60], length=4096))
    await writer.drain()


async def _cut(server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(_full(CUT_MID_ELEMENT))
    await writer.drain()


async def _reset(server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # SO_LINGER 0 turns the close into a TCP RST instead of an orderly FIN.
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _silent(server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.Event().wait()  # cancelled when the client hangs up or the server stops


async def _garbage(server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(GARBAGE)
    await writer.drain()


# Served over TLS after the request head has been read; chosen by path.
TLS_SCENARIOS: dict[str, Handler] = {
    "xxe": _xxe,
    "bomb": _bomb,
    "doctype": _doctype,
    "huge": _huge,
    "slow": _slow,
    "bad-utf8": _bad_utf8,
    "short": _short,
    "cut": _cut,
    "reset": _reset,
    "silent": _silent,
    "garbage": _garbage,
}


async def _tcp_silent(server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.Event().wait()  # accepts TCP, never starts the TLS handshake


async def _tls_garbage(server: HostileServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        await reader.readexactly(5)  # the ClientHello's record header
    writer.write(GARBAGE)
    await writer.drain()


GOOD: dict[str, Handler] = {"ok": _ok, "ok-tm": _ok_tm}

# Served on a plain TCP listener of their own, before any TLS or HTTP.
RAW_SCENARIOS: dict[str, Handler] = {"tcp-silent": _tcp_silent, "tls-garbage": _tls_garbage}


class HostileServer:
    """TLS listener answering by path plus one raw TCP listener per raw scenario; a context manager."""

    def __init__(self, tls: ssl.SSLContext, secret_file: Path) -> None:
        self.secret_file = secret_file
        self.huge_bytes_sent = 0
        self.requests: list[str] = []
        self._tls = tls
        self._loop = asyncio.new_event_loop()
        # Clients hanging up mid-write make asyncio's SSL transport log spurious errors; keep them, quietly.
        self.loop_errors: list[str] = []
        self._loop.set_exception_handler(lambda loop, context: self.loop_errors.append(str(context.get("message"))))
        self._thread = threading.Thread(target=self._loop.run_forever, name="hostile-dut", daemon=True)
        self._servers: list[asyncio.base_events.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0
        self.raw_ports: dict[str, int] = {}

    @property
    def base_url(self) -> str:
        """https://127.0.0.1:PORT of the TLS listener."""
        return f"https://127.0.0.1:{self.port}"

    def raw_url(self, scenario: str) -> str:
        """The https:// address of a raw-TCP scenario's own listener."""
        return f"https://127.0.0.1:{self.raw_ports[scenario]}"

    def start(self) -> HostileServer:
        """Start the loop thread and every listener; return once they listen."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self

    async def _listen(self) -> None:
        tls_server = await asyncio.start_server(self._connection(None), "127.0.0.1", 0, ssl=self._tls)
        self._servers.append(tls_server)
        self.port = tls_server.sockets[0].getsockname()[1]
        for name, handler in RAW_SCENARIOS.items():
            raw = await asyncio.start_server(self._connection(handler), "127.0.0.1", 0)
            self._servers.append(raw)
            self.raw_ports[name] = raw.sockets[0].getsockname()[1]

    def _connection(self, fixed: Handler | None) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:  # noqa: E501
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            try:
                handler = fixed
                if handler is None:
                    path = await read_request(reader)
                    self.requests.append(path)
                    handler = TLS_SCENARIOS.get(path.strip("/")) or GOOD.get(path.strip("/"))
                    if handler is None:
                        writer.write(_head(404, [("Content-Length", "0")]))
                        await writer.drain()
                        return
                await handler(self, reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ssl.SSLError):
                pass  # the client hanging up mid-attack is the expected ending
            except asyncio.CancelledError:
                pass  # stop() ends endless scenarios; asyncio's stream callback would log a re-raise as an error
            finally:
                self._tasks.discard(task)  # type: ignore[arg-type]
                if not writer.transport.is_closing():
                    writer.transport.abort()

        return serve

    def stop(self) -> None:
        """Close the listeners, cancel open connections and stop the loop thread."""

        async def shutdown() -> None:
            for server in self._servers:
                server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
