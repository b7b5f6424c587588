"""A served tree for a fleet of client DUTs on one test server: one EndDevice, and what hangs under it, per device.

A client-role tree file (fixtures/trees/der-basic.yaml) describes one DUT: its EndDevice at a template href
(`/edev/1`) with `${device.lfdi}`, `${device.sfdi}` and `${device.pin}`, and the resources every client shares
(/dcap, the Time, the DERPrograms). For N devices (the reference DER client's `--devices N`, the bench of the
test server) the template's resources are repeated once per device, at /edev/1 ... /edev/N, each with that
device's variables, and the list holding the template (the EndDeviceList) holds them all. Each EndDevice is
owned by its device's LFDI: the test server shows a client only its own EndDevice in that list, as a CSIP
server shows an authorised DER an EndDeviceList of exactly one entry (CSIP Implementation Guide §6.1.3).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.cases.variables import VariableError, substitute
from harness.cases.yamlload import YamlFileError, line_of, load_yaml
from harness.server.tree import ServedTree, TreeError, _entry

TEMPLATE = "/edev/1"


def _rehref(value: Any, old: str, new: str) -> Any:
    """value with every string that is old or starts with old + '/' moved under new (recursively)."""
    if isinstance(value, str):
        return new + value[len(old):] if value == old or value.startswith(old + "/") else value
    if isinstance(value, dict):
        return {k: _rehref(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_rehref(v, old, new) for v in value]
    return value


def _under(href: str, prefix: str) -> bool:
    return href == prefix or href.startswith(prefix + "/")


def fleet_tree(path: str | Path, devices: Sequence[Mapping[str, Any]], variables: Mapping[str, Any],
               now: Callable[[], float], *, template: str = TEMPLATE) -> ServedTree:
    """The tree of path served to len(devices) clients: device k (from 1) gets the template's resources at
    /edev/k (template `/edev/1` with its last segment numbered), with `${device.*}` from devices[k - 1].

    devices: each the `${device.*}` of one DUT (name, lfdi, sfdi, pin as clientrun.device_variables gives);
    variables: the other variables of the file (`now`). The returned tree's owners map each EndDevice href
    to its device's LFDI (upper-case). Raises YamlFileError (file:line) for a file that cannot be served, or
    one with no resource at template, or none of its lists holding it; ValueError for no devices.
    """
    if not devices:
        raise ValueError("expected at least one device, saw none")
    file = Path(path)
    tree = ServedTree.load(file, {**variables, "device": dict(devices[0])}, now)
    if template not in tree.resources:
        raise YamlFileError(file, None, f"expected a resource at {template} to repeat per device, saw none")
    holders = [r for r in tree.resources.values() if r.items is not None and template in r.items]
    if not holders:
        raise YamlFileError(file, None, f"expected a list (the EndDeviceList) holding {template}, saw none")
    data = load_yaml(file)
    specs = {href: spec for href, spec in data["resources"].items() if _under(href, template)}
    parent = template.rsplit("/", 1)[0]
    tree.owners[template] = str(devices[0]["lfdi"]).upper()
    for number, device in enumerate(devices[1:], start=2):
        href_k = f"{parent}/{number}"
        if href_k in tree.resources:
            raise YamlFileError(file, line_of(data, ["resources", href_k]), f"expected {href_k} free for device "
                                f"{number} of {len(devices)}, saw the file serve it")
        values = {**variables, "device": dict(device)}
        for href, spec in specs.items():
            moved = _rehref(href, template, href_k)
            try:
                resource = _entry(moved, _rehref(substitute(spec, values), template, href_k), f"resource {moved}")
            except (TreeError, VariableError) as exc:
                raise YamlFileError(file, line_of(data, ["resources", href]), str(exc)) from None
            tree.resources[moved] = resource
        for holder in holders:
            holder.items.append(href_k)  # type: ignore[union-attr]
        tree.owners[href_k] = str(device["lfdi"]).upper()
    return tree
