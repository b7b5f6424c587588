"""IEEE 2030.5-2018 XML rendering of the reference tree, children in the schema's sequence order."""

from __future__ import annotations

import copy

from lxml import etree

from harness.reference import clock
from harness.reference.defects import Defects
from harness.reference.tree import DerControl, DerCurve, DerProgram, EndDevice, Tree, make_mrid
from harness.sep import NS

POLL_RATE = "900"
_Q = f"{{{NS}}}"


def el(tag: str, *children: etree._Element | None, text: object = None, **attrs: object) -> etree._Element:
    """An element in the 2030.5 namespace; None children and None attributes are left out."""
    element = etree.Element(_Q + tag, nsmap={None: NS})
    for key, value in attrs.items():
        if value is not None:
            element.set(key, str(value))
    if text is not None:
        element.text = str(text).lower() if isinstance(text, bool) else str(text)
    for child in children:
        if child is not None:
            element.append(child)
    return element


def to_bytes(root: etree._Element) -> bytes:
    """Serialize a resource as UTF-8, without an XML declaration (it is optional, UTF-8 the default)."""
    return etree.tostring(root, xml_declaration=False, encoding="UTF-8")


def error(reason_code: int) -> etree._Element:
    """An Error resource (reasonCode 0 = invalid request format, 1 = invalid request values)."""
    return el("Error", el("reasonCode", text=reason_code))


def link(tag: str, href: str, all_count: int | None = None) -> etree._Element:
    """A Link or ListLink element."""
    return el(tag, href=href, all=all_count)


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
            subscribable="0" if subscribable else None,
        )

    # --- device capability and time ------------------------------------------------------------

    def device_capability(self, *, empty: bool = False) -> etree._Element:
        """DeviceCapability linking every function set the server offers."""
        poll_rate = None if "dcap-missing-poll-rate" in self.defects else POLL_RATE
        if empty:
            return el("DeviceCapability", href="/dcap", pollRate=poll_rate)
        time_link = None if "dcap-missing-time-link" in self.defects else link("TimeLink", "/tm")
        return el(
            "DeviceCapability",
            link("DERProgramListLink", "/derp", len(self.tree.programs)),
            time_link,
            link("UsagePointListLink", "/upt", 0),
            link("EndDeviceListLink", "/edev", len(self.tree.end_devices)),
            link("MirrorUsagePointListLink", "/mup", len(self.tree.mirrors)),
            href="/dcap",
            pollRate=poll_rate,
        )

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
            link("FunctionSetAssignmentsListLink", f"{base}/fsa", 1),
            link("RegistrationLink", f"{base}/rg"),
            link("SubscriptionListLink", f"{base}/sub", len(device.subscriptions)),
            href=base,
            subscribable="0",
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
            link("DERProgramListLink", derp, len(self.tree.programs)),
            link("TimeLink", "/tm"),
            el("mRID", text=make_mrid("fsa", device.index, 1)),
            el("description", text="CSIP programs"),
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

    def der_program(self, program: DerProgram) -> etree._Element:
        """A DERProgram with its control and curve links."""
        base = f"/derp/{program.index}"
        return el(
            "DERProgram",
            el("mRID", text=program.mrid),
            el("description", text=program.description),
            link("DefaultDERControlLink", f"{base}/dderc"),
            link("DERControlListLink", f"{base}/derc", len(program.controls)),
            link("DERCurveListLink", f"{base}/dc", len(program.curves)),
            el("primacy", text=program.primacy),
            href=base,
            subscribable="0",
        )

    def default_der_control(self, program: DerProgram) -> etree._Element:
        """The program's DefaultDERControl: connected, no export limit."""
        return el(
            "DefaultDERControl",
            el("mRID", text=program.default_mrid),
            el("description", text="default"),
            el("DERControlBase", el("opModConnect", text=True), el("opModMaxLimW", text=10000)),
            href=f"/derp/{program.index}/dderc",
            subscribable="0",
        )

    def der_control(self, program: DerProgram, control: DerControl) -> etree._Element:
        """A scheduled DERControl event (responses go to /rsps/1/rsp)."""
        mrid = None if "invalid-dercontrol" in self.defects else el("mRID", text=control.mrid)
        return el(
            "DERControl",
            mrid,
            el("description", text=control.description),
            el("creationTime", text=control.creation_time),
            el(
                "EventStatus",
                el("currentStatus", text=0),
                el("dateTime", text=control.creation_time),
                el("potentiallySuperseded", text=False),
            ),
            el("interval", el("duration", text=control.duration), el("start", text=control.start)),
            el("DERControlBase", el("opModMaxLimW", text=control.max_lim_w)),
            href=f"/derp/{program.index}/derc/{control.index}",
            replyTo="/rsps/1/rsp",
            responseRequired="03",
            subscribable="0",
        )

    def der_curve(self, program: DerProgram, curve: DerCurve) -> etree._Element:
        """A DERCurve with its points."""
        return el(
            "DERCurve",
            el("mRID", text=curve.mrid),
            el("description", text=curve.description),
            el("creationTime", text=curve.creation_time),
            *[el("CurveData", el("xvalue", text=x), el("yvalue", text=y)) for x, y in curve.points],
            el("curveType", text=curve.curve_type),
            el("xMultiplier", text=0),
            el("yMultiplier", text=0),
            el("yRefType", text=3),
            href=f"/derp/{program.index}/dc/{curve.index}",
        )

