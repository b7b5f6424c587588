"""Packet traces of a probe's connection (results-reporting RPT-060): libpcap files written with dpkt.

The bytes were recorded at the harness's own socket (harness.transport.tlsprobe), not captured from an
interface, so no privilege or capture daemon is needed. They are framed as the packets of one TCP connection
between the real local and remote addresses and ports: the three-way handshake, each recorded segment with
consistent sequence and acknowledgement numbers, and a FIN from each side that closed. Wireshark and tshark
dissect the TLS records in them as they would a live capture.
"""

from __future__ import annotations

import io
import ipaddress
import socket
from collections.abc import Sequence

import dpkt

from harness.transport.tlsprobe import Segment

_MSS = 16_000  # payload per packet: well under the 65 535-byte IP limit, and any snap length below
_SNAPLEN = 65_535


def _ip(src: str, dst: str, tcp: dpkt.tcp.TCP) -> dpkt.Packet:
    if ipaddress.ip_address(src).version == 6:
        packet = dpkt.ip6.IP6(src=socket.inet_pton(socket.AF_INET6, src),
                              dst=socket.inet_pton(socket.AF_INET6, dst), nxt=dpkt.ip.IP_PROTO_TCP, hlim=64,
                              data=tcp, plen=len(bytes(tcp)))
        return dpkt.ethernet.Ethernet(type=dpkt.ethernet.ETH_TYPE_IP6, data=packet, src=b"\x02" * 6,
                                      dst=b"\x04" * 6)
    packet = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=dpkt.ip.IP_PROTO_TCP, ttl=64,
                        data=tcp)
    packet.len = len(packet)  # dpkt fills in the checksum when the packet is serialised
    return dpkt.ethernet.Ethernet(type=dpkt.ethernet.ETH_TYPE_IP, data=packet, src=b"\x02" * 6, dst=b"\x04" * 6)


def pcap_bytes(segments: Sequence[Segment], local: tuple[str, int], remote: tuple[str, int]) -> bytes:
    """A libpcap file (Ethernet link type) holding the TCP connection local -> remote that carried segments."""
    out = io.BytesIO()
    writer = dpkt.pcap.Writer(out, snaplen=_SNAPLEN, linktype=dpkt.pcap.DLT_EN10MB)
    seq = {True: 1_000, False: 50_000}  # next sequence number of each side (True: the harness)
    start = segments[0].at if segments else 0.0

    def emit(outbound: bool, flags: int, payload: bytes, at: float) -> None:
        src, dst = (local, remote) if outbound else (remote, local)
        tcp = dpkt.tcp.TCP(sport=src[1], dport=dst[1], seq=seq[outbound], ack=seq[not outbound], flags=flags,
                           win=65_535, data=payload)
        tcp.off = 5
        ip = _ip(src[0], dst[0], tcp)
        writer.writepkt(bytes(ip), ts=at)
        seq[outbound] += len(payload) + (1 if flags & (dpkt.tcp.TH_SYN | dpkt.tcp.TH_FIN) else 0)

    # The three-way handshake, just before the first recorded bytes (the probe opens the socket then).
    seq[True] -= 1
    seq[False] -= 1
    emit(True, dpkt.tcp.TH_SYN, b"", start)
    emit(False, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, b"", start)
    emit(True, dpkt.tcp.TH_ACK, b"", start)
    closed = {True: False, False: False}
    for segment in segments:
        if closed[segment.outbound]:
            continue
        for offset in range(0, len(segment.data), _MSS):
            emit(segment.outbound, dpkt.tcp.TH_PUSH | dpkt.tcp.TH_ACK, segment.data[offset:offset + _MSS], segment.at)
        if segment.fin:
            emit(segment.outbound, dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK, b"", segment.at)
            closed[segment.outbound] = True
    return out.getvalue()
