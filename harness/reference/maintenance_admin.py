"""Admin actions of the reference server for the maintenance procedures (CSIP MAINT-001, MAINT-005): deleting an
EndDevice out of band, and changing a DERProgram's primacy. Subscribers hear of both through Notifications
(harness.reference.notify): the deleted EndDevice's subscriptions with status 4, the lists that changed with
their new content."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.reference.admin import AdminApp


def delete_end_device(admin: AdminApp, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Remove the EndDevice with that LFDI (an ensure: one already gone is 200 with deleted false)."""
    device = admin.tree.device_by_lfdi(params["lfdi"])
    if device is None:
        return 200, {"deleted": False, "lfdi": params["lfdi"].upper()}
    href = f"/edev/{device.index}"
    admin.tree.remove_end_device(device.index)
    if admin.notifier is not None and "deleted-enddevice-not-notified" not in admin.defects:
        admin.notifier.deleted(href)
    return 200, {"deleted": True, "href": href}


def set_primacy(admin: AdminApp, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Give each named DERProgram (mRID, description such as a group name, or index) its primacy, all before any
    subscriber is notified (so each list changes once). Every name is resolved first: an unknown one changes
    nothing (404)."""
    programs = [(admin.find_program(str(change["program"])), int(change["primacy"])) for change in params["changes"]]
    changed = []
    for program, primacy in programs:
        changed.append({"href": f"/derp/{program.index}", "primacy": primacy, "was": program.primacy})
        program.primacy = primacy
    return 200, {"programs": changed}
