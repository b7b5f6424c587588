"""Process entry of the reference server: `python -m harness.reference --cert ... --ready-file PATH`."""

from __future__ import annotations

import _ssl
import argparse
import asyncio
import json
import os
import secrets
import signal
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509

from harness.reference import clock
from harness.reference.admin import AdminApp
from harness.reference.app import ReferenceApp
from harness.reference.certcheck import profile_problems
from harness.reference.defects import DEFECTS, Defects, UnknownDefectError
from harness.reference.notify import Notifier
from harness.reference.tree import load_preregistration, seed_tree
from harness.sep.identity import certificate_der, lfdi
from harness.sep.tls import client_context, server_context
from harness.server.http import start_http_server
from harness.transport.nats_wire import NATIVE_SUBJECT, TUNNEL_REQUESTS, TUNNEL_RESPONSES


def build_parser() -> argparse.ArgumentParser:
    """The command-line options of the reference server."""
    parser = argparse.ArgumentParser(
        prog="python -m harness.reference",
        description="A conforming IEEE 2030.5 server for CSIP, with named defects that can be switched on.",
        epilog="defects: " + "; ".join(f"{name}: {text}" for name, text in DEFECTS.items()),
    )
    parser.add_argument("--cert", required=True, help="server certificate (PEM)")
    parser.add_argument("--key", required=True, help="server private key (PEM)")
    parser.add_argument("--ca", required=True, help="CA that issued the client certificates (PEM)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="HTTPS port (0: any free port)")
    parser.add_argument("--http-port", type=int, default=0, help="plain-HTTP redirect port (0: any free port)")
    parser.add_argument(
        "--preregister", action="append", default=[], metavar="CERT[:PIN]",
        help="register the EndDevice of this client certificate (PIN default 111115); repeatable",
    )
    parser.add_argument(
        "--registrar", action="append", default=[], metavar="CERT",
        help="a registration client's certificate: it may register EndDevices in band (POST to /edev); repeatable",
    )
    parser.add_argument("--extra-enddevices", type=int, default=0, help="synthetic EndDevices to add at start")
    parser.add_argument("--time-quality", type=int, default=3, choices=range(3, 8), help="Time quality at start")
    parser.add_argument("--admin-port", type=int, default=0, help="admin interface port (0: any free port)")
    parser.add_argument("--admin-token", help="bearer token of the admin interface (default: a random one)")
    parser.add_argument("--tz-offset", type=int, default=clock.DEFAULT_TZ_OFFSET, help="Time tzOffset, seconds")
    parser.add_argument("--time-scale", type=float, default=1.0, metavar="F",
                        help="run the clock and schedules 1/F times as fast (0 < F <= 1; 1: real time)")
    parser.add_argument("--time-origin", type=float, metavar="UNIX_S",
                        help="the instant from which a scaled clock runs faster (default: the start)")
    parser.add_argument("--defect", action="append", default=[], metavar="NAME", help="switch on a defect")
    parser.add_argument("--xmdns", metavar="GROUP:PORT",
                        help="also answer xmDNS/DNS-SD queries for _smartenergy._tcp.site on this group and UDP port "
                             "(e.g. 239.255.255.251:5353; port 0: any free port), on the --host address (COMM-001)")
    parser.add_argument("--ready-file", help="write the bound ports here as JSON once listening")
    nats_options = parser.add_argument_group("NATS (docs/nats-mapping.md)")
    nats_options.add_argument("--nats", metavar="URL", help="also answer over NATS, via this server (nats:// or tls://)")
    nats_options.add_argument("--nats-mapping", choices=("native", "interstore", "both"), default="both",
                              help="which mappings to answer (default both)")
    nats_options.add_argument("--nats-subject", default=NATIVE_SUBJECT,
                              help="native request subject; {lfdi} is the client's LFDI (default %(default)s)")
    nats_options.add_argument("--nats-tunnel-requests", default=TUNNEL_REQUESTS, help="tunnel request subject")
    nats_options.add_argument("--nats-tunnel-responses", default=TUNNEL_RESPONSES,
                              help="tunnel response subject prefix (.<correlationId> is appended)")
    nats_options.add_argument("--nats-jetstream", action="store_true",
                              help="native requests from JetStream (stream SEP_REQUESTS, durable consumer): those "
                                   "sent while this server is away are answered when it is back")
    nats_options.add_argument("--nats-cert", help="client certificate for NATS TLS (default: --cert)")
    nats_options.add_argument("--nats-key", help="its private key (default: --key)")
    nats_options.add_argument("--nats-ca", help="CA of the NATS server's certificate (default: --ca)")
    return parser


async def start_nats(args: argparse.Namespace, app: ReferenceApp, defects: Defects) -> Any:
    """The NATS front end (harness.reference.nats_front) when --nats is given, connected and subscribed."""
    if not args.nats:
        return None
    # Imported only when asked for: nats-py is not needed to start the HTTPS server.
    from harness.reference.nats_front import NatsFrontEnd

    context = None
    if args.nats.lower().startswith("tls://"):
        context = client_context(args.nats_cert or args.cert, args.nats_key or args.key, args.nats_ca or args.ca)
    front = NatsFrontEnd(app, defects, args.nats, ssl_context=context,
                         native_subject=args.nats_subject if args.nats_mapping != "interstore" else None,
                         tunnel_requests=args.nats_tunnel_requests if args.nats_mapping != "native" else None,
                         tunnel_responses=args.nats_tunnel_responses, jetstream=args.nats_jetstream)
    return await front.start()


async def start_xmdns(args: argparse.Namespace, defects: Defects, https_port: int, http_port: int) -> Any:
    """The xmDNS responder (harness.reference.xmdns) when --xmdns is given: (transport, bound port), else None."""
    if not args.xmdns:
        return None
    from harness.reference.xmdns import Advertisement, start_responder

    group, _, port = args.xmdns.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"--xmdns: expected GROUP:PORT such as 239.255.255.251:5353, saw {args.xmdns!r}") from None
    advertisement = Advertisement(
        address=args.host, http_port=http_port, https_port=https_port,
        paths={"derp": "/derp", "tm": "/tm", "dcap": "/dcap"},
        dcap_without_slash="xmdns-dcap-no-slash" in defects, omit_https="xmdns-no-https-key" in defects,
        ignore_qu="xmdns-qu-ignored" in defects)
    try:
        return await start_responder(advertisement, group, number, args.host)
    except OSError as exc:
        # A host without multicast still serves every other case; COMM-001 then finds no answer and says so.
        print(f"warning: xmDNS responder not started on {args.host} for {group}:{number}: {exc}", file=sys.stderr)
        return None


