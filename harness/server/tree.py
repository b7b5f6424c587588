"""The resource tree the test server serves to a client DUT: loaded from a YAML file, changed while a case runs.

A tree file (fixtures/trees/*.yaml) maps hrefs to resources:

    resources:
      /dcap:
        DeviceCapability: {pollRate: 300, TimeLink: {href: /tm}, EndDeviceListLink: {href: /edev, all: 1}}
      /edev:
        EndDeviceList: {pollRate: 240}
        items: [/edev/1]              # a list: its items are other resources of the tree, rendered inline
      /rsps/1/rsp:
        ResponseList: {}
        items: []
        methods: [GET, POST]          # what the client may do there (GET only by default)

Each entry holds one 2030.5 element (content in document order, see harness.server.xmlbuild) and optionally
`items` (a list resource), `methods` and for a list `member_methods` (what clients may do to what they POST
to it). `${...}` in the file takes the run's variables (`device.lfdi`,
`device.sfdi`, `device.pin`, `now`). Top-level `time_offset` (s) sets the server's clock off true
UTC, `page_size` is the most items a list GET without `l` returns, `tzOffset` the Time's zone. `/tm` is always
the test server's own Time (IEEE 2030.5 §10.2): the case owns the DUT's clock. A DERControl without an
EventStatus gets one computed from its interval at the server's time (§12.1.3: 0 scheduled, 1 active; 2
cancelled once a case cancels it, 4 superseded).

A tree served to a fleet of devices (harness.server.fleet) has owners: an item of a list owned by one client's
LFDI is shown to that client alone; a tree file's own tree has none and shows every client everything.
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import compress, repeat
from pathlib import Path
from typing import Any

from lxml import etree

from harness.cases.variables import VariableError, substitute
from harness.cases.yamlload import YamlFileError, line_of, load_yaml
from harness.sep.safexml import local_name
from harness.server.xmlbuild import build, to_bytes

METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")
TIME_HREF = "/tm"
# EventStatus currentStatus values (2030.5-2018 EventStatus).
SCHEDULED, ACTIVE, CANCELLED, SUPERSEDED = 0, 1, 2, 4
# Where EventStatus goes in a DERControl: after the IdentifiedObject and creationTime elements.
_BEFORE_EVENT_STATUS = ("mRID", "description", "version", "creationTime")


class TreeError(ValueError):
    """A tree file or a change to the tree that cannot be served (an authoring mistake: where and what)."""


@dataclass
class Resource:
    """One served resource: its element and content, or the raw body a client PUT or POSTed."""

    href: str
    kind: str
    content: Any = None
    items: list[str] | None = None
    methods: tuple[str, ...] = ("GET", "HEAD")
    raw: bytes | None = None
    member_methods: tuple[str, ...] = ("GET", "HEAD")  # a list's: what clients may do to what they POST to it
    status: int | None = None  # an EventStatus a case set (cancelled, superseded)
    created: int = 0  # server time it was added (list order tie-break)


@dataclass
class Outcome:
    """What the tree answers to one request: status, body, extra headers."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def _entry(href: str, spec: Any, where: str) -> Resource:
    if not isinstance(spec, dict):
        raise TreeError(f"{where}: expected a mapping holding one 2030.5 element, saw {spec!r}")
    extra = {k for k in spec if k not in ("items", "methods", "member_methods") and not k[:1].isupper()}
    kinds = [k for k in spec if k[:1].isupper()]
    if extra or len(kinds) != 1:
        raise TreeError(f"{where}: expected exactly one 2030.5 element (a capitalised name) beside optional "
                        f"'items' and 'methods', saw keys {sorted(spec)}")
    methods = tuple(m.upper() for m in spec.get("methods", ("GET",)))
    members = tuple(m.upper() for m in spec.get("member_methods", ("GET",)))
    unknown = [m for m in (*methods, *members) if m not in METHODS]
    if unknown:
        raise TreeError(f"{where}: expected methods among {', '.join(METHODS)}, saw {unknown}")
    items = spec.get("items")
    if items is not None and not (isinstance(items, list) and all(isinstance(i, str) for i in items)):
        raise TreeError(f"{where}: expected 'items' to be a list of hrefs, saw {items!r}")
    return Resource(href=href, kind=kinds[0], content=spec[kinds[0]] or {},
                    items=list(items) if items is not None else None,
                    methods=_with_head(methods), member_methods=_with_head(members))


def _with_head(methods: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*methods, "HEAD") if "GET" in methods else methods))


def _paging(query: list[tuple[str, str]]) -> tuple[int, int | None]:
    """The s (start) and l (limit) query parameters of a list GET (2030.5 §8.3.1); defaults 0 and all."""
    values = dict(query)
    try:
        start = int(values.get("s", "0"))
        limit = int(values["l"]) if "l" in values else None
    except ValueError:
        raise TreeError(f"expected integer s and l query parameters, saw {values}") from None
    if start < 0 or (limit is not None and limit < 0):
        raise TreeError(f"expected s and l >= 0, saw {values}")
    return start, limit


