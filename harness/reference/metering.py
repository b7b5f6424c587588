"""The Metering Mirror of the reference server (IEEE 2030.5-2018 Metering Mirror function set, rules a-l).

A client POSTs a MirrorUsagePoint to /mup, then MirrorMeterReadings (or a MirrorMeterReadingList) to the
mirror it got back; the server copies what it receives into the normal metering structure under /upt
(rule b): one UsagePoint per mirror, one MeterReading per MirrorMeterReading, one ReadingSet per
MirrorReadingSet, the Readings as posted. This module holds that model and applies a POST to it; it knows
nothing of HTTP or rendering.

Matching is by mRID, compared as hex (case-insensitive):

* a MirrorUsagePoint whose mRID matches an existing one overwrites it (rule a.4);
* a MirrorMeterReading whose mRID matches overwrites that MeterReading (h.1); a new one needs a ReadingType
  (h.2, h.3: without one the whole request is refused, nothing is stored);
* a MirrorReadingSet whose mRID matches one of that MeterReading replaces its data, else it is added (i.1, i.2).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from lxml import etree

from harness.reference.elements import child, child_text, children

# The elements of a MirrorUsagePoint that are its own (first level); a GET of the mirror serves only these (rule c).
MIRROR_FIELDS = ("mRID", "description", "version", "roleFlags", "serviceCategoryKind", "status", "deviceLFDI",
                 "postRate")
# The MeterReadingBase / ReadingSetBase fields a MirrorMeterReading / MirrorReadingSet carries for its copy.
IDENTITY_FIELDS = ("mRID", "description", "version")


class MirrorError(ValueError):
    """A POST the Metering Mirror refuses with 400 (reasonCode 1, invalid request values)."""


def mrid_of(element: etree._Element) -> str:
    """The mRID of an IdentifiedObject, upper-case (mRIDs are hex and compare without case)."""
    return child_text(element, "mRID").upper()


def _fields(element: etree._Element, names: tuple[str, ...]) -> list[etree._Element]:
    """Copies of element's children called one of names, in document (schema) order."""
    wanted = set(names)
    return [copy.deepcopy(c) for c in element if isinstance(c.tag, str) and etree.QName(c).localname in wanted]


@dataclass
class ReadingSet:
    """A ReadingSet under a MeterReading: a MirrorReadingSet's identity and timePeriod, and its Readings."""

    index: int
    mrid: str
    fields: list[etree._Element]  # mRID, description?, version?, timePeriod: the ReadingSetBase as posted
    readings: list[etree._Element]  # the Reading elements as posted, in posted order

    @property
    def start(self) -> int:
        """timePeriod.start, TimeType seconds (0 when absent)."""
        for element in self.fields:
            if etree.QName(element).localname == "timePeriod":
                text = child_text(element, "start")
                return int(text) if text.lstrip("-").isdigit() else 0
        return 0


@dataclass
class MeterReading:
    """A MeterReading under a UsagePoint, fed by the MirrorMeterReading of the same mRID."""

    index: int
    mrid: str
    fields: list[etree._Element]  # mRID, description?, version?
    reading_type: etree._Element  # the ReadingType as posted
    latest: etree._Element | None = None  # the most recent Reading posted (ReadingLink)
    reading_sets: dict[str, ReadingSet] = field(default_factory=dict)  # by mRID, in creation order

    def reading_set(self, index: int) -> ReadingSet:
        """The ReadingSet /rs/{index} (KeyError when there is none)."""
        for reading_set in self.reading_sets.values():
            if reading_set.index == index:
                return reading_set
        raise KeyError(index)


@dataclass
class Mirror:
    """A MirrorUsagePoint, the certificate that created it, and the UsagePoint it feeds (same index)."""

    index: int
    mrid: str
    owner_lfdi: str | None  # LFDI of the client certificate that created the mirror
    created: int  # TimeType of creation
    head: etree._Element  # the MirrorUsagePoint's own first-level elements, as last posted
    posted: etree._Element  # the whole MirrorUsagePoint as last posted (for the mup-get-includes-readings defect)
    meter_readings: dict[str, MeterReading] = field(default_factory=dict)  # by mRID, in creation order

    def meter_reading(self, index: int) -> MeterReading:
        """The MeterReading /mr/{index} (KeyError when there is none)."""
        for meter_reading in self.meter_readings.values():
            if meter_reading.index == index:
                return meter_reading
        raise KeyError(index)


