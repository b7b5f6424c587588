"""Transports by the scheme of the DUT's address: http and https built in, others from plugins.

DESIGN.md's `transport` extension point: a plugin package implements the `csip_transport(scheme)` hook
(harness.hookspecs.TransportSpec) and returns a factory for the schemes it carries (nats next), or code
registers one with register_transport. A factory takes the run's TLS context (None for plain transports)
and the transport options (allowed_origins, connect/read/total timeouts, max_body) and returns a Transport.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.transport.base import Transport

TransportFactory = Callable[..., Transport]


def _http(tls_context: Any, **options: Any) -> Transport:
    from harness.transport.http import HttpTransport

    return HttpTransport(tls_context, **options)


def _nats(tls_context: Any, **options: Any) -> Transport:
    from harness.transport.nats_run import nats_factory

    return nats_factory(tls_context, **options)


# nats:// and tls:// are NATS servers (harness.transport.nats); the session adds base_url, nats_mapping, lfdi
# and sfdi to their options.
_FACTORIES: dict[str, TransportFactory] = {"http": _http, "https": _http, "nats": _nats, "tls": _nats}


class UnknownSchemeError(ValueError):
    """No transport carries the scheme of the DUT's address."""


def register_transport(scheme: str, factory: TransportFactory) -> None:
    """Make factory carry requests to addresses with this scheme (lower-case, e.g. "nats")."""
    _FACTORIES[scheme.lower()] = factory


def schemes(plugins: Any = None) -> list[str]:
    """The schemes a run can reach: the registered ones (the plugins' are found only when asked for one)."""
    return sorted(_FACTORIES)


def transport_for(url: str, tls_context: Any, plugins: Any = None, **options: Any) -> Transport:
    """The transport for the DUT at url, by its scheme: a plugin's `csip_transport` hook first, then the registry.

    Raises UnknownSchemeError naming the schemes known when nothing carries it.
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    factory: TransportFactory | None = None
    if plugins is not None:
        factory = plugins.hook.csip_transport(scheme=scheme)
    factory = factory or _FACTORIES.get(scheme)
    if factory is None:
        raise UnknownSchemeError(f"expected a DUT address with a scheme a transport carries "
                                 f"({', '.join(schemes())}, or one a plugin adds), saw {url!r}")
    return factory(tls_context, **options)