class ServedTree:
    """The resources a test server serves, by href; now() is the server's time (2030.5 TimeType seconds)."""

    def __init__(self, resources: dict[str, Resource], now: Callable[[], float], tz_offset: int = 0,
                 time_offset: float = 0.0, page_size: int | None = None) -> None:
        self.resources = resources
        self.clock_now = now
        self.tz_offset = tz_offset
        self.time_offset = time_offset
        self.page_size = page_size
        self._posted = 0
        # href -> the LFDI (upper-case) of the one client that sees it in the lists holding it (harness.server.fleet);
        # empty for a tree file's own tree, which shows every client everything.
        self.owners: dict[str, str] = {}

    def now(self) -> float:
        """The server's time: the run's clock plus the tree's time_offset (a case that sets the DUT's clock off
        true UTC, CORE-005)."""
        return self.clock_now() + self.time_offset

    @classmethod
    def load(cls, path: str | Path, variables: dict[str, Any], now: Callable[[], float]) -> ServedTree:
        """Read a tree file; raise YamlFileError (file:line) for anything that cannot be served."""
        file = Path(path)
        data = load_yaml(file)
        if not isinstance(data, dict) or not isinstance(data.get("resources"), dict):
            raise YamlFileError(file, getattr(data, "line", 1), "expected a mapping with 'resources:' (href -> "
                                "resource)")
        resources: dict[str, Resource] = {}
        for href, spec in data["resources"].items():
            line = line_of(data, ["resources", href])
            if not isinstance(href, str) or not href.startswith("/"):
                raise YamlFileError(file, line, f"expected an href starting with '/', saw {href!r}")
            try:
                resource = _entry(href, substitute(spec, variables), f"resource {href}")
            except (TreeError, VariableError) as exc:
                raise YamlFileError(file, line, str(exc)) from None
            resources[href] = resource
        try:
            tree = cls(resources, now, int(data.get("tzOffset", 0)), float(data.get("time_offset", 0)),
                       int(data["page_size"]) if "page_size" in data else None)
        except (TypeError, ValueError) as exc:
            raise YamlFileError(file, getattr(data, "line", 1), f"expected integer tzOffset, time_offset and "
                                f"page_size, saw: {exc}") from None
        for href, resource in resources.items():
            missing = [i for i in resource.items or () if i not in resources]
            if missing:
                raise YamlFileError(file, line_of(data, ["resources", href]),
                                    f"resource {href}: list items {missing} are not resources of the tree")
        return tree

    def copy(self) -> ServedTree:
        """An independent copy: a case changes its own tree, never the file's."""
        twin = ServedTree(copy.deepcopy(self.resources), self.clock_now, self.tz_offset, self.time_offset,
                          self.page_size)
        twin.owners = dict(self.owners)
        return twin

    # --- rendering ---------------------------------------------------------------------------------

    def time_element(self) -> etree._Element:
        """The server's Time: currentTime from the run's clock, no daylight saving, quality 7 (§10.2)."""
        now = int(self.now())
        return build("Time", {"href": TIME_HREF, "currentTime": now, "dstEndTime": 0, "dstOffset": 0,
                              "dstStartTime": 0, "localTime": now + self.tz_offset, "quality": 7,
                              "tzOffset": self.tz_offset})

    def event_status(self, resource: Resource) -> dict[str, Any] | None:
        """The EventStatus of an event resource at the server's time, or None when it has no interval."""
        interval = resource.content.get("interval") if isinstance(resource.content, dict) else None
        if not isinstance(interval, dict):
            return None
        now = int(self.now())
        if resource.status is not None:
            status = resource.status
        else:
            status = ACTIVE if int(interval.get("start", 0)) <= now else SCHEDULED
        return {"currentStatus": status, "dateTime": now, "potentiallySuperseded": False}

    def _content(self, resource: Resource) -> Any:
        content = resource.content
        if resource.kind != "DERControl" or not isinstance(content, dict) or "EventStatus" in content:
            return content
        status = self.event_status(resource)
        if status is None:
            return content
        out: dict[str, Any] = {}
        placed = False
        for key, value in content.items():
            if not placed and key not in _BEFORE_EVENT_STATUS and key != "href" and key[:1].isalpha() and (
                    key not in ("replyTo", "responseRequired", "subscribable")):
                out["EventStatus"] = status
                placed = True
            out[key] = value
        if not placed:
            out["EventStatus"] = status
        return out

    def element(self, resource: Resource, query: list[tuple[str, str]] = (), viewer: str | None = None
                ) -> etree._Element:
        """The resource as a 2030.5 element; a list is paged by query (s, l) with all/results.

        viewer: the LFDI (upper-case) of the client asking; a list leaves out the items owners gives to another.
        """
        if resource.href == TIME_HREF and resource.kind == "Time":
            return self.time_element()
        if resource.raw is not None:
            return etree.fromstring(resource.raw, etree.XMLParser(resolve_entities=False, no_network=True))
        if resource.items is None:
            return build(resource.kind, {"href": resource.href, **self._content(resource)})
        start, limit = _paging(list(query))
        if limit is None:
            limit = self.page_size  # the server's own page size when the client gives no l (§8.3.1)
        items = self.ordered_items(resource, viewer)
        shown = items[start:] if limit is None else items[start:start + limit]
        root = build(resource.kind, {"href": resource.href, "all": len(items), "results": len(shown),
                                     **resource.content})
        for href in shown:
            root.append(self.element(self.resources[href]))
        return root

    def ordered_items(self, resource: Resource, viewer: str | None = None) -> list[str]:
        """A list's item hrefs in the order 2030.5 defines for it: DERControls by start ascending, then
        creationTime descending (§12.1.3.2); other lists in the order the tree gives them. With owners, only the
        items no one owns and those of viewer (an LFDI, upper-case)."""
        listed: Iterable[str] = resource.items or ()
        if self.owners:
            # Built-in map/compress, no Python loop: a fleet's 1,000-item EndDeviceList stays cheap per request.
            seen_by = map(self.owners.get, listed, repeat(viewer))
            listed = compress(listed, map(operator.eq, seen_by, repeat(viewer)))
        items = list(filter(self.resources.__contains__, listed))
        if resource.kind == "DERControlList":
            def key(href: str) -> tuple[int, int]:
                content = self.resources[href].content or {}
                interval = content.get("interval", {}) if isinstance(content, dict) else {}
                return int(interval.get("start", 0)), -int(content.get("creationTime", 0))
            items.sort(key=key)
        return items

    # --- requests ----------------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: list[tuple[str, str]], body: etree._Element | None,
               raw: bytes, viewer: str | None = None) -> Outcome:
        """The outcome of a client request with the standard's status codes (2030.5 §5.5.2.1-5.5.2.3).

        viewer is the LFDI (upper-case) of the client's certificate: the lists show it only its own of owned items.

        GET/HEAD 200, PUT 204 (the resource is replaced), POST to a list 201 with Location, DELETE 204; an
        unknown href 404, a method the resource does not take 405 with Allow, a missing body 400.
        """
        resource = self.resources.get(path)
        if resource is None and path == TIME_HREF:
            resource = Resource(href=TIME_HREF, kind="Time")
        if resource is None:
            return Outcome(404)
        if method not in resource.methods:
            return Outcome(405, headers=[("Allow", ", ".join(resource.methods))])
        if method in ("GET", "HEAD"):
            try:
                return Outcome(200, to_bytes(self.element(resource, query, viewer)))
            except TreeError:
                return Outcome(400)
        if method == "DELETE":
            self.remove(path)
            return Outcome(204)
        if body is None:
            return Outcome(400)
        if method == "PUT":
            resource.raw = raw
            resource.kind = local_name(body)
            return Outcome(204)
        # POST: to a list, a new member at <list>/<n>.
        if resource.items is None:
            return Outcome(405, headers=[("Allow", ", ".join(m for m in resource.methods if m != "POST"))])
        self._posted += 1
        href = f"{path.rstrip('/')}/{self._posted}"
        # What a client POSTs may take POSTs itself (MirrorMeterReadings to its MirrorUsagePoint, §10.10).
        self.resources[href] = Resource(href=href, kind=local_name(body), raw=raw, methods=resource.member_methods,
                                        created=int(self.now()),
                                        items=[] if "POST" in resource.member_methods else None)
        resource.items.append(href)
        return Outcome(201, headers=[("Location", href)])

    # --- changes a case makes (act) ----------------------------------------------------------------

    def add(self, href: str, kind: str, content: dict[str, Any], to: str | None) -> None:
        """Add a resource (and its href to the list `to`); TreeError when the href is taken or `to` no list."""
        if href in self.resources:
            raise TreeError(f"expected a new href, saw {href} already served")
        if to is not None and (to not in self.resources or self.resources[to].items is None):
            raise TreeError(f"expected 'to' to name a list resource of the tree, saw {to}")
        self.resources[href] = Resource(href=href, kind=kind, content=content, created=int(self.now()))
        if to is not None:
            self.resources[to].items.append(href)  # type: ignore[union-attr]

    def remove(self, href: str) -> None:
        """Remove a resource and drop it from every list."""
        if self.resources.pop(href, None) is None:
            raise TreeError(f"expected a resource of the tree, saw {href}")
        for resource in self.resources.values():
            if resource.items is not None and href in resource.items:
                resource.items.remove(href)

    def set_status(self, href: str, status: int) -> None:
        """Give an event a fixed EventStatus currentStatus (cancelled 2, superseded 4)."""
        resource = self.resources.get(href)
        if resource is None or self.event_status(resource) is None:
            raise TreeError(f"expected an event (a resource with an interval) at {href}")
        resource.status = status

    def set_value(self, href: str, name: str, value: Any) -> None:
        """Set one top-level attribute or element of a resource (pollRate, say)."""
        resource = self.resources.get(href)
        if resource is None or not isinstance(resource.content, dict):
            raise TreeError(f"expected a resource of the tree, saw {href}")
        resource.content[name] = value

    def posted(self, list_href: str) -> list[Resource]:
        """The resources clients POSTed to a list, in order."""
        resource = self.resources.get(list_href)
        return [self.resources[h] for h in (resource.items or ()) if h in self.resources
                and self.resources[h].raw is not None] if resource else []
