"""The reference server's xmDNS/DNS-SD responder (IEEE 2030.5-2018 §6.11.11 xmDNS, §7 DNS-SD; CSIP COMM-001).

It answers PTR queries for `_smartenergy._tcp.site.` and the subtypes it serves (`derp._sub…`, `tm._sub…`,
`dcap._sub…`) with the PTR, the instance's SRV (target host, plain-HTTP port) and TXT (txtvers=1 first, dcap,
path for a subtype, https=<port>, level) and the target's A record. A query with the QU bit (top bit of the
question's class) is answered by unicast to the querier; otherwise by multicast to the group (2030.5 SEC.109).

The DNS wire format is zeroconf's (DNSIncoming, DNSOutgoing and its record classes); the socket is ours because
zeroconf's engine is fixed on the mDNS group 224.0.0.251 and `.local.`, while xmDNS uses 239.255.255.251 and
`.site.`. The socket is bound to the group address itself, so that a querier on the same host and port (the
harness, on loopback) still receives the unicast answers meant for it.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from dataclasses import dataclass

from zeroconf import DNSAddress, DNSIncoming, DNSOutgoing, DNSPointer, DNSService, DNSText, const

SERVICE = "_smartenergy._tcp.site."
XMDNS_GROUP = "239.255.255.251"
XMDNS_PORT = 5353
INSTANCE = "csip-harness reference"
TARGET = "csip-reference.site."
LEVEL = "-S1"  # 2030.5 TXT `level`: the extensibility level the server supports
_TTL_SHARED = 4500
_TTL_HOST = 120


def encode_txt(pairs: list[tuple[str, str]]) -> bytes:
    """DNS-SD TXT rdata (RFC 6763 §6): each key=value as one length-prefixed string, in the given order."""
    out = b""
    for key, value in pairs:
        item = f"{key}={value}".encode()
        out += bytes([len(item)]) + item
    return out


@dataclass
class Advertisement:
    """What the responder advertises: the address of the target, the ports and the paths of the subtypes."""

    address: str
    http_port: int
    https_port: int
    paths: dict[str, str]  # subtype (derp, tm, dcap) -> path on the server
    dcap: str = "/dcap"
    dcap_without_slash: bool = False  # defect xmdns-dcap-no-slash
    omit_https: bool = False  # defect xmdns-no-https-key
    ignore_qu: bool = False  # defect xmdns-qu-ignored

    def txt(self, subtype: str | None) -> bytes:
        pairs = [("txtvers", "1"), ("dcap", self.dcap.lstrip("/") if self.dcap_without_slash else self.dcap)]
        if subtype is not None:
            pairs.append(("path", self.paths[subtype]))
        if not self.omit_https:
            pairs.append(("https", str(self.https_port)))
        pairs.append(("level", LEVEL))
        return encode_txt(pairs)

    def answer(self, qname: str) -> DNSOutgoing | None:
        """The response to a PTR query for qname, or None when this server offers no such service."""
        name = qname.lower()
        subtype = None
        if name != SERVICE:
            head, _, rest = name.partition("._sub.")
            if rest != SERVICE or head not in self.paths:
                return None
            subtype = head
        instance = f"{INSTANCE}.{SERVICE}"
        unique = const._CLASS_IN | const._CLASS_UNIQUE
        out = DNSOutgoing(const._FLAGS_QR_RESPONSE | const._FLAGS_AA, multicast=True)
        out.add_answer_at_time(DNSPointer(qname, const._TYPE_PTR, const._CLASS_IN, _TTL_SHARED, instance), 0)
        out.add_additional_answer(DNSService(instance, const._TYPE_SRV, unique, _TTL_HOST, 0, 0, self.http_port,
                                             TARGET))
        out.add_additional_answer(DNSText(instance, const._TYPE_TXT, unique, _TTL_SHARED, self.txt(subtype)))
        out.add_additional_answer(DNSAddress(TARGET, const._TYPE_A, unique, _TTL_HOST,
                                             socket.inet_aton(self.address)))
        return out


def group_socket(group: str, port: int, interface: str) -> socket.socket:
    """A UDP socket bound to (group, port), member of group on interface's address, sending through it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((group, port))
    membership = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton(interface))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    sock.setblocking(False)
    return sock


class _Responder(asyncio.DatagramProtocol):
    def __init__(self, advertisement: Advertisement, group: str, port: int) -> None:
        self.advertisement, self.group, self.port = advertisement, group, port
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # the selector's datagram transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            incoming = DNSIncoming(data)
        except Exception:  # noqa: BLE001 -- a malformed datagram on a shared group is ignored, as any responder does
            return
        if not incoming.valid or not incoming.is_query() or self.transport is None:
            return
        for question in incoming.questions:
            if question.type != const._TYPE_PTR:
                continue
            out = self.advertisement.answer(question.name)
            if out is None:
                continue
            unicast = question.unicast and not self.advertisement.ignore_qu
            destination = addr if unicast else (self.group, self.port)
            for packet in out.packets():
                self.transport.sendto(packet, destination)


async def start_responder(advertisement: Advertisement, group: str, port: int,
                          interface: str) -> tuple[asyncio.DatagramTransport, int]:
    """Answer xmDNS queries on group:port (port 0: any free port); returns the transport and the bound port."""
    sock = group_socket(group, port, interface)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: _Responder(advertisement, group, 0), sock=sock)
    bound = sock.getsockname()[1]
    protocol = transport.get_protocol()
    protocol.port = bound  # type: ignore[attr-defined]
    return transport, bound
