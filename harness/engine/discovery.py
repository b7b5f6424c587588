"""`discover:` steps: xmDNS/DNS-SD discovery of a 2030.5 server (IEEE 2030.5-2018 §6.11.11 xmDNS, §7 DNS-SD;
CSIP COMM-001, requirements DNS.001-DNS.041 and SEC.104-SEC.109).

The harness sends one PTR question (a subtype such as `derp._sub._smartenergy._tcp.site.` or the main service
`_smartenergy._tcp.site.`) to the xmDNS group (239.255.255.251, UDP 5353) from the group's port, with the QU bit
(top bit of the question's class) on or off, and judges the answers that come back within the step's limit:

- delivery: QU off, the answer goes to the group (multicast); QU on, to the querier (unicast) (SEC.109);
- records: a PTR for the queried name, the instance's SRV, its TXT and an A record for the SRV target;
- TXT (2030.5 §7.x): `txtvers=1` is the first key, `dcap` starts with '/', `path` is present and non-empty in a
  subtype answer and absent in the main-service answer, `https` is present (a CSIP server offers HTTPS), `level`
  is present.

It saves `url` (https://<A address>:<https port><path, or dcap for the main service>), `dcap_url`, `host`,
`port`, `path` and `instance` under the names its `save:` gives, for the next step to GET.

Where it asks: the run variables `xmdns_group`, `xmdns_port` and `xmdns_interface` (the local IPv4 address whose
link the DUT is on; default 0.0.0.0, the system's choice), given with `--var` or by `--reference`. The wire format
is zeroconf's (DNSOutgoing, DNSIncoming); the socket is the harness's own, because a conformance check must set
the QU bit itself and see where each answer was addressed (IP_PKTINFO), which zeroconf's engine does not expose.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zeroconf import DNSAddress, DNSIncoming, DNSOutgoing, DNSPointer, DNSQuestion, DNSService, DNSText, const

from harness.results import FAILED

if TYPE_CHECKING:
    from harness.cases.model import Step
    from harness.engine.context import RunContext
    from harness.results import StepRecord

SERVICE = "_smartenergy._tcp.site."
DEFAULTS = {"xmdns_group": "239.255.255.251", "xmdns_port": "5353", "xmdns_interface": "0.0.0.0"}
_IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # Linux's value; Python names it from 3.13 on some builds
_GRACE_S = 0.3  # after the first answer, how long further packets of the same answer may take


class DiscoveryError(Exception):
    """The harness could not send its query (no socket, no route): an environment fault, never the DUT's."""


@dataclass
class Received:
    """One DNS response: the packet, the address it was sent to (the group or ours) and who sent it."""

    packet: DNSIncoming
    destination: str
    source: tuple[str, int]


def parse_txt(data: bytes) -> list[tuple[str, str | None]]:
    """TXT rdata as (key, value) in the order sent (RFC 6763 §6.4: value None when there is no '=')."""
    pairs: list[tuple[str, str | None]] = []
    offset = 0
    while offset < len(data):
        length = data[offset]
        item = data[offset + 1:offset + 1 + length].decode("utf-8", "replace")
        offset += 1 + length
        if item:
            key, sep, value = item.partition("=")
            pairs.append((key.lower(), value if sep else None))
    return pairs


def _socket(group: str, port: int, interface: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        # From the group's port: a query from another port is a "legacy unicast" one, answered unicast whatever
        # its QU bit (RFC 6762 §6.7), which would hide the behaviour the step judges.
        sock.bind(("", port))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                        struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton(interface)))
        if interface != "0.0.0.0":
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        sock.setsockopt(socket.IPPROTO_IP, _IP_PKTINFO, 1)
    except OSError:
        sock.close()
        raise
    return sock


