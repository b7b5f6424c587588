"""Aggregators of the reference server: the EndDevices an aggregator client manages, placed in a group topology.

The CSIP Implementation Guide §5.6 has an aggregator act for many DERs through one certificate: the server
registers an EndDevice for the aggregator itself and one per DER it manages, and the aggregator's
EndDeviceList holds all of them (IEEE 2030.5-2018 §6.2.3: access to each resource is decided by its ACL; here
the aggregator's LFDI is on the ACL of every EndDevice it manages). The CSIP Conformance Test Procedures'
Figure 15 places four such EndDevices under the service points SPA1, SPA2 (transformer TFA) and SPB1, SPB2
(TFB): each reaches the programs of the groups on its path through its FunctionSetAssignments
(harness.reference.topology).

An EndDevice named only by its LFDI gets the SFDI IEEE 2030.5-2018 §6.3.3 derives from the same certificate
fingerprint: its first 36 bits (the LFDI's first 9 hex digits) as a decimal number, with its check digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.reference import topology
from harness.reference.tree import DEFAULT_PIN, EndDevice, Tree
from harness.sep.identity import with_check_digit


class AggregationError(ValueError):
    """A request the server cannot carry out: an unknown aggregator, a conflicting identity, a bad topology."""


@dataclass(frozen=True)
class Managed:
    """One EndDevice an aggregator manages: its href and the service point it sits under."""

    href: str
    lfdi: str
    sfdi: int
    service_point: str


def sfdi_of(lfdi: str) -> int:
    """The SFDI of the certificate whose LFDI is lfdi (IEEE 2030.5-2018 §6.3.3): 36 bits and a check digit."""
    return with_check_digit(int(lfdi[:9], 16))


def manage(tree: Tree, aggregator_lfdi: str, figure: str, end_devices: list[dict[str, Any]], now: int,
           *, crossed: bool = False) -> list[Managed]:
    """Register each of end_devices (lfdi, optional sfdi, service_point) for the aggregator and place it.

    The aggregator must have an EndDevice of its own (pre-registered). An EndDevice that exists already (same
    LFDI) is taken over and placed again, so asking twice changes nothing more. Raises AggregationError.
    crossed (the topology-branch-crossed defect) gives each device the FSAs of the other branch's first
    service point as well as its own.
    """
    aggregator = tree.device_by_lfdi(aggregator_lfdi)
    if aggregator is None:
        raise AggregationError(f"no EndDevice with LFDI {aggregator_lfdi} for the aggregator: pre-register it first")
    placed: list[Managed] = []
    for spec in end_devices:
        lfdi_value = str(spec["lfdi"]).upper()
        sfdi_value = int(spec.get("sfdi", sfdi_of(lfdi_value)))
        device = tree.device_by_lfdi(lfdi_value)
        if device is not None and device.sfdi != sfdi_value:
            raise AggregationError(f"LFDI {lfdi_value} is registered with SFDI {device.sfdi}, not {sfdi_value}")
        if device is None:
            other = tree.device_by_sfdi(sfdi_value)
            if other is not None:
                raise AggregationError(f"SFDI {sfdi_value} is registered for LFDI {other.lfdi}, not {lfdi_value}")
            device = tree.add_end_device(sfdi_value, lfdi_value, now - 1, DEFAULT_PIN, preregistered=False)
        tree.set_aggregator(device, aggregator.lfdi)
        point = str(spec["service_point"])
        try:
            topology.build_topology(tree, figure, device, point)
            if crossed:
                _cross(tree, figure, device, point)
        except topology.TopologyError as exc:
            raise AggregationError(str(exc)) from None
        placed.append(Managed(f"/edev/{device.index}", lfdi_value, sfdi_value, point))
    return placed


def _cross(tree: Tree, figure: str, device: EndDevice, point: str) -> None:
    """Add the FSAs of the groups of another transformer's branch (the defect): programs not on the device's path."""
    spec = topology.FIGURES[figure]
    mine = spec.path(point)
    other = next((p for p in spec.service_points if spec.path(p)[-2] != mine[-2]), None)
    if other is None:
        return
    own = list(device.fsas)
    topology.build_topology(tree, figure, device, other)
    extra = [fsa for fsa in device.fsas if fsa.description not in set(mine)]
    for index, fsa in enumerate(extra, start=len(own) + 1):
        fsa.index = index
    device.fsas = own + extra
