"""pluggy hook specifications vendors implement in their own packages (entry-point group `csip_harness`)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

import pluggy

PROJECT = "csip_harness"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class DutActionSpec:
    """Hooks for carrying out DUT-side actions in Python."""

    @hookspec(firstresult=True)
    def csip_dut_action(
        self, action: str, params: dict[str, Any], config: dict[str, Any], variables: dict[str, Any]
    ) -> str | None:
        """Carry out `action` on the DUT and return a short note of what was done; None if not handled.

        `params` are the action's parameters (substituted, defaults filled in), `config` the mapping's
        settings from the profile, `variables` the run's template variables. Raise any exception to report
        the action as failed: the run records the case as error, naming the message.
        """

    @hookspec(firstresult=True)
    def csip_dut_observe(
        self, observation: str, params: dict[str, Any], config: dict[str, Any], variables: dict[str, Any]
    ) -> Any:
        """Read `observation` (e.g. active-control) from the DUT and return its value, a JSON-like object shaped
        as the registry's `returns` says; None if not handled.

        Arguments as for csip_dut_action. Raise any exception to report the observation as failed: the step is
        an error, naming the message.
        """


class TransportSpec:
    """Hooks for carrying requests to a DUT over another transport (harness.transport.registry)."""

    @hookspec(firstresult=True)
    def csip_transport(self, scheme: str) -> Any:
        """A factory for the DUT address scheme (lower-case, e.g. "nats"), or None if not handled.

        The factory is called as factory(tls_context, **options) with the run's TLS context (or None) and
        allowed_origins, connect_timeout, read_timeout, total_timeout and max_body, and returns an object
        with the harness.transport.base.Transport interface.
        """


class PluginLoadError(ImportError):
    """A plugin module named by the profile could not be imported."""


def plugin_manager(modules: Iterable[str] = ()) -> pluggy.PluginManager:
    """A plugin manager with our hookspecs, installed entry-point plugins and the named modules."""
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(DutActionSpec)
    manager.add_hookspecs(TransportSpec)
    manager.load_setuptools_entrypoints(PROJECT)
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise PluginLoadError(f"expected an importable plugin module {name!r}, saw: {exc}") from exc
        if not manager.is_registered(module):
            manager.register(module, name=name)
    return manager