def mirror_head(posted: etree._Element) -> etree._Element:
    """A MirrorUsagePoint holding only the first-level elements of posted (no MirrorMeterReading, no href)."""
    head = etree.Element(posted.tag, nsmap=posted.nsmap)
    for element in _fields(posted, MIRROR_FIELDS):
        head.append(element)
    return head


def check_meter_readings(mirror: Mirror | None, posted: list[etree._Element]) -> None:
    """Refuse (MirrorError) a POST whose new MirrorMeterReadings lack a ReadingType (rule h.3), before any change."""
    known = set(mirror.meter_readings) if mirror is not None else set()
    for mmr in posted:
        mrid = mrid_of(mmr)
        if mrid not in known and child(mmr, "ReadingType") is None:
            raise MirrorError(f"MirrorMeterReading {mrid} is new and has no ReadingType")
        known.add(mrid)


def apply_meter_reading(mirror: Mirror, mmr: etree._Element) -> tuple[MeterReading, bool]:
    """Copy one MirrorMeterReading into its MeterReading (rules h and i); returns it and whether it is new.

    Call check_meter_readings first: a new MirrorMeterReading without a ReadingType raises KeyError here.
    """
    mrid = mrid_of(mmr)
    reading_type = child(mmr, "ReadingType")
    meter_reading = mirror.meter_readings.get(mrid)
    created = meter_reading is None
    if meter_reading is None:
        if reading_type is None:
            raise KeyError(mrid)
        index = max((m.index for m in mirror.meter_readings.values()), default=0) + 1
        meter_reading = MeterReading(index, mrid, [], copy.deepcopy(reading_type))
        mirror.meter_readings[mrid] = meter_reading
    # The contents of the MirrorMeterReading overwrite the MeterReading's (h.1).
    meter_reading.fields = _fields(mmr, IDENTITY_FIELDS)
    if reading_type is not None:
        meter_reading.reading_type = copy.deepcopy(reading_type)
    for posted_set in children(mmr, "MirrorReadingSet"):
        _apply_reading_set(meter_reading, posted_set)
    reading = child(mmr, "Reading")
    if reading is not None:
        meter_reading.latest = copy.deepcopy(reading)
    return meter_reading, created


def _apply_reading_set(meter_reading: MeterReading, posted: etree._Element) -> None:
    """Replace the ReadingSet of the same mRID (i.1) or add a new one (i.2); its last Reading becomes the latest."""
    mrid = mrid_of(posted)
    readings = [copy.deepcopy(r) for r in children(posted, "Reading")]
    fields = _fields(posted, (*IDENTITY_FIELDS, "timePeriod"))
    existing = meter_reading.reading_sets.get(mrid)
    if existing is None:
        index = max((s.index for s in meter_reading.reading_sets.values()), default=0) + 1
        meter_reading.reading_sets[mrid] = ReadingSet(index, mrid, fields, readings)
    else:
        existing.fields, existing.readings = fields, readings
    if readings:
        meter_reading.latest = copy.deepcopy(readings[-1])


def new_mirror(index: int, owner_lfdi: str | None, now: int, posted: etree._Element) -> Mirror:
    """A Mirror for a MirrorUsagePoint POSTed with a new mRID (rule a.3), before its MirrorMeterReadings apply."""
    return Mirror(index, mrid_of(posted), owner_lfdi, now, mirror_head(posted), copy.deepcopy(posted))


def overwrite_mirror(mirror: Mirror, posted: etree._Element) -> None:
    """Write a MirrorUsagePoint POSTed with an existing mRID over the mirror (rule a.4)."""
    mirror.head = mirror_head(posted)
    mirror.posted = copy.deepcopy(posted)