def query(group: str, port: int, interface: str, qname: str, qu: bool, within: float) -> list[Received]:
    """Send one PTR question for qname to group:port and gather the DNS responses for `within` seconds (at most
    _GRACE_S after the first). Raises DiscoveryError when the question cannot be sent."""
    try:
        sock = _socket(group, port, interface)
    except OSError as exc:
        raise DiscoveryError(f"cannot open the xmDNS socket on {interface} for {group}:{port}: {exc}") from None
    with sock:
        out = DNSOutgoing(const._FLAGS_QR_QUERY, multicast=True)
        question = DNSQuestion(qname, const._TYPE_PTR, const._CLASS_IN)
        question.unicast = qu
        out.add_question(question)
        try:
            for packet in out.packets():
                sock.sendto(packet, (group, port))
        except OSError as exc:
            raise DiscoveryError(f"cannot send the xmDNS query to {group}:{port}: {exc}") from None
        received: list[Received] = []
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data, ancillary, _flags, source = sock.recvmsg(9000, socket.CMSG_SPACE(12))
            except TimeoutError:
                break
            try:
                packet = DNSIncoming(data)
            except Exception:  # noqa: BLE001 -- another host's malformed datagram on a shared group is not ours
                continue
            if not packet.valid or not packet.is_response():
                continue  # our own query, looped back, or another querier's
            destination = next((socket.inet_ntoa(blob[8:12]) for level, kind, blob in ancillary
                                if level == socket.IPPROTO_IP and kind == _IP_PKTINFO and len(blob) >= 12), "?")
            received.append(Received(packet, destination, source))
            deadline = min(deadline, time.monotonic() + _GRACE_S)
        return received


def _records(received: list[Received]) -> list[Any]:
    return [record for item in received for record in item.packet.answers()]


def _describe(record: Any) -> dict[str, Any]:
    kind = type(record).__name__.removeprefix("DNS")
    seen: dict[str, Any] = {"type": kind, "name": record.name}
    if isinstance(record, DNSPointer):
        seen["alias"] = record.alias
    elif isinstance(record, DNSService):
        seen.update(target=record.server, port=record.port)
    elif isinstance(record, DNSText):
        seen["txt"] = [f"{k}={v}" if v is not None else k for k, v in parse_txt(record.text)]
    elif isinstance(record, DNSAddress):
        seen["address"] = socket.inet_ntoa(record.address) if len(record.address) == 4 else record.address.hex()
    return seen


