"""The reference DUTs' own admin interface: which actions it carries out, and the request for each."""

from __future__ import annotations

# action -> (method, path) on the reference server's admin listener; the parameters go as the JSON body.
ADMIN_REQUESTS: dict[str, tuple[str, str]] = {
    "populate-resources": ("POST", "/admin/resources"),
    "preregister-enddevice": ("POST", "/admin/end-devices"),
    "create-enddevices": ("POST", "/admin/end-devices/ensure"),
    "set-pin": ("PUT", "/admin/end-devices/pin"),
    "configure-time": ("PUT", "/admin/time"),
    "create-derprograms": ("POST", "/admin/programs/ensure"),
    "create-dercontrol": ("POST", "/admin/programs/controls"),
    "build-topology": ("PUT", "/admin/topology"),
    "create-fsa": ("PUT", "/admin/end-devices/fsa"),
    "create-defaultdercontrol": ("PUT", "/admin/programs/default"),
    "change-fsa": ("PUT", "/admin/end-devices/fsa/description"),
    "cancel-subscription": ("POST", "/admin/subscriptions/cancel"),
    "send-invalid-notification": ("POST", "/admin/subscriptions/invalid-notification"),
    "power-reset": ("POST", "/admin/power-reset"),
    "delete-enddevice": ("POST", "/admin/end-devices/delete"),
    "set-primacy": ("PUT", "/admin/programs/primacy"),
    "create-aggregator-enddevices": ("PUT", "/admin/aggregators/end-devices"),
    "create-dercurve": ("POST", "/admin/programs/curves"),
    "create-dercontrols": ("POST", "/admin/programs/controls/series"),
    "cancel-dercontrols": ("PUT", "/admin/programs/controls/cancel"),
    "replace-feeder": ("PUT", "/admin/topology/feeder"),
}
BUILTIN_ACTIONS = frozenset(ADMIN_REQUESTS)
# observation -> path on the reference DER client's admin listener (GET, ?device=N picks a device).
ADMIN_OBSERVATIONS: dict[str, str] = {
    "active-control": "/observe/active-control",
    "der-programs": "/observe/der-programs",
    "der-settings": "/observe/applied-settings",
    "der-clock": "/observe/clock",
    "last-alarm": "/observe/last-alarm",
    "der-identity": "/observe/identity",
}
BUILTIN_OBSERVATIONS = frozenset(ADMIN_OBSERVATIONS)
# The run variables that tell a builtin mapping where the reference server's admin listener is.
ADMIN_URL_VARIABLE = "admin_url"
ADMIN_TOKEN_VARIABLE = "admin_token"