def configure_client_trust(context: ssl.SSLContext, ca: Path, defects: Defects) -> None:
    """Apply the client-authentication defects to the server's TLS context (none: the SERCA alone, required)."""
    if "client-cert-not-requested" in defects:
        context.verify_mode = ssl.CERT_NONE
    if "no-ccm8-suite" in defects:
        context.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384")
    if "client-trust-too-wide" in defects:
        for path in sorted(ca.parent.glob("*.pem")):
            try:
                cert = x509.load_pem_x509_certificate(path.read_bytes())
            except ValueError:
                continue
            if cert.issuer == cert.subject:
                context.load_verify_locations(cafile=str(path))


def client_chain_check(defects: Defects) -> Callable[[ssl.SSLObject], bool]:
    """Whether a client's verified chain is accepted: it meets the 2030.5 certificate profile
    (harness.reference.certcheck), unless a defect says otherwise."""
    check_profile = "client-cert-profile-unchecked" not in defects
    max_length = 2 if "client-chain-length-two-only" in defects else None

    def accept(ssl_object: ssl.SSLObject) -> bool:
        inner = getattr(ssl_object, "_sslobj", ssl_object)  # get_verified_chain is public from Python 3.13
        try:
            chain = inner.get_verified_chain() or []
        except (AttributeError, ValueError, ssl.SSLError):
            return True
        ders = [c if isinstance(c, bytes) else c.public_bytes(_ssl.ENCODING_DER) for c in chain]
        if max_length is not None and len(ders) > max_length:
            return False
        return not (check_profile and profile_problems(ders))

    return accept


def write_ready_file(path: Path, content: dict[str, object]) -> None:
    """Write JSON atomically: a reader sees either no file or the whole file."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(content))
    os.replace(temporary, path)


async def serve(args: argparse.Namespace, defects: Defects) -> None:
    """Bind both listeners, announce the ports, and serve until SIGTERM or SIGINT."""
    clock.configure(args.time_scale, args.time_origin)
    preregister = [load_preregistration(spec) for spec in args.preregister]
    tree = seed_tree(clock.now(), args.tz_offset, preregister, args.extra_enddevices, time_quality=args.time_quality)
    tree.registrars = {lfdi(certificate_der(path)) for path in args.registrar}
    app = ReferenceApp(tree, defects, args.host)
    token = args.admin_token or secrets.token_urlsafe(24)
    admin_app = AdminApp(tree, token, defects)
    admin = await start_http_server(admin_app.handle, args.host, args.admin_port)
    context = server_context(args.cert, args.key, args.ca, require_client_cert=True)
    configure_client_trust(context, Path(args.ca), defects)
    send_date = "no-date-header" not in defects
    https = await start_http_server(
        app.handle, args.host, args.port, context, on_error=app.protocol_error, send_date=send_date,
        accept_peer=client_chain_check(defects),
    )
    app.https_port = https.port
    # The server delivers Notifications as a TLS client with its own certificate, trusting the same CA; a
    # subscriber's certificate is checked against that CA, not against a host name (2030.5 names no hosts).
    host = f"[{args.host}]" if ":" in args.host else args.host
    app.notifier = Notifier(app, client_context(args.cert, args.key, args.ca, verify="chain"),
                            base_url=f"https://{host}:{https.port}")
    admin_app.notifier, admin_app.https, admin_app.defects = app.notifier, https, defects
    plain = await start_http_server(
        app.handle_plain, args.host, args.http_port, on_error=app.protocol_error, send_date=send_date
    )
    front = await start_nats(args, app, defects)
    if front is not None:
        from harness.reference.nats_notify import NatsNotifications

        app.notifier.nats = await NatsNotifications(front.connection, defects).setup()
    xmdns = await start_xmdns(args, defects, https.port, plain.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    ready = {"https_port": https.port, "http_port": plain.port, "admin_port": admin.port, "admin_token": token,
             "pid": os.getpid(), "defects": sorted(defects.names),
             "time_scale": args.time_scale, "nats": args.nats,
             "xmdns": None if xmdns is None else {"group": args.xmdns.rpartition(":")[0], "port": xmdns[1],
                                                  "interface": args.host}}
    if args.ready_file:
        write_ready_file(Path(args.ready_file), ready)
    print(json.dumps(ready), flush=True)
    await stop.wait()
    await app.notifier.aclose()
    if xmdns is not None:
        xmdns[0].close()
    if front is not None:
        await front.close()
    await https.close()
    await plain.close()
    await admin.close()


def main(argv: list[str] | None = None) -> int:
    """Run the reference server; returns the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        defects = Defects(args.defect)
    except UnknownDefectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(args, defects))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
