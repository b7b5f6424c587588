"""The client-role run against the reference simulated DER client: the test server, the client process, the
DUT-side actions through the client's admin API (fixtures/profiles/reference-der-client.yaml)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import Any

from harness.actions.runner import ActionRunner
from harness.cases.model import DutProfile
from harness.engine.clock import Clock
from harness.engine.context import RunContext
from harness.pki import TestPki
from harness.server.clientrun import ServerFiles, start_test_server
from harness.server.editions import EDITION_2018


@contextlib.asynccontextmanager
async def reference_client_run(pki: TestPki, profile: DutProfile, clock: Clock, schema: Any, *,
                               defects: Iterable[str] = (), edition: str = EDITION_2018,
                               builtins: dict[str, Any] | None = None) -> AsyncIterator[RunContext]:
    """Start the test server (mutual TLS, the PKI's server certificate) and the reference DER client presenting
    the PKI's `client` certificate, with the named defects and the clock's time scale; yield the run context
    (its actions reach the client's admin API); stop both on exit. DerClientError when the client never starts.
    """
    from harness.reference.derclient.process import spawn_der_client

    ctx = await start_test_server(profile, ServerFiles(pki.server.cert, pki.server.key, pki.ca), clock, schema,
                                  {"client": pki.clients["client"].cert}, edition=edition, builtins=builtins)
    loop = asyncio.get_running_loop()
    process = None
    try:
        process = spawn_der_client(pki, f"{ctx.base_url}/dcap", defects=tuple(defects), time_scale=clock.scale,
                                   edition=edition)
        # The test server answers the client's first requests while this waits.
        await loop.run_in_executor(None, process.wait_ready, 30.0)
        ctx.actions = ActionRunner(profile, {"admin_url": process.admin_url}, unattended=True)
        ctx.builtins["reference_client"] = {"admin_url": process.admin_url, "defects": list(process.defects)}
        yield ctx
    finally:
        if process is not None:
            await loop.run_in_executor(None, process.stop)
        await ctx.test_server.close()
