"""Admin actions of the reference server for subscriptions: change-fsa, cancel-subscription,
send-invalid-notification and power-reset (with its subscriptions kept, as CSIP ERR-002 requires).

Each is an "ensure" where it can be: setting a description it already has changes nothing (and notifies
nobody); cancelling a subscription that is gone is 404, naming what exists.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from harness.reference.notify import STATUS_DEFAULT
from harness.reference.topology import ordered_fsas
from harness.reference.tree import EndDevice

if TYPE_CHECKING:
    from harness.reference.admin import AdminApp
    from harness.server.http import HttpResponse


def _device(admin: AdminApp, lfdi: str) -> EndDevice:
    from harness.reference.admin import AdminError

    device = admin.tree.device_by_lfdi(lfdi)
    if device is None:
        raise AdminError(404, f"no EndDevice with LFDI {lfdi}")
    return device


def _subscription(admin: AdminApp, device: EndDevice, reference: str) -> int:
    """The index of the device's subscription named by its href or Location (relative or absolute)."""
    from harness.reference.admin import AdminError

    path = reference.split("://", 1)[-1]
    path = "/" + path.partition("/")[2] if "://" in reference else path
    prefix = f"/edev/{device.index}/sub/"
    tail = path[len(prefix):] if path.startswith(prefix) else ""
    if not tail.isdigit() or int(tail) not in device.subscriptions:
        known = ", ".join(f"{prefix}{i}" for i in sorted(device.subscriptions)) or "none"
        raise AdminError(404, f"no subscription {reference} of /edev/{device.index} (its subscriptions: {known})")
    return int(tail)


def _notifier(admin: AdminApp) -> Any:
    from harness.reference.admin import AdminError

    if admin.notifier is None:
        raise AdminError(409, "this server delivers no Notifications (started without a notifier)")
    return admin.notifier


def change_fsa(admin: AdminApp, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Set the description of the device's first FunctionSetAssignments (in list order)."""
    device = _device(admin, params["lfdi"])
    if device.fsas:
        fsa = ordered_fsas(device)[0]
        changed = fsa.description != params["description"]
        fsa.description = params["description"]
        href = f"/edev/{device.index}/fsa/{fsa.index}"
    else:
        changed = device.fsa_description != params["description"]
        device.fsa_description = params["description"]
        href = f"/edev/{device.index}/fsa/1"
    return 200, {"href": href, "changed": changed}


def cancel_subscription(admin: AdminApp, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Notify the subscriber (status 1, no resource) and remove the subscription."""
    device = _device(admin, params["lfdi"])
    index = _subscription(admin, device, params["subscription"])
    _notifier(admin).cancel(device, index)
    return 200, {"cancelled": f"/edev/{device.index}/sub/{index}"}


def send_invalid_notification(admin: AdminApp, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Send, on the subscription, a Notification carrying the subscriber's EndDevice instead of its resource."""
    device = _device(admin, params["lfdi"])
    index = _subscription(admin, device, params["subscription"])
    notifier = _notifier(admin)
    body = notifier.notification(device, index, STATUS_DEFAULT, admin_render(admin).end_device(device))
    notifier.send(device, index, STATUS_DEFAULT, None, body=body)
    return 200, {"sent": f"/edev/{device.index}/sub/{index}", "resource": params["resource"]}


def power_reset(admin: AdminApp, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Drop every open 2030.5 connection, as a restart does; the resources, subscriptions included, persist."""
    dropped = admin.https.drop_connections() if admin.https is not None else 0
    lost = 0
    if admin.defects is not None and "subscriptions-lost-on-reset" in admin.defects:
        for device in admin.tree.end_devices.values():
            lost += len(device.subscriptions)
            device.subscriptions.clear()
        if admin.notifier is not None:
            admin.notifier.snapshots.clear()
    return 200, {"connections_dropped": dropped, "subscriptions_kept": sum(
        len(d.subscriptions) for d in admin.tree.end_devices.values()), "subscriptions_lost": lost}


def admin_render(admin: AdminApp) -> Any:
    """The renderer of the 2030.5 side (the notifier's app), for a resource the admin puts in a Notification."""
    return admin.notifier.app.render


def with_deliveries(response: HttpResponse, deliveries: list[Any]) -> HttpResponse:
    """The admin answer with how each Notification went, last (so a shortened action outcome keeps it)."""
    try:
        content = json.loads(response.body or b"{}")
    except ValueError:
        return response
    if not isinstance(content, dict):
        return response
    content["notifications"] = [d.as_json() for d in deliveries]
    response.body = json.dumps(content).encode()
    return response
