"""Per-client authorisation of the reference server: which per-client resources a certificate may access.

IEEE 2030.5-2018 §6.2.3 gives every resource an access control list deciding whether a particular client may
access it. This server's lists are derived from the client certificate's LFDI:

* a device certificate accesses its own EndDevice and everything under /edev/{its index}, and the
  MirrorUsagePoints it created (with the UsagePoints they feed);
* shared resources (DeviceCapability, Time, the DERProgramList with its programs, controls and curves, the
  ResponseSet) are for every registered client, and DeviceCapability and Time for anyone;
* a certificate with no EndDevice is not registered: 403 on everything but the public resources.

A registered client asking for a per-client resource that exists but is not its own is answered
403 Forbidden: the server understood the request and its ACL denies it (HTTP semantics, RFC 9110 §15.5.4),
which keeps it apart from 404 for a resource that does not exist. The CSIP Implementation Guide §6.1.3 has an
authorised DER's EndDeviceList hold exactly one entry, its own EndDevice; lists here are filtered that way.

A registration client (a utility's commissioning tool, `--registrar CERT`) has no EndDevice of its own: it may
register EndDevices in band with POST and sees those it registered. An aggregator (CSIP Implementation Guide
§5.6) has an EndDevice of its own and sees, and acts for, every EndDevice registered for it
(harness.reference.aggregation): its EndDeviceList holds them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.reference.defects import Defects
from harness.reference.tree import EndDevice, Tree

FORBIDDEN = 403
NOT_FOUND = 404


@dataclass(frozen=True)
class Scope:
    """What one client certificate may access: its LFDI, its EndDevice, and the EndDevices it may see."""

    lfdi: str | None  # the certificate's LFDI (40 upper-case hex digits); None without a client certificate
    device: EndDevice | None  # the EndDevice registered for that LFDI
    end_devices: frozenset[int]  # indices of the EndDevices this identity may see and change
    all_end_devices: bool = False  # the edev-not-scoped defect
    all_mirrors: bool = False  # the mup-not-scoped defect
    registrar: bool = False  # a registration client: registers EndDevices in band, has none of its own

    @property
    def registered(self) -> bool:
        """Whether the certificate is known to this server: it has an EndDevice, or it is a registrar."""
        return self.device is not None or self.registrar

    def may_access_end_device(self, index: int) -> bool:
        """Whether the EndDevice /edev/{index} (and everything under it) is this client's to see and change."""
        return self.all_end_devices or index in self.end_devices

    def may_register(self, sfdi_value: int, lfdi_value: str | None) -> bool:
        """Whether this client may create an EndDevice for that identity: a device only for itself."""
        if self.all_end_devices or self.registrar:
            return True
        if self.device is None:
            return False
        return sfdi_value == self.device.sfdi and (lfdi_value is None or lfdi_value.upper() == self.lfdi)

    def may_access_mirror(self, owner_lfdi: str | None) -> bool:
        """Whether a MirrorUsagePoint created by the certificate owner_lfdi (and its UsagePoint) is this client's."""
        return self.all_mirrors or (self.lfdi is not None and owner_lfdi == self.lfdi)


def scope_for(tree: Tree, certificate_lfdi: str | None, defects: Defects) -> Scope:
    """The Scope of a request presenting a certificate with certificate_lfdi (None: no certificate)."""
    wanted = certificate_lfdi.upper() if certificate_lfdi else None
    device = tree.device_by_lfdi(wanted) if wanted else None
    own = frozenset({device.index}) if device is not None else frozenset()
    registrar = wanted is not None and wanted in tree.registrars
    if registrar:
        own = own | {d.index for d in tree.end_devices.values() if d.registered_by == wanted}
    if device is not None and "aggregator-sees-own-only" not in defects:
        # An aggregator manages the EndDevices registered for it (harness.reference.aggregation): on their ACL.
        own = own | {d.index for d in tree.aggregated_by(wanted)}
    # The unregistered-client-allowed defect: a certificate the server does not know falls through every access
    # check, so it reads what every registered client may and every EndDevice with what is under it.
    unknown_allowed = device is None and not registrar and "unregistered-client-allowed" in defects
    return Scope(
        lfdi=wanted,
        device=device,
        end_devices=own,
        registrar=registrar,
        all_end_devices="edev-not-scoped" in defects or unknown_allowed,
        all_mirrors="mup-not-scoped" in defects or unknown_allowed,
    )


def path_access(tree: Tree, scope: Scope, params: dict[str, str]) -> int | None:
    """The status to answer for a path naming per-client resources, or None when the client may go on.

    404 when the named EndDevice, MirrorUsagePoint or UsagePoint does not exist, 403 when it is not this client's.
    """
    if "edev" in params:
        index = int(params["edev"])
        if index not in tree.end_devices:
            return NOT_FOUND
        if not scope.may_access_end_device(index):
            return FORBIDDEN
    for name in ("mup", "upt"):  # a UsagePoint is the mirror of the MirrorUsagePoint with its index
        if name in params:
            mirror = tree.mirrors.get(int(params[name]))
            if mirror is None:
                return NOT_FOUND
            if not scope.may_access_mirror(mirror.owner_lfdi):
                return FORBIDDEN
    return None
