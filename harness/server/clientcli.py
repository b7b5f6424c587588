"""`csip-harness run --role client`: the harness as the 2030.5 server of a client DUT (a DER, a gateway).

With --reference it starts the test server and the reference simulated DER client (with --defect NAME...);
with --profile a real device's profile it starts the test server, prints what the device must be told (the
address, the CA to trust, the certificate it presents) and waits for its first request. With --transport nats
the exchanges travel over NATS (docs/nats-mapping.md): --reference starts a private nats-server; a real device
is met on its own NATS server, given as --dut. Either way it runs the
selected client cases in order on one test server and writes the evidence bundle as for a server DUT
(results.json, report.html, csip-summary.csv, MANIFEST.sha256).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.cases.loader import CaseFileError
from harness.cases.model import Case, DutProfile
from harness.engine.clock import Clock
from harness.engine.context import RunContext
from harness.results import ERROR, FAILED, TestRecord
from harness.server.clientrun import DUT_IDENTITY, ServerFiles, device_variables, start_test_server
from harness.server.editions import EDITION_2018

# How long a real device has to make its first request once the test server listens (real seconds).
FIRST_REQUEST_WAIT_S = 600.0


class ClientRunError(ValueError):
    """A client-role run that cannot start: what was expected and what was seen."""


def _cases(args: argparse.Namespace) -> tuple[list[Case], list[TestRecord]]:
    from harness.cases.loader import load_case
    from harness.paths import project_dir
    from harness.session import collection_error_record

    where = Path(args.cases) if args.cases else project_dir("testcases") / "client"
    files = [where] if where.is_file() else sorted(where.rglob("*.yaml"))
    cases: list[Case] = []
    broken: list[TestRecord] = []
    for file in files:
        try:
            case = load_case(file)
        except CaseFileError as exc:
            broken.append(collection_error_record(file.stem, str(file), str(exc)))
            continue
        if case.role == "client" and (not args.k or args.k.lower() in f"{case.id} {case.title}".lower()):
            cases.append(case)
    return cases, broken


def _profile(args: argparse.Namespace) -> DutProfile:
    from harness.cases.profile import load_profile
    from harness.paths import project_dir

    path = Path(args.profile) if args.profile else project_dir("fixtures") / "profiles" / "reference-der-client.yaml"
    profile = load_profile(path)
    if profile.role != "client":
        raise ClientRunError(f"--role client: expected a profile with role: client, saw role {profile.role} in {path}")
    return profile


def _metadata(profile: DutProfile, ctx: RunContext, started: float, schema: Any, edition: str) -> dict[str, Any]:
    from harness.report.files import file_sha256
    from harness.report.writer import iso_time
    from harness.session import harness_version

    device = ctx.builtins["device"]
    nats = ctx.builtins.get("nats")
    return {
        "harness_version": harness_version(), "started": iso_time(started),
        "transport": "nats" if nats else "http", "encoding": nats["encoding"] if nats else "xml",
        **({"nats": {"mapping": nats["mapping"], "identity": nats["identity"]}} if nats else {}),
        "time_scale": ctx.clock.scale, "unattended": True,
        "dut": {"url": None, "role": "client", "name": profile.name,
                "profile": str(profile.file) if profile.file else None,
                "profile_sha256": file_sha256(Path(profile.file)) if profile.file else None,
                "capabilities": sorted(profile.capabilities), "test_server": ctx.base_url, "edition": edition},
        "client": {"lfdi": device["lfdi"], "sfdi": device["sfdi"]},
        "tls": {"verify": "full", "allowed_origins": []},
        "schema": {"name": schema.name, "sha256": schema.sha256},
    }


def _tell_the_device(ctx: RunContext, files: ServerFiles, device_cert: Path, device_key: Path | None) -> None:
    device = ctx.builtins["device"]
    lines = [
        "csip-harness: the test server is listening; configure the device under test:",
        f"  server address (DeviceCapability): {ctx.base_url}/dcap",
        f"  CA certificate the device must trust:  {files.ca}",
        f"  certificate the device must present:   {device_cert} (LFDI {device['lfdi']}, SFDI {device['sfdi']})",
    ]
    if device_key is not None:
        lines.append(f"  its private key (install on the device, never share): {device_key}")
    lines.append(f"  registration PIN: {device['pin']}")
    lines.append(f"csip-harness: waiting up to {FIRST_REQUEST_WAIT_S:.0f} s for the device's first request...")
    print("\n".join(lines), flush=True)


async def _wait_for_device(ctx: RunContext) -> bool:
    server = ctx.test_server
    deadline = time.monotonic() + FIRST_REQUEST_WAIT_S
    while time.monotonic() < deadline:
        if any(entry.client == DUT_IDENTITY for entry in server.log):
            return True
        await server.wait_beyond(server.last_seq, 5.0)
    return False


async def _run_cases(ctx: RunContext, cases: list[Case], recorder: Any, quiet: bool) -> list[TestRecord]:
    from harness.engine.runner import run_case

    records = []
    for case in cases:
        record = await run_case(case, ctx)
        record.nodeid = f"{case.file}::{case.id}"
        recorder.add(record)
        records.append(record)
        if not quiet:
            reason = record.reason.splitlines()[0] if record.reason else ""
            print(f"{case.id:<10} {record.verdict.upper():<15} {reason}", flush=True)
    return records


async def _run(args: argparse.Namespace, out: Path, profile: DutProfile, cases: list[Case],
               broken: list[TestRecord]) -> list[TestRecord]:
    from harness.pki import make_test_pki
    from harness.report.recorder import EvidenceRecorder
    from harness.server.reference_client import reference_client_run
    from harness.session import load_schema

    if getattr(args, "encoding", None) == "json" and not _over_nats(args):
        raise ClientRunError("--role client --encoding json: expected --transport nats (CUPID's JSON travels over "
                             "NATS; over HTTPS 2030.5 bodies are XML), saw no NATS transport")
    schema = load_schema(args.schema)
    scale = args.time_scale or 1.0
    if scale != 1.0 and not (args.reference or profile.time_scale_supported):
        raise ClientRunError(f"--time-scale {scale:g}: expected a DUT whose profile says time_scale: true (its clock "
                             "follows the compressed one), saw none; a real device runs at 1")
    clock = Clock(scale)
    started = time.time()
    keys = Path(tempfile.mkdtemp(prefix="csip-client-keys-"))
    edition = EDITION_2018
    if args.reference:
        pki = make_test_pki(keys / "pki", key_dir=keys, profiles=False)
        nats = {"transport": "nats", "nats_mapping": getattr(args, "nats_mapping", None) or "native",
                "encoding": getattr(args, "encoding", None) or "xml"} if _over_nats(args) else {}
        async with reference_client_run(pki, profile, clock, schema, defects=args.defect or (), **nats) as ctx:
            recorder = EvidenceRecorder(out, _metadata(profile, ctx, started, schema, edition),
                                        sorted((keys / "pki").glob("*.pem")))
            for record in broken:
                recorder.add(record)
            records = await _run_cases(ctx, cases, recorder, args.quiet)
        shutil.rmtree(keys, ignore_errors=True)  # the reference client's keys die with the run
    else:
        if _over_nats(args):
            ctx = await _start_for_nats_device(args, profile, clock, schema)
            try:
                recorder = EvidenceRecorder(out, _metadata(profile, ctx, started, schema, edition),
                                            [Path(args.ca)] if args.ca else [])
                for record in broken:
                    recorder.add(record)
                _tell_the_nats_device(ctx)
                if not await _wait_for_device(ctx):
                    lfdi_text = ctx.builtins["device"]["lfdi"]
                    raise ClientRunError(f"expected the device (LFDI {lfdi_text}) to send a request over "
                                         f"{ctx.base_url} within {FIRST_REQUEST_WAIT_S:.0f} s, saw none from it")
                records = await _run_cases(ctx, cases, recorder, args.quiet)
            finally:
                await ctx.test_server.close()
            recorder.finish(time.time())
            from harness.report.manifest import write_manifest

            write_manifest(out)
            return [*broken, *records]
        if args.cert and args.key and args.ca:
            files = ServerFiles(Path(args.cert), Path(args.key), Path(args.ca))
            device_cert, device_key = profile.identity.cert, None
            if device_cert is None:
                raise ClientRunError("--role client with --cert/--key/--ca: expected the device's certificate as "
                                     "identity: {cert: ...} in the profile (the test server knows the device by its "
                                     "LFDI), saw none")
        else:
            pki = make_test_pki(keys / "pki", key_dir=keys, profiles=False, clients=("client",))
            files = ServerFiles(pki.server.cert, pki.server.key, pki.ca)
            device_cert, device_key = pki.clients["client"].cert, pki.clients["client"].key
        ctx = await start_test_server(profile, files, clock, schema, {DUT_IDENTITY: Path(device_cert)},
                                      port=args.port or 0)
        try:
            recorder = EvidenceRecorder(out, _metadata(profile, ctx, started, schema, edition), [files.ca])
            for record in broken:
                recorder.add(record)
            _tell_the_device(ctx, files, Path(device_cert), device_key)
            if not await _wait_for_device(ctx):
                raise ClientRunError(f"expected the device (LFDI {ctx.builtins['device']['lfdi']}) to connect to "
                                     f"{ctx.base_url}/dcap within {FIRST_REQUEST_WAIT_S:.0f} s, saw no request from it")
            records = await _run_cases(ctx, cases, recorder, args.quiet)
        finally:
            await ctx.test_server.close()
    recorder.finish(time.time())
    from harness.report.manifest import write_manifest

    write_manifest(out)
    return [*broken, *records]


async def _start_for_nats_device(args: argparse.Namespace, profile: DutProfile, clock: Clock, schema: Any
                                 ) -> RunContext:
    """The test server answering a real client device over the NATS server --dut (docs/nats-mapping.md): the
    harness's NATS TLS credentials are --cert/--key/--ca for tls://, the device is the profile's identity."""
    import ssl

    import nats.errors

    from harness.sep.tls import client_context
    from harness.server.reference_client import nats_identity
    from harness.transport.nats_run import is_nats_address, run_settings

    if not args.dut or not is_nats_address(args.dut):
        raise ClientRunError(f"--role client --transport nats with a real device: expected --dut nats://HOST:PORT or "
                             f"tls://HOST:PORT (the NATS server the device uses), saw {args.dut or 'none'}")
    if profile.identity.cert is None:
        raise ClientRunError("--role client --transport nats: expected the device's certificate as identity: "
                             "{cert: ...} in the profile (the test server knows the device by its LFDI), saw none")
    try:
        settings = run_settings(profile.raw, getattr(args, "nats_mapping", None), getattr(args, "encoding", None))
    except ValueError as exc:
        raise ClientRunError(str(exc)) from None
    context = None
    if args.dut.lower().startswith("tls://"):
        if not (args.cert and args.key and args.ca):
            raise ClientRunError(f"--dut {args.dut}: expected --cert/--key/--ca, the test server's NATS TLS client "
                                 "certificate (a user allowed to subscribe to the request subjects and answer), saw "
                                 "not all three")
        context = client_context(args.cert, args.key, args.ca)
    mapping = settings.mapping
    try:
        ctx = await start_test_server(profile, None, clock, schema, {DUT_IDENTITY: Path(profile.identity.cert)},
                                      nats_url=args.dut, nats_context=context, nats_subjects={
                                          "native_subject": mapping.request_subject,
                                          "tunnel_requests": mapping.tunnel_requests,
                                          "tunnel_responses": mapping.tunnel_responses})
    except (nats.errors.Error, ssl.SSLError, TimeoutError) as exc:
        raise ClientRunError(f"cannot subscribe on the NATS server {args.dut}: {type(exc).__name__}: {exc}") from None
    ctx.builtins["nats"] = {"mapping": mapping.mode, "encoding": settings.encoding, "server": args.dut,
                            "identity": nats_identity(mapping.mode), "subjects": {
                                "request_subject": mapping.request_subject,
                                "tunnel_requests": mapping.tunnel_requests,
                                "tunnel_responses": mapping.tunnel_responses}}
    return ctx


def _tell_the_nats_device(ctx: RunContext) -> None:
    device, nats = ctx.builtins["device"], ctx.builtins["nats"]
    subjects = nats["subjects"]
    native = subjects["request_subject"].replace("{lfdi}", device["lfdi"].lower())
    print("\n".join([
        f"csip-harness: the test server answers 2030.5 over the NATS server {nats['server']}; configure the device:",
        f"  DeviceCapability path: /dcap (server address {ctx.base_url}/dcap)",
        f"  native requests on: {native} (answered on the request's reply subject)",
        f"  tunnel requests on: {subjects['tunnel_requests']} (answered on {subjects['tunnel_responses']}"
        ".<correlationId>)",
        f"  the device is known by LFDI {device['lfdi']} (SFDI {device['sfdi']}), registration PIN {device['pin']}",
        f"csip-harness: waiting up to {FIRST_REQUEST_WAIT_S:.0f} s for the device's first request...",
    ]), flush=True)


def _over_nats(args: argparse.Namespace) -> bool:
    return getattr(args, "transport", None) == "nats" or bool(getattr(args, "nats_mapping", None))


def run_client_role(args: argparse.Namespace, out: Path) -> int:
    """Run the client cases; 0 when none failed or errored, 1 otherwise, 2 for a usage error (said on stderr)."""
    try:
        profile = _profile(args)
        cases, broken = _cases(args)
        if not cases and not broken:
            raise ClientRunError("expected client-role cases to run, saw none (check --cases and -k)")
        records = asyncio.run(_run(args, out, profile, cases, broken))
    except (ClientRunError, CaseFileError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"csip-harness: evidence of this run in {out} (report.html, results.json)")
    return 1 if any(r.verdict in (FAILED, ERROR) for r in records) else 0


__all__ = ["ClientRunError", "device_variables", "run_client_role"]
