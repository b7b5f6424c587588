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


class PluginLoadError(ImportError):
    """A plugin module named by the profile could not be imported."""


def plugin_manager(modules: Iterable[str] = ()) -> pluggy.PluginManager:
    """A plugin manager with our hookspecs, installed entry-point plugins and the named modules."""
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(DutActionSpec)
    manager.load_setuptools_entrypoints(PROJECT)
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise PluginLoadError(f"expected an importable plugin module {name!r}, saw: {exc}") from exc
        if not manager.is_registered(module):
            manager.register(module, name=name)
    return manager