def judge(qname: str, qu: bool, group: str, received: list[Received]) -> tuple[list[str], dict[str, Any]]:
    """The procedure's checks of the answers to one query: (problems, what was found: url, host, port...)."""
    problems: list[str] = []
    found: dict[str, Any] = {}
    main = qname.lower() == SERVICE
    for item in received:
        multicast = item.destination == group
        if qu and multicast:
            problems.append(f"SEC.109: the query had the QU bit on, so the answer must be unicast to the querier; it "
                            f"was sent to the group {group}")
        elif not qu and not multicast:
            problems.append(f"SEC.109: the query had the QU bit off, so the answer must be multicast to {group}; it "
                            f"was sent to {item.destination}")
    records = _records(received)
    pointers = [r for r in records if isinstance(r, DNSPointer) and r.name.lower() == qname.lower()]
    if not pointers:
        return [*problems, f"DNS-SD: the answer holds no PTR record for {qname}"], found
    instances = sorted({p.alias for p in pointers})
    if main and len(instances) > 1:
        problems.append(f"DNS-SD: expected exactly one PTR for {SERVICE} from the server, saw {len(instances)}: "
                        f"{', '.join(instances)}")
    instance = pointers[0].alias
    found["instance"] = instance
    services = [r for r in records if isinstance(r, DNSService) and r.name.lower() == instance.lower()]
    texts = [r for r in records if isinstance(r, DNSText) and r.name.lower() == instance.lower()]
    if not services:
        problems.append(f"DNS-SD: the answer holds no SRV record for the instance {instance!r}")
    if not texts:
        return [*problems, f"DNS-SD: the answer holds no TXT record for the instance {instance!r}"], found
    pairs = parse_txt(texts[0].text)
    keys = dict(pairs)
    if not pairs or pairs[0] != ("txtvers", "1"):
        problems.append(f"2030.5 DNS-SD TXT: txtvers=1 must be the first key; saw {pairs[0] if pairs else 'none'}")
    dcap = keys.get("dcap")
    if not dcap or not dcap.startswith("/"):
        problems.append(f"2030.5 DNS-SD TXT: the dcap key must be present with a leading '/'; saw dcap={dcap!r}")
    path = keys.get("path")
    if main and "path" in keys:
        problems.append(f"2030.5 DNS-SD TXT: the main-service answer must not carry a path key; saw path={path!r}")
    if not main and not path:
        problems.append(f"2030.5 DNS-SD TXT: a subtype answer must carry a non-empty path key; saw path={path!r}")
    https = keys.get("https")
    if not https:
        problems.append("2030.5 DNS-SD TXT: the https key must be present when the server offers HTTPS (CSIP "
                        "servers offer only HTTPS); it is absent")
    if "level" not in keys:
        problems.append("2030.5 DNS-SD TXT: the level key must be present; it is absent")
    if not services:
        return problems, found
    target = services[0].server
    addresses = [r for r in records if isinstance(r, DNSAddress) and r.name.lower() == target.lower()]
    if not addresses:
        return [*problems, f"DNS-SD: the answer holds no A or AAAA record for the SRV target {target!r}"], found
    raw = addresses[0].address
    host = socket.inet_ntoa(raw) if len(raw) == 4 else f"[{socket.inet_ntop(socket.AF_INET6, raw)}]"
    port = https if https and https.isdigit() else "443"  # https key: the port, or the default when it has none
    found.update(host=host, port=int(port), path=(dcap if main else path) or "",
                 dcap_url=f"https://{host}:{port}{dcap or ''}")
    found["url"] = f"https://{host}:{port}{found['path']}"
    return problems, found


def settings(ctx: RunContext) -> tuple[str, int, str]:
    """The group, UDP port and interface address the run's discover steps use (run variables, else xmDNS's)."""
    values = {**DEFAULTS, **{k: str(v) for k, v in (ctx.builtins.get("xmdns") or {}).items() if v}}
    return values["xmdns_group"], int(values["xmdns_port"]), values["xmdns_interface"]


async def discover_step(step: Step, ctx: RunContext, variables: dict[str, Any], record: StepRecord) -> StepRecord:
    """Run one `discover:` step: query, judge, save. An answer that misses a requirement fails the step (the DUT's
    fault); a query the harness cannot send raises DiscoveryError (the runner makes it an error)."""
    spec = step.discover
    assert spec is not None
    group, port, interface = settings(ctx)
    qname = spec.query if spec.query.endswith(".") else spec.query + "."
    started = time.perf_counter()
    received = await asyncio.to_thread(query, group, port, interface, qname, spec.qu, spec.within)
    record.duration_s = round(time.perf_counter() - started, 6)
    record.expected = {"query": qname, "qu": spec.qu, "to": f"{group}:{port}",
                       "answer": "unicast to the querier" if spec.qu else f"multicast to {group}"}
    record.observed = {"answers": [{"to": item.destination, "from": f"{item.source[0]}:{item.source[1]}",
                                    "records": [_describe(r) for r in item.packet.answers()]} for item in received]}
    if not received:
        record.verdict = FAILED
        record.message = (f"step {step.index} {step.name!r}: no xmDNS answer to the PTR query for {qname} (QU "
                          f"{'on' if spec.qu else 'off'}) sent to {group}:{port} within {spec.within:g} s")
        return record
    problems, found = judge(qname, spec.qu, group, received)
    record.observed["found"] = found
    for name, key in step.save.items():
        if key in found:
            variables[name] = record.saved[name] = found[key]
        else:
            problems.append(f"save {name}: the answer gave no {key}")
    if problems:
        record.verdict = FAILED
        record.message = f"step {step.index} {step.name!r}: " + "; ".join(problems)
    return record
