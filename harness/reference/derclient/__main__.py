"""Process entry of the reference DER client: `python -m harness.reference.derclient --server URL ...`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from harness.reference.derclient.admin import DerClientAdmin
from harness.reference.derclient.defects import (
    DER_CLIENT_DEFECTS,
    UnknownDerClientDefectError,
    validate_der_client_defects,
)
from harness.reference.derclient.device import DEFAULT_PIN, Device, Options, Stats
from harness.reference.derclient.wire import EDITIONS
from harness.server.http import start_http_server


def build_parser() -> argparse.ArgumentParser:
    """The command-line options of the reference DER client."""
    parser = argparse.ArgumentParser(
        prog="python -m harness.reference.derclient",
        description="Simulated IEEE 2030.5 DERs (CSIP clients), each with its own certificate, in one process.",
        epilog="defects: " + "; ".join(f"{name}: {text}" for name, text in DER_CLIENT_DEFECTS.items()),
    )
    parser.add_argument("--server", required=True, metavar="URL", help="the server's DeviceCapability URL "
                        "(https://HOST:PORT/dcap)")
    parser.add_argument("--ca", required=True, help="the CA (SERCA) the server's certificate chains to (PEM)")
    parser.add_argument("--cert", help="the device certificate (PEM) of device 0")
    parser.add_argument("--key", help="its private key (PEM)")
    parser.add_argument("--devices", type=int, default=1, help="how many DERs to run (default 1)")
    parser.add_argument("--device-certs", metavar="DIR",
                        help="a folder of device certificates NAME.pem; their keys NAME.key in it or in --device-keys")
    parser.add_argument("--device-keys", metavar="DIR", help="where the keys of --device-certs are (default: the same)")
    parser.add_argument("--defect", action="append", default=[], metavar="NAME", help="switch on a defect")
    parser.add_argument("--time-scale", type=float, default=1.0, metavar="F",
                        help="run the device clocks 1/F times as fast (0 < F <= 1)")
    parser.add_argument("--edition", choices=EDITIONS, default="2018", help="the shape of the bodies it sends")
    parser.add_argument("--pin", type=int, default=DEFAULT_PIN, help="the PIN its Registration must hold")
    parser.add_argument("--status-rate", type=int, default=300, help="DERStatus/DERAvailability PUT period, s")
    parser.add_argument("--post-rate", type=int, default=300, help="MirrorUsagePoint postRate, s")
    parser.add_argument("--seed", type=int, help="seed of the randomisation draws (default: random)")
    parser.add_argument("--nats-mapping", choices=("native", "interstore"), default="native",
                        help="with a nats:// or tls:// --server: how 2030.5 travels (docs/nats-mapping.md)")
    parser.add_argument("--encoding", choices=("xml", "json"), default="xml",
                        help="the bodies' encoding: 2030.5 XML, or CUPID's JSON (over NATS)")
    parser.add_argument("--admin-host", default="127.0.0.1")
    parser.add_argument("--admin-port", type=int, default=0, help="admin API port (0: any free port)")
    parser.add_argument("--ready-file", help="write the admin URL and the devices as JSON here once listening")
    return parser


def device_pairs(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    """The (certificate, key) of each device; ValueError naming what is missing."""
    pairs: list[tuple[Path, Path]] = []
    if args.cert:
        if not args.key:
            raise ValueError("expected --key with --cert")
        pairs.append((Path(args.cert), Path(args.key)))
    if args.device_certs:
        folder = Path(args.device_certs)
        keys = Path(args.device_keys) if args.device_keys else folder
        for cert in sorted(folder.glob("*.pem")):
            key = keys / (cert.stem + ".key")
            if key.exists():
                pairs.append((cert, key))
    if args.devices < 1:
        raise ValueError(f"expected --devices of at least 1, saw {args.devices}")
    if len(pairs) < args.devices:
        raise ValueError(f"expected {args.devices} device certificates with keys (--cert/--key, --device-certs), "
                         f"found {len(pairs)}")
    return pairs[: args.devices]


def write_ready(path: str, content: dict[str, object]) -> None:
    """Write content as JSON to path, atomically (write, then rename)."""
    temporary = Path(path + ".tmp")
    temporary.write_text(json.dumps(content))
    os.replace(temporary, path)


async def serve(args: argparse.Namespace) -> None:
    """Start every device and the admin API; run until SIGTERM/SIGINT or a stop request."""
    defects = validate_der_client_defects(args.defect)
    if not 0 < args.time_scale <= 1:
        raise ValueError(f"expected a time scale F with 0 < F <= 1, saw {args.time_scale}")
    structure = None
    if args.encoding == "json":
        from harness.sep.schema import SchemaSet

        structure = SchemaSet.bundled().structure()
    options = Options(defects=defects, time_scale=args.time_scale, edition=args.edition, pin=args.pin,
                      status_rate=args.status_rate, post_rate=args.post_rate, seed=args.seed,
                      nats_mapping=args.nats_mapping, encoding=args.encoding, structure=structure)
    stats = Stats()
    devices = [Device(i, cert, key, Path(args.ca), args.server, options, stats)
               for i, (cert, key) in enumerate(device_pairs(args))]
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    admin = DerClientAdmin(devices, stats)
    server = await start_http_server(admin.handle, args.admin_host, args.admin_port)
    for device in devices:
        device.start()
    if args.ready_file:
        write_ready(args.ready_file, {
            "admin_url": f"http://{args.admin_host}:{server.port}", "pid": os.getpid(),
            "defects": sorted(defects), "edition": args.edition,
            "devices": [{"lfdi": d.lfdi, "sfdi": d.sfdi} for d in devices],
        })
    await done.wait()
    for device in devices:
        await device.stop()
    await server.close()


def main(argv: list[str] | None = None) -> int:
    """Run the client; 2 with a message on stderr for bad options."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args))
    except (ValueError, UnknownDerClientDefectError, OSError) as exc:
        print(f"derclient: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
