"""The client-role run against the reference simulated DER client: the test server, the client process, the
DUT-side actions through the client's admin API (fixtures/profiles/reference-der-client.yaml)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from harness.actions.runner import ActionRunner
from harness.cases.model import DutProfile
from harness.engine.clock import Clock
from harness.engine.context import RunContext
from harness.pki import TestPki, make_device_certificates
from harness.server.clientrun import ServerFiles, start_test_server
from harness.server.editions import EDITION_2018


def _start_nats_server(pki: TestPki, workdir: Path) -> tuple[Any, Any]:
    """A private nats-server with TLS and certificate-mapped users: the DER ("client") may publish only on its
    own native subject and the tunnel's request subject; the test server, with a certificate of its own issued
    here, answers everything. Returns (the NatsServer, the test server's NATS TLS client context)."""
    from harness.reference.natsd import NatsServer, TlsUsers
    from harness.sep.tls import client_context

    responder = make_device_certificates(pki, 1, workdir / "certs", key_dir=workdir / "keys",
                                         prefix="nats-test-server")[0]
    users = TlsUsers(pki.server.cert, pki.server.key, pki.ca, clients=[pki.clients["client"].cert],
                     responders=[responder.cert])
    server = NatsServer(users, workdir=workdir / "natsd").start()
    return server, client_context(responder.cert, responder.key, pki.ca)


@contextlib.asynccontextmanager
async def reference_client_run(pki: TestPki, profile: DutProfile, clock: Clock, schema: Any, *,
                               defects: Iterable[str] = (), edition: str = EDITION_2018,
                               builtins: dict[str, Any] | None = None, transport: str = "http",
                               nats_mapping: str = "native", encoding: str = "xml") -> AsyncIterator[RunContext]:
    """Start the test server (mutual TLS, the PKI's server certificate) and the reference DER client presenting
    the PKI's `client` certificate, with the named defects and the clock's time scale; yield the run context
    (its actions reach the client's admin API); stop both on exit. DerClientError when the client never starts.

    transport "nats": a private nats-server (NATS TLS, certificate-mapped users) carries the exchanges, the
    test server answering in both mappings and the client speaking nats_mapping (native, interstore) with
    bodies in encoding (xml, json); ctx.builtins["nats"] says which, and where the DER's identity comes from.
    """
    from harness.reference.derclient.process import spawn_der_client

    loop = asyncio.get_running_loop()
    natsd = None
    workdir = Path(tempfile.mkdtemp(prefix="csip-client-nats-"))
    nats_options: dict[str, Any] = {}
    try:
        if transport == "nats":
            natsd, nats_context = await loop.run_in_executor(None, _start_nats_server, pki, workdir)
            nats_options = {"nats_url": natsd.url, "nats_context": nats_context}
        ctx = await start_test_server(profile, ServerFiles(pki.server.cert, pki.server.key, pki.ca), clock, schema,
                                      {"client": pki.clients["client"].cert}, edition=edition, builtins=builtins,
                                      **nats_options)
    except BaseException:
        if natsd is not None:
            natsd.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    if natsd is not None:
        ctx.builtins["nats"] = {"mapping": nats_mapping, "encoding": encoding, "server": natsd.url,
                                "identity": nats_identity(nats_mapping)}
    process = None
    try:
        process = spawn_der_client(pki, f"{ctx.base_url}/dcap", defects=tuple(defects), time_scale=clock.scale,
                                   edition=edition, nats_mapping=nats_mapping if natsd else None,
                                   encoding=encoding if natsd else None)
        # The test server answers the client's first requests while this waits.
        await loop.run_in_executor(None, process.wait_ready, 30.0)
        ctx.actions = ActionRunner(profile, {"admin_url": process.admin_url}, unattended=True)
        ctx.builtins["reference_client"] = {"admin_url": process.admin_url, "defects": list(process.defects)}
        yield ctx
    finally:
        if process is not None:
            await loop.run_in_executor(None, process.stop)
        await ctx.test_server.close()
        if natsd is not None:
            natsd.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def nats_identity(mapping: str) -> str:
    """Where the test server takes the client DUT's LFDI from over NATS, for the report."""
    if mapping == "interstore":
        return ("the envelope's lfdi (the tunnel proxy's identity, standing for every device behind it; the "
                "reference DER client puts its own certificate's there)")
    return ("the LFDI token of the native request subject, which the NATS server (TLS, verify_and_map, one publish "
            "subject per user) makes the LFDI of the DER's NATS TLS client certificate")
