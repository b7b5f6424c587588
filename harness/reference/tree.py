"""The reference server's in-memory resource store: end devices, DER programs, mirrors and responses."""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lxml import etree

from harness.reference.controls import control_base
from harness.reference.metering import Mirror
from harness.sep.identity import certificate_der, lfdi, sfdi, with_check_digit

if TYPE_CHECKING:
    from harness.reference.topology import Fsa

DEFAULT_PIN = 111115


def program_primacy(index: int) -> int:
    """The primacy of the index-th program (from 1): 1 and 2 (defined providers), then user-defined 65, 66...

    PrimacyType (2030.5-2018): 0-2 defined, 3-64 reserved, 65-191 user-defined; a conforming server uses
    no reserved value, so the fourth and later programs go to the user-defined range.
    """
    return index if index <= 2 else 62 + index


def make_mrid(*parts: object) -> str:
    """A stable 128-bit mRID (32 hex digits) derived from parts."""
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:32].upper()


@dataclass
class DerControl:
    """One scheduled DERControl event of a program."""

    index: int
    mrid: str
    description: str
    creation_time: int
    start: int  # interval start, TimeType seconds
    duration: int  # interval duration, seconds
    base: etree._Element  # the DERControlBase, as served
    response_required: str = "03"  # responseRequired bitmap, two hex digits
    randomize_start: int | None = None  # seconds
    randomize_duration: int | None = None  # seconds
    cancelled: int | None = None  # TimeType the server cancelled the event at (EventStatus 2 from then on)


@dataclass
class DerCurve:
    """One DERCurve (a volt-var curve by default) of a program."""

    index: int
    mrid: str
    description: str
    creation_time: int
    curve_type: int
    points: list[tuple[int, int]]
    x_multiplier: int = 0  # PowerOfTenMultiplierType of every xvalue
    y_multiplier: int = 0  # PowerOfTenMultiplierType of every yvalue
    y_ref_type: int = 3  # DERUnitRefType: what a yvalue is a percentage of (3: % of setMaxVar)
    # The curve's optional settings by schema element name (openLoopTms, autonomousVRefEnable, ...).
    settings: dict[str, object] = field(default_factory=dict)


@dataclass
class DerProgram:
    """A DERProgram with its default control, scheduled controls and curves."""

    index: int
    mrid: str
    description: str
    primacy: int
    default_mrid: str
    controls: list[DerControl] = field(default_factory=list)
    default_base: etree._Element | None = None  # the DefaultDERControl's DERControlBase, once one was set
    # The DefaultDERControl's own settings beside its DERControlBase (setGradW, setSoftGradW, ...), once set.
    default_settings: dict[str, object] = field(default_factory=dict)
    curves: list[DerCurve] = field(default_factory=list)
    # False for a group's program (harness.reference.topology): reached through FunctionSetAssignments only,
    # not listed in the DERProgramList DeviceCapability links.
    listed: bool = True


@dataclass
class EndDevice:
    """An EndDevice and everything stored under it."""

    index: int
    sfdi: int
    lfdi: str | None
    changed_time: int
    registered_time: int
    pin: int
    enabled: bool = True
    preregistered: bool = False
    registered_by: str | None = None  # the LFDI of the registration client that POSTed it, if one did
    aggregator: str | None = None  # the LFDI of the aggregator that manages it (harness.reference.aggregation)
    # PUT-able resources keep the client's last representation (the XML root) to serve it back.
    stored: dict[str, etree._Element] = field(default_factory=dict)
    log_events: list[tuple[int, etree._Element]] = field(default_factory=list)
    subscriptions: dict[int, etree._Element] = field(default_factory=dict)
    next_log_event: int = 1
    next_subscription: int = 1
    # The device's FunctionSetAssignments (harness.reference.topology); none: the one default FSA.
    fsas: list[Fsa] = field(default_factory=list)
    # The default FSA's description, which the change-fsa action changes (a subscribed list then notifies).
    fsa_description: str = "CSIP programs"
    topology: tuple[str, str] | None = None  # (figure, service point) of the fsas, when a topology gave them


@dataclass
class Posted:
    """A resource a client created by POST (a Response), kept as sent."""

    index: int
    created: int
    element: etree._Element


def order_end_devices(devices: Iterable[EndDevice], *, ascending: bool = False) -> list[EndDevice]:
    """devices in EndDeviceList order: changedTime (newest first unless ascending), then sFDI ascending."""
    sign = 1 if ascending else -1
    return sorted(devices, key=lambda d: (sign * d.changed_time, d.sfdi))


def _note(index: dict, key: object, number: int) -> None:
    """Put number into index[key], kept ascending (the creation order of the dicts they name)."""
    bisect.insort(index.setdefault(key, []), number)


