"""IEEE 2030.5-2018 XML of the Metering Mirror: MirrorUsagePoints and the UsagePoint tree they feed under /upt.

Hrefs (n the mirror's index, shared by its UsagePoint; m, s, r indices in creation or posted order):
/mup/n, /upt/n, /upt/n/mr, /upt/n/mr/m, /upt/n/mr/m/rt (ReadingType), /upt/n/mr/m/r (the latest Reading),
/upt/n/mr/m/rs, /upt/n/mr/m/rs/s, /upt/n/mr/m/rs/s/r, /upt/n/mr/m/rs/s/r/r.
"""

from __future__ import annotations

import copy

from lxml import etree

from harness.reference.elements import el, link
from harness.reference.metering import MeterReading, Mirror, ReadingSet


def mirror_href(mirror: Mirror) -> str:
    """/mup/{index}"""
    return f"/mup/{mirror.index}"


def usage_point_href(mirror: Mirror) -> str:
    """/upt/{index}: the UsagePoint a mirror feeds."""
    return f"/upt/{mirror.index}"


def meter_reading_href(mirror: Mirror, meter_reading: MeterReading) -> str:
    """/upt/{index}/mr/{index}"""
    return f"{usage_point_href(mirror)}/mr/{meter_reading.index}"


def reading_set_href(mirror: Mirror, meter_reading: MeterReading, reading_set: ReadingSet) -> str:
    """/upt/{index}/mr/{index}/rs/{index}"""
    return f"{meter_reading_href(mirror, meter_reading)}/rs/{reading_set.index}"


def _with_href(element: etree._Element, href: str) -> etree._Element:
    served = copy.deepcopy(element)
    served.set("href", href)
    return served


def mirror_usage_point(mirror: Mirror, *, as_posted: bool = False) -> etree._Element:
    """The MirrorUsagePoint: its own first-level elements only (rule c), or as last posted (a defect)."""
    return _with_href(mirror.posted if as_posted else mirror.head, mirror_href(mirror))


def usage_point(mirror: Mirror) -> etree._Element:
    """The UsagePoint of a mirror: the mirror's mRID, roleFlags, serviceCategoryKind, status and deviceLFDI."""
    fields = [copy.deepcopy(c) for c in mirror.head if etree.QName(c).localname != "postRate"]
    href = usage_point_href(mirror)
    return el("UsagePoint", *fields, link("MeterReadingListLink", f"{href}/mr", len(mirror.meter_readings)),
              href=href)


def meter_reading(mirror: Mirror, meter_reading: MeterReading) -> etree._Element:
    """A MeterReading with links to its latest Reading, its ReadingSetList and its ReadingType."""
    href = meter_reading_href(mirror, meter_reading)
    latest = link("ReadingLink", f"{href}/r") if meter_reading.latest is not None else None
    return el(
        "MeterReading",
        *[copy.deepcopy(f) for f in meter_reading.fields],
        latest,
        link("ReadingSetListLink", f"{href}/rs", len(meter_reading.reading_sets)),
        link("ReadingTypeLink", f"{href}/rt"),
        href=href,
    )


def reading_type(mirror: Mirror, meter_reading: MeterReading) -> etree._Element:
    """The ReadingType of a MeterReading, as posted."""
    return _with_href(meter_reading.reading_type, f"{meter_reading_href(mirror, meter_reading)}/rt")


def latest_reading(mirror: Mirror, meter_reading: MeterReading) -> etree._Element:
    """The most recent Reading posted for a MeterReading (KeyError when none was)."""
    if meter_reading.latest is None:
        raise KeyError("no Reading yet")
    return _with_href(meter_reading.latest, f"{meter_reading_href(mirror, meter_reading)}/r")


def reading_set(mirror: Mirror, meter_reading: MeterReading, reading_set: ReadingSet) -> etree._Element:
    """A ReadingSet: the MirrorReadingSet's mRID, description, version and timePeriod, and its ReadingListLink."""
    href = reading_set_href(mirror, meter_reading, reading_set)
    return el(
        "ReadingSet",
        *[copy.deepcopy(f) for f in reading_set.fields],
        link("ReadingListLink", f"{href}/r", len(reading_set.readings)),
        href=href,
    )


def reading(mirror: Mirror, meter_reading: MeterReading, reading_set: ReadingSet, position: int) -> etree._Element:
    """The Reading at position (0-based) of a ReadingSet, as posted, served at .../r/{position + 1}."""
    href = f"{reading_set_href(mirror, meter_reading, reading_set)}/r/{position + 1}"
    return _with_href(reading_set.readings[position], href)
