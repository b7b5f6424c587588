"""IEEE 2030.5-2018 XML rendering of the reference tree, children in the schema's sequence order."""

from __future__ import annotations

import copy
import dataclasses

from lxml import etree

from harness.reference import clock
from harness.reference.access import Scope
from harness.reference.controls import (
    ACTIVE,
    SCHEDULED,
    SUPERSEDED,
    Status,
    effective_window,
    event_status,
    list_order,
)
from harness.reference.curves import render_curve
from harness.reference.defects import Defects
from harness.reference.elements import el, error, link, optional, to_bytes
from harness.reference.metering import Mirror
from harness.reference.quantities import rescale_power_factors
from harness.reference.tree import DerControl, DerCurve, DerProgram, EndDevice, Tree, make_mrid, order_end_devices

__all__ = ["POLL_RATE", "Renderer", "el", "error", "link", "to_bytes"]

POLL_RATE = "900"
# The settings a DefaultDERControl may carry beside its DERControlBase, in the schema's sequence.
DEFAULT_SETTINGS_ORDER = ("setESDelay", "setESHighFreq", "setESHighVolt", "setESLowFreq", "setESLowVolt",
                          "setESRampTms", "setESRandomDelay", "setGradW", "setSoftGradW")


def _edev_href(device: EndDevice) -> str:
    return f"/edev/{device.index}"


