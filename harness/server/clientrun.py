"""Setting up a client-role run: the test server with its certificate, the DUT's identity, the run context.

In the client role the DUT is a 2030.5 client (a DER, a gateway) and the harness is its server. The DUT's
certificate (the profile's `identity:`, or the reference client's from the run's PKI) names it: its LFDI
and SFDI become `${device.lfdi}`/`${device.sfdi}` in the served trees and the test server recognises it by
that LFDI. Further identities (a second device, an aggregator) are recognised by theirs.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.actions.runner import ActionRunner
from harness.cases.model import DutProfile
from harness.engine.clock import Clock
from harness.engine.context import RunContext
from harness.sep.identity import certificate_der, lfdi, sfdi
from harness.sep.tls import server_context
from harness.server.editions import EDITION_2018
from harness.server.testserver import TestServer
from harness.server.tree import Resource, ServedTree

DEFAULT_PIN = 111115
DUT_IDENTITY = "client"


@dataclass(frozen=True)
class ServerFiles:
    """The test server's certificate and key and the CA its clients' certificates must chain to (PEM files)."""

    cert: Path
    key: Path
    ca: Path


def device_variables(cert: Path, pin: int | None, name: str = DUT_IDENTITY) -> dict[str, Any]:
    """`${device.*}`: the name, LFDI, SFDI and Registration PIN of the DUT whose certificate is cert."""
    der = certificate_der(cert)
    return {"name": name, "lfdi": lfdi(der), "sfdi": sfdi(der), "pin": DEFAULT_PIN if pin is None else pin}


def _empty_tree(clock: Clock) -> ServedTree:
    # Until the first case serves its tree, the DUT finds a bare DeviceCapability and the Time.
    return ServedTree({"/dcap": Resource(href="/dcap", kind="DeviceCapability", content={"TimeLink": {"href": "/tm"}})},
                      clock.now)


async def start_test_server(profile: DutProfile, files: ServerFiles | None, clock: Clock, schema: Any,
                            identities: dict[str, Path], *, edition: str = EDITION_2018, host: str = "127.0.0.1",
                            port: int = 0, builtins: dict[str, Any] | None = None,
                            actions: ActionRunner | None = None, nats_url: str | None = None,
                            nats_context: ssl.SSLContext | None = None,
                            nats_subjects: dict[str, Any] | None = None) -> RunContext:
    """Start the test server (mutual TLS with files; plain HTTP when files is None) and return the run context.

    identities maps names to the certificate files of the clients the server knows; `client` is the DUT. The
    context's base_url is the test server's, its test_server the server, its builtins `device` and `server`.
    With nats_url (``nats://`` or ``tls://``, nats_context its TLS client certificate) the server also answers
    2030.5 over NATS in both mappings (docs/nats-mapping.md; nats_subjects: native_subject, tunnel_requests,
    tunnel_responses when not the defaults) and base_url is the NATS server's.
    """
    if DUT_IDENTITY not in identities:
        raise ValueError("expected the DUT's certificate (identity 'client'), saw none")
    clients = {lfdi(certificate_der(path)): name for name, path in identities.items()}
    server = TestServer(_empty_tree(clock), clock, schema, clients, edition=edition, max_body=profile.max_body)
    context = server_context(files.cert, files.key, files.ca) if files is not None else None
    base_url = await server.start(context, host, port)
    if nats_url:
        structure = schema.structure() if hasattr(schema, "structure") else None
        try:
            base_url = await server.start_nats(nats_url, nats_context, structure, **(nats_subjects or {}))
        except BaseException:
            await server.close()
            raise
    device = device_variables(identities[DUT_IDENTITY], profile.identity.pin)
    variables = {**(builtins or {}), "device": device,
                 "server": {"url": base_url, "dcap": f"{base_url}/dcap", "edition": edition}}
    return RunContext(profile=profile, base_url=base_url, transport=None, schema=schema,  # type: ignore[arg-type]
                      builtins=variables, actions=actions, clock=clock, test_server=server)