def _drop(index: dict, key: object, number: int) -> None:
    numbers = index.get(key)
    if numbers is not None and number in numbers:
        numbers.remove(number)
        if not numbers:
            del index[key]


def _live(index: dict, key: object, items: dict, still: Callable[[object], bool]) -> Iterator:
    """The items index[key] names, in creation order, that exist and still match (a stale entry is skipped)."""
    for number in index.get(key, ()):
        item = items.get(number)
        if item is not None and still(item):
            yield item


@dataclass
class Tree:
    """Every resource the reference server serves.

    EndDevices and mirrors are looked up by LFDI, SFDI, aggregator, owner and mRID through indexes the methods
    below keep (add_end_device, set_lfdi, set_aggregator, remove_end_device, add_mirror, remove_mirror): each
    request of a 1,000-device fleet names its client's EndDevice, and a scan of all of them per request made
    the server's cost grow with the fleet. Lookups answer as a scan in creation order would.
    """

    start_time: int
    tz_offset: int
    # 3: time from an authoritative source, what a head-end synchronised by NTP reports until told otherwise.
    time_quality: int = 3
    end_devices: dict[int, EndDevice] = field(default_factory=dict)
    programs: dict[int, DerProgram] = field(default_factory=dict)
    mirrors: dict[int, Mirror] = field(default_factory=dict)
    responses: dict[int, Posted] = field(default_factory=dict)
    next_end_device: int = 1
    next_mirror: int = 1
    next_response: int = 1
    # LFDIs of registration clients (a utility's commissioning tool): they may register EndDevices in band.
    registrars: set[str] = field(default_factory=set)
    # Index values are EndDevice (mirror) indices, ascending: the dicts' own order, as indices only grow.
    _by_lfdi: dict[str, list[int]] = field(default_factory=dict, repr=False, compare=False)
    _by_sfdi: dict[int, list[int]] = field(default_factory=dict, repr=False, compare=False)
    _by_aggregator: dict[str, list[int]] = field(default_factory=dict, repr=False, compare=False)
    _mirrors_by_owner: dict[str | None, list[int]] = field(default_factory=dict, repr=False, compare=False)
    _mirrors_by_mrid: dict[str, list[int]] = field(default_factory=dict, repr=False, compare=False)

    def add_end_device(
        self, sfdi_value: int, lfdi_value: str | None, changed_time: int, pin: int, *, preregistered: bool
    ) -> EndDevice:
        """Store a new EndDevice and return it."""
        device = EndDevice(
            index=self.next_end_device,
            sfdi=sfdi_value,
            lfdi=lfdi_value,
            changed_time=changed_time,
            registered_time=changed_time,
            pin=pin,
            preregistered=preregistered,
        )
        self.end_devices[device.index] = device
        self.next_end_device += 1
        if lfdi_value:
            _note(self._by_lfdi, lfdi_value.upper(), device.index)
        _note(self._by_sfdi, sfdi_value, device.index)
        return device

    def remove_end_device(self, index: int) -> EndDevice:
        """Remove /edev/{index} and return it (KeyError when there is none)."""
        device = self.end_devices.pop(index)
        if device.lfdi:
            _drop(self._by_lfdi, device.lfdi.upper(), index)
        _drop(self._by_sfdi, device.sfdi, index)
        if device.aggregator is not None:
            _drop(self._by_aggregator, device.aggregator, index)
        return device

    def set_lfdi(self, device: EndDevice, value: str) -> None:
        """Give an EndDevice its lFDI (one registered by sFDI alone learns it later)."""
        if device.lfdi:
            _drop(self._by_lfdi, device.lfdi.upper(), device.index)
        device.lfdi = value
        _note(self._by_lfdi, value.upper(), device.index)

    def set_aggregator(self, device: EndDevice, aggregator_lfdi: str | None) -> None:
        """Have the aggregator with that LFDI manage an EndDevice (None: no aggregator)."""
        if device.aggregator is not None:
            _drop(self._by_aggregator, device.aggregator, device.index)
        device.aggregator = aggregator_lfdi
        if aggregator_lfdi is not None:
            _note(self._by_aggregator, aggregator_lfdi, device.index)

    def device_by_lfdi(self, value: str) -> EndDevice | None:
        """The EndDevice registered for a certificate LFDI (the first created, if several), if any."""
        wanted = value.upper()
        return next(_live(self._by_lfdi, wanted, self.end_devices,
                          lambda d: bool(d.lfdi) and d.lfdi.upper() == wanted), None)

    def device_by_sfdi(self, value: int) -> EndDevice | None:
        """The EndDevice registered with an SFDI (the first created, if several), if any."""
        return next(_live(self._by_sfdi, value, self.end_devices, lambda d: d.sfdi == value), None)

    def aggregated_by(self, aggregator_lfdi: str) -> list[EndDevice]:
        """The EndDevices the aggregator with that LFDI manages, in creation order."""
        return list(_live(self._by_aggregator, aggregator_lfdi, self.end_devices,
                          lambda d: d.aggregator == aggregator_lfdi))

    def add_mirror(self, mirror: Mirror) -> None:
        """Store a new MirrorUsagePoint under its index."""
        self.mirrors[mirror.index] = mirror
        _note(self._mirrors_by_owner, mirror.owner_lfdi, mirror.index)
        _note(self._mirrors_by_mrid, mirror.mrid, mirror.index)

    def remove_mirror(self, index: int) -> Mirror:
        """Remove /mup/{index} (and so its UsagePoint) and return it (KeyError when there is none)."""
        mirror = self.mirrors.pop(index)
        _drop(self._mirrors_by_owner, mirror.owner_lfdi, index)
        _drop(self._mirrors_by_mrid, mirror.mrid, index)
        return mirror

    def mirrors_of(self, owner_lfdi: str | None) -> list[Mirror]:
        """The MirrorUsagePoints the certificate owner_lfdi created, in creation order."""
        return list(_live(self._mirrors_by_owner, owner_lfdi, self.mirrors, lambda m: m.owner_lfdi == owner_lfdi))

    def mirror_by_mrid(self, mrid: str) -> Mirror | None:
        """The MirrorUsagePoint with an mRID (compared as upper-case hex; the first created, if several), if any."""
        wanted = mrid.upper()
        return next(_live(self._mirrors_by_mrid, wanted, self.mirrors, lambda m: m.mrid == wanted), None)

    def end_devices_ordered(self, *, ascending: bool = False) -> list[EndDevice]:
        """EndDevices by changedTime (newest first unless ascending), then sFDI ascending."""
        return order_end_devices(self.end_devices.values(), ascending=ascending)

    def add_synthetic_end_device(self, now: int) -> EndDevice:
        """An EndDevice of no real certificate, older than every other, so the list order stays defined."""
        serial = sum(1 for d in self.end_devices.values() if not d.preregistered) + 1
        digest = hashlib.sha256(f"synthetic-{serial}".encode()).hexdigest().upper()
        oldest = min((d.changed_time for d in self.end_devices.values()), default=now)
        value = with_check_digit(int(digest[:9], 16))
        return self.add_end_device(value, digest[:40], min(oldest, now) - 120, DEFAULT_PIN, preregistered=False)

    def add_program(self, now: int) -> DerProgram:
        """A DERProgram with a default control, one scheduled control and a volt-var curve."""
        index = max(self.programs, default=0) + 1
        program = DerProgram(
            index=index,
            mrid=make_mrid("derp", index),
            description="CSIP reference program" if index == 1 else f"CSIP reference program {index}",
            primacy=program_primacy(index),
            default_mrid=make_mrid("dderc", index),
        )
        program.controls.append(DerControl(
            index=1, mrid=make_mrid("derc", index, 1), description="limit to 50 %", creation_time=now,
            start=now + 3600, duration=1800, base=control_base({"opModMaxLimW": 5000}),
        ))
        program.curves.append(DerCurve(
            index=1, mrid=make_mrid("dc", index, 1), description="volt-var", creation_time=now,
            curve_type=11,  # opModVoltVar
            points=[(9200, 3000), (9670, 0), (10300, 0), (10700, -3000)],
        ))
        self.programs[index] = program
        return program

    def programs_ordered(self) -> list[DerProgram]:
        """DERPrograms by primacy (lowest value first), then mRID."""
        return sorted(self.programs.values(), key=lambda p: (p.primacy, p.mrid))

    def listed_programs(self) -> list[DerProgram]:
        """The DERPrograms of the DERProgramList DeviceCapability links (not the groups'), in list order."""
        return [p for p in self.programs_ordered() if p.listed]


def seed_tree(
    start_time: int,
    tz_offset: int,
    preregister: list[tuple[bytes, int]],
    extra_enddevices: int = 0,
    *,
    time_quality: int = 3,
) -> Tree:
    """A tree with one DERProgram, the given certificates (DER bytes, PIN) pre-registered, synthetic EndDevices."""
    tree = Tree(start_time=start_time, tz_offset=tz_offset, time_quality=time_quality)
    for der, pin in preregister:
        tree.add_end_device(sfdi(der), lfdi(der), start_time - 60, pin, preregistered=True)
    for _ in range(extra_enddevices):
        tree.add_synthetic_end_device(start_time)
    tree.add_program(start_time)
    return tree


def load_preregistration(spec: str) -> tuple[bytes, int]:
    """Parse a CERT[:PIN] option into (certificate DER, PIN)."""
    path, sep, pin = spec.rpartition(":")
    if not sep or not pin.isdigit():
        path, pin = spec, str(DEFAULT_PIN)
    return certificate_der(path), int(pin)