class Renderer:
    """Renders resources of one tree, applying the rendering defects that are switched on."""

    def __init__(self, tree: Tree, defects: Defects) -> None:
        self.tree = tree
        self.defects = defects

    # --- lists -------------------------------------------------------------------------------

    def list_of(
        self,
        tag: str,
        href: str,
        total: int,
        items: list[etree._Element],
        *,
        poll_rate: bool,
        subscribable: bool = False,
    ) -> etree._Element:
        """A list resource holding items, with all = total and results = len(items)."""
        all_count = total + 1 if "list-wrong-all" in self.defects else total
        results = len(items) + 1 if "list-wrong-results" in self.defects else len(items)
        return el(
            tag,
            *items,
            href=href,
            all=all_count,
            results=results,
            pollRate=POLL_RATE if poll_rate else None,
            # 1: the server takes unconditional Subscriptions to the list (harness.reference.notify).
            subscribable="1" if subscribable else None,
        )

    # --- device capability and time ------------------------------------------------------------

    def device_capability(self, scope: Scope | None = None, *, empty: bool = False) -> etree._Element:
        """DeviceCapability linking every function set the server offers; list counts as scope sees them."""
        poll_rate = None if "dcap-missing-poll-rate" in self.defects else POLL_RATE
        if empty:
            return el("DeviceCapability", href="/dcap", pollRate=poll_rate)
        time_link = None if "dcap-missing-time-link" in self.defects else link("TimeLink", "/tm")
        return el(
            "DeviceCapability",
            link("DERProgramListLink", "/derp", len(self.tree.listed_programs())),
            time_link,
            link("UsagePointListLink", "/upt", len(self.visible_mirrors(scope, usage_points=True))),
            link("EndDeviceListLink", "/edev", len(self.visible_end_devices(scope))),
            link("MirrorUsagePointListLink", "/mup", len(self.visible_mirrors(scope))),
            href="/dcap",
            pollRate=poll_rate,
        )

    # --- what a client may see ------------------------------------------------------------------

    def visible_end_devices(self, scope: Scope | None) -> list[EndDevice]:
        """The EndDevices scope may see, in EndDeviceList order (changedTime descending, then sFDI)."""
        ascending = "edev-list-wrong-order" in self.defects
        if scope is None:
            return []
        if scope.all_end_devices:
            return self.tree.end_devices_ordered(ascending=ascending)
        # Only the few the scope names are sorted (not every EndDevice per request); in index order first, so
        # the stable sort breaks ties as sorting them all would.
        devices = self.tree.end_devices
        return order_end_devices([devices[i] for i in sorted(scope.end_devices) if i in devices], ascending=ascending)

    def visible_mirrors(self, scope: Scope | None, *, usage_points: bool = False) -> list[Mirror]:
        """The mirrors scope may see, by mRID (none on the UsagePointList under the upt-empty defect)."""
        if usage_points and "upt-empty" in self.defects:
            return []
        if scope is None:
            return []
        mirrors = self.tree.mirrors.values() if scope.all_mirrors else self.tree.mirrors_of(scope.lfdi)
        return sorted((m for m in mirrors if scope.may_access_mirror(m.owner_lfdi)), key=lambda m: m.mrid)

    def time(self) -> etree._Element:
        """The Time resource: now, with the configured zone and US daylight-saving rules."""
        at = clock.now()
        if "time-off-by-hour" in self.defects:
            at += 3600
        fields = clock.time_fields(at, self.tree.tz_offset)
        quality = 3 if "time-wrong-quality" in self.defects else self.tree.time_quality
        return el(
            "Time",
            el("currentTime", text=fields.current_time),
            el("dstEndTime", text=fields.dst_end_time),
            el("dstOffset", text=fields.dst_offset),
            el("dstStartTime", text=fields.dst_start_time),
            el("localTime", text=fields.local_time),
            el("quality", text=quality),
            el("tzOffset", text=fields.tz_offset),
            href="/tm",
            pollRate=POLL_RATE,
        )

    # --- end devices ---------------------------------------------------------------------------

    def end_device(self, device: EndDevice) -> etree._Element:
        """An EndDevice with links to everything stored under it."""
        base = _edev_href(device)
        lfdi_value = device.lfdi
        sfdi_value = device.sfdi
        if device.preregistered and lfdi_value and "wrong-lfdi" in self.defects:
            last = lfdi_value[-1]
            lfdi_value = lfdi_value[:-1] + ("0" if last != "0" else "1")
        if device.preregistered and "wrong-sfdi" in self.defects:
            sfdi_value = sfdi_value // 10 * 10 + (sfdi_value % 10 + 1) % 10
        if "enddevice-lfdi-omitted" in self.defects:
            lfdi_value = None
        return el(
            "EndDevice",
            link("DERListLink", f"{base}/der", 1),
            link("DeviceInformationLink", f"{base}/di"),
            el("lFDI", text=lfdi_value) if lfdi_value else None,
            link("LogEventListLink", f"{base}/lel", len(device.log_events)),
            link("PowerStatusLink", f"{base}/ps"),
            el("sFDI", text=sfdi_value),
            el("changedTime", text=device.changed_time),
            el("enabled", text=device.enabled),
            link("FunctionSetAssignmentsListLink", f"{base}/fsa", len(device.fsas) or 1),
            link("RegistrationLink", f"{base}/rg"),
            link("SubscriptionListLink", f"{base}/sub", len(device.subscriptions)),
            href=base,
            subscribable="0" if "edev-not-subscribable" in self.defects else "1",
        )

    def registration(self, device: EndDevice) -> etree._Element:
        """The Registration of an EndDevice (its PIN)."""
        pin = 111116 if device.preregistered and "wrong-pin" in self.defects else device.pin
        return el(
            "Registration",
            el("dateTimeRegistered", text=device.registered_time),
            el("pIN", text=pin),
            href=f"{_edev_href(device)}/rg",
            pollRate=POLL_RATE,
        )

    def stored(self, device: EndDevice, kind: str, href: str) -> etree._Element | None:
        """A client-written resource (DeviceInformation, DERSettings, ...) as last PUT, with its href."""
        element = device.stored.get(kind)
        if element is None:
            return None
        served = copy.deepcopy(element)
        served.set("href", href)
        return served

    def device_information(self, device: EndDevice) -> etree._Element:
        """The default DeviceInformation, served until the client PUTs its own."""
        href = f"{_edev_href(device)}/di"
        t = self.tree.start_time
        return el(
            "DeviceInformation",
            el("lFDI", text=device.lfdi or "0" * 40),
            el("mfDate", text=t),
            el("mfHwVer", text="1.0"),
            el("mfID", text=37086),
            el("mfModel", text="reference"),
            el("mfSerNum", text=str(device.sfdi)),
            el("primaryPower", text=0),
            el("secondaryPower", text=0),
            el("swActTime", text=t),
            el("swVer", text="1.0"),
            href=href,
            pollRate=POLL_RATE,
        )

    def power_status(self, device: EndDevice) -> etree._Element:
        """The default PowerStatus (mains power), served until the client PUTs its own."""
        href = f"{_edev_href(device)}/ps"
        return el(
            "PowerStatus",
            el("batteryStatus", text=0),
            el("changedTime", text=self.tree.start_time),
            el("currentPowerSource", text=1),
            href=href,
            pollRate=POLL_RATE,
        )

    def fsa(self, device: EndDevice) -> etree._Element:
        """The one FunctionSetAssignments of a device: the DER programs and Time."""
        derp = "/derp-missing" if "fsa-broken-link" in self.defects else "/derp"
        return el(
            "FunctionSetAssignments",
            link("DERProgramListLink", derp, len(self.tree.listed_programs())),
            link("TimeLink", "/tm"),
            el("mRID", text=make_mrid("fsa", device.index, 1)),
            el("description", text=device.fsa_description),
            href=f"{_edev_href(device)}/fsa/1",
            subscribable="0",
        )

    def der(self, device: EndDevice) -> etree._Element:
        """The one DER of a device with its four resource links."""
        base = f"{_edev_href(device)}/der/1"
        return el(
            "DER",
            link("DERAvailabilityLink", f"{base}/dera"),
            link("DERCapabilityLink", f"{base}/dercap"),
            link("DERSettingsLink", f"{base}/derg"),
            link("DERStatusLink", f"{base}/ders"),
            href=base,
            subscribable="0",
        )

    def der_capability(self, device: EndDevice) -> etree._Element:
        """The default DERCapability (a 5 kW PV inverter), served until the client PUTs its own."""
        href = f"{_edev_href(device)}/der/1/dercap"
        return el(
            "DERCapability",
            el("modesSupported", text="00000010"),
            el("rtgMaxW", el("multiplier", text=0), el("value", text=5000)),
            el("type", text=4),
            href=href,
        )

    def der_settings(self, device: EndDevice) -> etree._Element:
        """The default DERSettings (matching the capability), served until the client PUTs its own."""
        href = f"{_edev_href(device)}/der/1/derg"
        return el(
            "DERSettings",
            el("setGradW", text=100),
            el("setMaxW", el("multiplier", text=0), el("value", text=5000)),
            el("updatedTime", text=self.tree.start_time),
            href=href,
            subscribable="0",
        )

    def der_status(self, device: EndDevice) -> etree._Element:
        """The default DERStatus (an initial reading), served until the client PUTs its own."""
        href = f"{_edev_href(device)}/der/1/ders"
        return el("DERStatus", el("readingTime", text=self.tree.start_time), href=href, subscribable="0")

    def der_availability(self, device: EndDevice) -> etree._Element:
        """The default DERAvailability (an initial reading), served until the client PUTs its own."""
        href = f"{_edev_href(device)}/der/1/dera"
        return el("DERAvailability", el("readingTime", text=self.tree.start_time), href=href, subscribable="0")

    # --- DER programs --------------------------------------------------------------------------

    def served_controls(self, program: DerProgram, now: int) -> list[DerControl]:
        """The program's DERControls still served at now (ended ones are not), in DERControlList order."""
        kept = [c for c in program.controls if "ended-event-listed" in self.defects or event_status(c, now)]
        if "dercontrol-list-wrong-order" in self.defects:
            return sorted(kept, key=lambda c: (c.start, c.creation_time))
        if "dercontrol-list-latest-first" in self.defects:
            return list_order(kept)[::-1]
        return list_order(kept)

    def _randomization(self, control: DerControl) -> list[etree._Element | None]:
        """randomizeDuration and randomizeStart as scheduled (none under the randomization-dropped defect)."""
        if "randomization-dropped" in self.defects:
            return []
        return [optional("randomizeDuration", control.randomize_duration),
                optional("randomizeStart", control.randomize_start)]

    def control_status(self, control: DerControl, now: int) -> Status:
        """The EventStatus of a served DERControl at now."""
        if "event-status-always-scheduled" in self.defects:
            return Status(SCHEDULED, control.creation_time)
        if "cancelled-event-stays-scheduled" in self.defects:
            control = dataclasses.replace(control, cancelled=None)
        status = event_status(control, now)
        if ("overlap-superseded" in self.defects and status is not None and status.current == ACTIVE
                and self._overlapped_by_higher_priority(control, now)):
            return Status(SUPERSEDED, now)
        if status is None:  # ended, yet served under the ended-event-listed defect: still shown active
            status = Status(ACTIVE, max(effective_window(control)[0], control.creation_time))
        if "event-status-date-stale" in self.defects:
            return Status(status.current, control.creation_time)
        return status

    def _overlapped_by_higher_priority(self, control: DerControl, now: int) -> bool:
        """Whether an active event of a program with a lower primacy value runs at now (whatever its controls)."""
        mine = next(p for p in self.tree.programs.values() if control in p.controls)
        for program in self.tree.programs.values():
            if program.primacy < mine.primacy:
                for other in program.controls:
                    status = event_status(other, now)
                    if status is not None and status.current == ACTIVE:
                        return True
        return False

    def der_program(self, program: DerProgram) -> etree._Element:
        """A DERProgram with its control and curve links."""
        base = f"/derp/{program.index}"
        return el(
            "DERProgram",
            el("mRID", text=program.mrid),
            el("description", text=program.description),
            link("DefaultDERControlLink", f"{base}/dderc"),
            link("DERControlListLink", f"{base}/derc", len(self.served_controls(program, clock.now()))),
            link("DERCurveListLink", f"{base}/dc", len(program.curves)),
            el("primacy", text=program.primacy),
            href=base,
            subscribable="0",
        )

    def default_der_control(self, program: DerProgram) -> etree._Element:
        """The program's DefaultDERControl: as set by create-defaultdercontrol, else connected, no export limit."""
        base = el("DERControlBase", el("opModConnect", text=True), el("opModMaxLimW", text=10000))
        if program.default_base is not None and "dderc-ignores-setting" not in self.defects:
            base = copy.deepcopy(program.default_base)
            if "power-factor-rescaled" in self.defects:
                rescale_power_factors(base)
        settings = {} if "dderc-drops-settings" in self.defects else program.default_settings
        return el(
            "DefaultDERControl",
            el("mRID", text=program.default_mrid),
            el("description", text="default"),
            base,
            *[el(name, text=settings[name]) for name in DEFAULT_SETTINGS_ORDER if name in settings],
            href=f"/derp/{program.index}/dderc",
            subscribable="0",
        )

    def der_control(self, program: DerProgram, control: DerControl, now: int) -> etree._Element:
        """A DERControl event with its EventStatus at now, TimeType seconds (responses go to /rsps/1/rsp)."""
        mrid = None if "invalid-dercontrol" in self.defects else el("mRID", text=control.mrid)
        status = self.control_status(control, now)
        return el(
            "DERControl",
            mrid,
            el("description", text=control.description),
            el("creationTime", text=control.creation_time),
            el(
                "EventStatus",
                el("currentStatus", text=status.current),
                el("dateTime", text=status.since),
                el("potentiallySuperseded", text=False),
            ),
            el("interval", el("duration", text=control.duration), el("start", text=control.start)),
            *self._randomization(control),
            self._served_base(control.base),
            href=f"/derp/{program.index}/derc/{control.index}",
            replyTo="/rsps/1/rsp",
            responseRequired=control.response_required,
            subscribable="0",
        )

    def _served_base(self, base: etree._Element) -> etree._Element:
        """A DERControl's DERControlBase as served: under dercontrol-drops-mode without its last mode, under
        power-factor-rescaled with its power factors in another encoding of the same quantity."""
        served = copy.deepcopy(base)
        if "power-factor-rescaled" in self.defects:
            rescale_power_factors(served)
        if "dercontrol-drops-mode" in self.defects and len(served):
            served.remove(served[-1])
        return served

    def der_curve(self, program: DerProgram, curve: DerCurve) -> etree._Element:
        """A DERCurve with its points, multipliers, yRefType and settings (harness.reference.curves)."""
        return render_curve(program, curve, self.defects)
