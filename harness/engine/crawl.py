"""The `crawl` step: every resource reachable from a start resource, each checked, bounded in count and time.

For the procedures that say "every resource" (CSIP CORE-001 step 9, CORE-002 step 8): starting from a URL or a
saved href (DeviceCapability by default), the step GETs each resource, follows the `href` of every `*Link` and
`*ListLink` element and of every item of a list, breadth first, each href once, only on the DUT's own origin, and
judges every answer as a request step would: 200, the run's Content-Type, a schema-valid body of the resource
the link names (IEEE 2030.5 link types: `DERProgramListLink` names a DERProgramList; an item of a list is the
resource its element names), plus the case's own `resources:` expectations. Lists are read with `s=0&l=N`
(list_items), so a list of a thousand items costs one bounded request.

On every resource reached the step may also apply methods (`methods:`):
- HEAD: 200 with no body (the 2030.5 WADL makes HEAD mandatory wherever GET is); a Content-Type other than the
  GET's is a warning (RFC 9110 9.3.2 asks for the same header fields).
- PUT, POST, DELETE: sent only where the 2030.5 WADL marks the method an error (mode E) for that resource, so a
  conforming server has one right answer: 405 Method Not Allowed (CORE-001 step 6, CORE-002 step 6). The body is
  the resource's own representation as just read (for a list, its first item; an empty list gets no PUT/POST),
  so even a server that wrongly accepts it is given nothing new. An Allow header that lists GET and not the
  method refused is required (`allow: required`, CORE-002) or a warning (`allow: should`, the default).
- any other token (FOO): an unknown method, 501 Not Implemented (CORE-001 step 8, CORE-002 step 7), or the
  statuses `unknown_status` names.
A 4xx answer with a body whose body is not a 2030.5 Error is a warning; so is a response that is not HTTP/1.1 or
closes the connection (2030.5 5.3: persistent HTTP/1.1 connections).

Reaching max_resources or max_seconds ends the crawl with a warning finding, never a failure. Every failure names
the method and href, the resource and link it came from, what was expected (with the rule) and what was seen.
Evidence is summarised: the start resource's exchange and every exchange that failed or drew a warning are kept,
and the step's observed value lists each resource reached with the status of each method (evidence: all keeps
every exchange).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree

from harness.cases.matchers import Mismatch
from harness.cases.model import CrawlSpec, ExpectSpec, Step
from harness.codec.checking import for_checks, to_json_paths
from harness.engine.checks import advisories, check_response, describe_problems, failing_problems, finding_record
from harness.engine.context import RunContext
from harness.results import ERROR, FAILED, ExchangeRecord, StepRecord
from harness.sep import MEDIA_TYPE_XML, NS
from harness.sep import methods as wadl
from harness.sep.findings import WARNING, Finding
from harness.sep.safexml import XMLRejected, local_name, parse_xml
from harness.transport.base import TOO_LARGE, Exchange, Request
from harness.transport.http import origin

# The methods a crawl sends only where the 2030.5 WADL marks them an error (mode E).
REFUSED_METHODS = ("PUT", "POST", "DELETE")
# The most failures and the most warnings one crawl records (its message names the first five failures); what is
# left out is counted, so that a DUT wrong on every one of thousands of resources cannot flood the evidence.
_KEPT = 200

Send = Callable[[Step, RunContext, Request], Awaitable[Exchange]]


@dataclasses.dataclass
class _Target:
    """A resource to read: its href and URL, the resource the link names (WADL name), and where it came from."""

    href: str
    url: str
    resource: str | None
    via: str

    @property
    def element(self) -> str | None:
        return wadl.element_of(self.resource) if self.resource else None

    def where(self) -> str:
        kind = f"{self.resource} " if self.resource else ""
        return f"{kind}{self.href} ({self.via})"


@dataclasses.dataclass
class _Crawl:
    """What the crawl found so far: problems, warnings, evidence kept, the summary of each resource."""

    step: Step
    spec: CrawlSpec
    ctx: RunContext
    send: Send
    exchange_record: Callable[[Exchange], ExchangeRecord]
    problems: list[Mismatch] = dataclasses.field(default_factory=list)
    findings: list[Finding] = dataclasses.field(default_factory=list)
    evidence: list[ExchangeRecord] = dataclasses.field(default_factory=list)
    reached: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    not_followed: list[dict[str, str]] = dataclasses.field(default_factory=list)
    error: str | None = None
    left_out: dict[str, int] = dataclasses.field(default_factory=lambda: {"failures": 0, "warnings": 0,
                                                                                      "exchanges": 0})

    def warn(self, message: str, path: str, kind: str = "protocol") -> None:
        self.note(Finding(message=message, line=None, path=path, kind=kind, severity=WARNING))

    def note(self, *findings: Finding) -> None:
        """Record warning findings, up to _KEPT."""
        for finding in findings:
            if len(self.findings) < _KEPT:
                self.findings.append(finding)
            else:
                self.left_out["warnings"] += 1

    def fail(self, target: _Target, method: str, expected: str, seen: str, what: str = "") -> None:
        """A failure: the request and resource (with the link it came from), what (a field), expected, seen."""
        if len(self.problems) < _KEPT:
            where = f"{method} {target.where()}" + (f": {what}" if what else "")
            self.problems.append(Mismatch(where, expected, seen))
        else:
            self.left_out["failures"] += 1

    def keep(self, exchange: Exchange, *, judged_badly: bool) -> None:
        """Keep an exchange as evidence: every one under `evidence: all`, else the first and those judged badly,
        up to _KEPT."""
        wanted = self.spec.evidence == "all" or not self.evidence or judged_badly
        if wanted and (self.spec.evidence == "all" or len(self.evidence) < _KEPT):
            self.evidence.append(self.exchange_record(exchange))
        elif wanted:
            self.left_out["exchanges"] += 1


def _origin(url: str) -> str | None:
    try:
        return origin(url)
    except ValueError:
        return None


def _list_url(url: str, items: int) -> str:
    return f"{url}{'&' if '?' in url else '?'}s=0&l={items}"


def _links(root: etree._Element) -> list[tuple[str, str, etree._Element, etree._Element]]:
    """(name, href, owner, element) of every element whose name ends in Link (ListLink included) and that has an href,
    and of every item of a list (the root's children with an href), in document order; owner is the resource
    that holds it (the nearest enclosing element with an href: a list item, or the resource read)."""
    found: list[tuple[str, str, etree._Element, etree._Element]] = []
    listed = _is_list(root)
    for element in root.iter():
        if not isinstance(element.tag, str) or element is root:
            continue
        href = element.get("href")
        if href is None:
            continue
        name = local_name(element)
        parent = element.getparent()
        if name.endswith("Link"):
            owner = parent
            while owner is not None and owner is not root and owner.get("href") is None:
                owner = owner.getparent()
            found.append((name, href, owner if owner is not None else root, element))
        elif listed and parent is root:
            found.append((name, href, root, element))
    return found


def _item_of(element: etree._Element, root: etree._Element) -> etree._Element | None:
    """The child of root that holds element (a list item), or None when element is root."""
    while element is not None and element.getparent() is not root:
        element = element.getparent()
    return element


def _is_list(root: etree._Element) -> bool:
    return local_name(root).endswith("List") and etree.QName(root).namespace == NS


def _body_for(root: etree._Element) -> etree._Element | None:
    """What a PUT or POST the WADL refuses carries: the resource as read, or a list's first item (the WADL's
    request representation of a list is its item); None for an empty list."""
    if not _is_list(root):
        return root
    items = [child for child in root if isinstance(child.tag, str) and child.get("href") is not None]
    if not items:
        return None
    item = copy.deepcopy(items[0])
    item.tail = None
    return item


def _expectations(spec: CrawlSpec, element: str | None) -> tuple[ExpectSpec | None, ExpectSpec | None]:
    own = spec.resources.get(element or "")
    return (own.expect, own.should) if own is not None else (None, None)


@dataclasses.dataclass(frozen=True)
class _Read:
    """A resource read and judged: its parsed body, the URL read (a list's with s= and l=), the GET's headers."""

    root: etree._Element
    url: str
    content_type: str | None
    length: int


async def _get(crawl: _Crawl, target: _Target) -> _Read | None:
    """GET one resource (a list: its first list_items items) and judge it; what was read when it can be
    followed, else None."""
    ctx, spec = crawl.ctx, crawl.spec
    url = _list_url(target.url, spec.list_items) if (target.element or "").endswith("List") else target.url
    exchange = await crawl.send(crawl.step, ctx, Request("GET", url, [("Accept", ctx.codec.media_type)]))
    entry: dict[str, Any] = {"href": target.href, "resource": target.resource, "from": target.via}
    crawl.reached.append(entry)
    if exchange.error or exchange.response is None:
        crawl.keep(exchange, judged_badly=True)
        if exchange.error_kind == TOO_LARGE:
            crawl.fail(target, "GET", "a complete response", exchange.error or "")
            entry["GET"] = "too large"
            return None
        crawl.error = f"GET {target.where()}: {exchange.error}"
        return None
    response = exchange.response
    entry["GET"] = response.status
    get_mode = wadl.mode(target.resource or "", "GET")
    if get_mode in (wadl.OPTIONAL, wadl.DISCOURAGED) and response.status in (405, 501):
        # CSIP CORE-001 errata 30: a WADL-optional method the DUT does not implement may be refused.
        entry["note"] = f"GET is {'optional' if get_mode == 'O' else 'discouraged'} in the 2030.5 WADL: not followed"
        return None
    if response.status in (204, 404) and wadl.client_written(target.resource or ""):
        # Linked for its client to PUT, not written yet: nothing schema-valid exists to serve (harness.sep.methods).
        entry["note"] = "written by its client (PUT), not yet: not judged"
        crawl.warn(f"GET {target.where()}: {response.status}, a resource its client writes (PUT) and has not "
                   f"written yet: not checked", path=target.href, kind="crawl")
        crawl.keep(exchange, judged_badly=True)
        return None
    own_expect, own_should = _expectations(spec, target.element)
    # Judged after decoding (harness.codec.checking): a JSON answer of a JSON run reads as sep+xml, a wrong type not.
    expect = ExpectSpec(status=(200,), content_type=MEDIA_TYPE_XML,
                        schema=target.element if target.element and _global(target.element) else None,
                        resource=own_expect.resource if own_expect else None,
                        headers=own_expect.headers if own_expect else {})
    decoded = for_checks(response, ctx.codec, expect.schema)
    check = check_response(expect, decoded.response, ctx.schema, needs_view=True, max_body=ctx.profile.max_body)
    check.findings = decoded.findings + to_json_paths(check.findings, decoded.pointers)
    problems = failing_problems(check)
    for problem in problems:
        crawl.fail(target, "GET", problem.expected, problem.seen, problem.path)
    warnings = [f for f in check.findings if f.severity == WARNING]
    if own_should is not None and not problems:
        warnings.extend(advisories(own_should, decoded.response, check.view))
    warnings.extend(_protocol_warnings(target, "GET", response))
    crawl.note(*(dataclasses.replace(w, message=f"GET {target.where()}: {w.message}") for w in warnings))
    crawl.keep(exchange, judged_badly=bool(problems or warnings))
    if problems or check.view is None:
        return None
    try:
        root = parse_xml(decoded.response.body, max_bytes=ctx.profile.max_body)
    except XMLRejected:
        return None
    return _Read(root, url, response.header("content-type"), len(response.body))


def _global(element: str) -> bool:
    from harness.cases.resource_check import check_resource_name

    try:
        check_resource_name(element, [])
    except ValueError:
        return False
    return True


def _protocol_warnings(target: _Target, method: str, response: Any) -> list[Finding]:
    """HTTP/1.1 persistence and a 4xx's Error body: what 2030.5 asks that the procedures do not judge."""
    out: list[Finding] = []
    where = f"{method} {target.where()}"
    version = (response.http_version or "").upper()
    if version and version not in ("HTTP/1.1", "1.1"):
        out.append(_warning(f"{where}: should be HTTP/1.1 (IEEE 2030.5 5.3), saw {response.http_version}"))
    if (response.header("connection") or "").strip().lower() == "close":
        out.append(_warning(f"{where}: should keep the connection open (persistent HTTP/1.1, IEEE 2030.5 5.3), "
                            f"saw Connection: close"))
    if 400 <= response.status < 500 and response.body and not _is_error(response.body):
        out.append(_warning(f"{where}: a {response.status} body should be a 2030.5 Error, saw "
                            f"{len(response.body)} bytes of {response.header('content-type') or 'no Content-Type'}"))
    return out


def _warning(message: str) -> Finding:
    return Finding(message=message, line=None, path=None, kind="protocol", severity=WARNING)


def _is_error(body: bytes) -> bool:
    try:
        root = parse_xml(body)
    except XMLRejected:
        return False
    return root.tag == f"{{{NS}}}Error"


async def _apply(crawl: _Crawl, target: _Target, read: _Read) -> None:
    """The case's methods on one resource reached (HEAD, the methods the WADL refuses, an unknown token)."""
    ctx, spec, root = crawl.ctx, crawl.spec, read.root
    entry = crawl.reached[-1]
    accept = ("Accept", ctx.codec.media_type)
    for method in spec.methods:
        body = b""
        headers = [accept]
        if method in REFUSED_METHODS:
            if wadl.mode(target.resource or "", method) != wadl.ERROR:
                continue
            if method != "DELETE":
                carried = _body_for(root)
                if carried is None:
                    entry[method] = "not sent: an empty list has no item to carry"
                    continue
                body = ctx.codec.serialize(carried)
                headers.append(("Content-Type", ctx.codec.media_type))
        # HEAD asks for what the GET read (a list's page), so that its headers can be compared with the GET's.
        url = read.url if method == "HEAD" else target.url
        exchange = await crawl.send(crawl.step, ctx, Request(method, url, headers, body))
        if exchange.error or exchange.response is None:
            crawl.keep(exchange, judged_badly=True)
            if exchange.error_kind == TOO_LARGE:
                crawl.fail(target, method, "a complete response", exchange.error or "")
                continue
            crawl.error = f"{method} {target.where()}: {exchange.error}"
            return
        response = exchange.response
        entry[method] = response.status
        before = len(crawl.problems)
        warnings = _protocol_warnings(target, method, response)
        if method == "HEAD":
            optional = wadl.mode(target.resource or "", "HEAD") in (wadl.OPTIONAL, wadl.DISCOURAGED)
            if optional and response.status in (405, 501):
                pass  # CSIP CORE-001 errata 30: a WADL-optional method the DUT does not implement may be refused
            elif response.status != 200:
                crawl.fail(target, method, "200, or 405 or 501 (HEAD is optional here in the 2030.5 WADL, errata 30)"
                           if optional else "200 (HEAD is mandatory wherever GET is, 2030.5 WADL)",
                           str(response.status))
            elif response.body:
                crawl.fail(target, method, "no body (RFC 9110 9.3.2)", f"{len(response.body)} bytes")
            else:
                warnings.extend(_head_warnings(target, read, response))
        elif method in REFUSED_METHODS:
            rule = f"405 (the 2030.5 WADL marks {method} on {target.resource} an error)"
            if response.status != 405:
                crawl.fail(target, method, rule, _status_seen(response))
            else:
                allow = ", ".join(response.header_values("allow"))
                listed = {token.strip().upper() for token in allow.split(",") if token.strip()}
                if "GET" not in listed or method in listed:
                    text = (f"an Allow header listing GET and not {method} (RFC 9110 15.5.6)",
                            repr(allow) if allow else "absent")
                    if spec.allow == "required":
                        crawl.fail(target, method, f"405 with {text[0]}", f"Allow {text[1]}")
                    else:
                        warnings.append(_warning(f"{method} {target.where()}: should send {text[0]}, saw "
                                                 f"{text[1]}"))
                else:
                    missing = [m for m in wadl.METHODS if wadl.mode(target.resource or "", m) == wadl.MANDATORY
                               and m not in listed]
                    if missing:
                        warnings.append(_warning(f"{method} {target.where()}: the Allow header should list the "
                                                 f"methods the 2030.5 WADL makes mandatory here, saw {allow!r} "
                                                 f"without {', '.join(missing)}"))
        elif response.status not in spec.unknown_status:
            wanted = " or ".join(map(str, spec.unknown_status))
            crawl.fail(target, method, f"{wanted} (an unknown method token)", _status_seen(response))
        crawl.note(*warnings)
        crawl.keep(exchange, judged_badly=len(crawl.problems) > before or bool(warnings))
    for label, request, wanted, rule in _probes(spec, target, accept):
        exchange = await crawl.send(crawl.step, ctx, request)
        if exchange.error or exchange.response is None:
            crawl.keep(exchange, judged_badly=True)
            crawl.error = f"{label} {target.where()}: {exchange.error}"
            return
        entry[label] = exchange.response.status
        warnings = _protocol_warnings(target, label, exchange.response)
        failed = exchange.response.status != wanted
        if failed:
            crawl.fail(target, label, f"{wanted} ({rule})", _status_seen(exchange.response))
        crawl.note(*warnings)
        crawl.keep(exchange, judged_badly=failed or bool(warnings))


# The path below a resource that no server serves (CORE-002 step 5: an invalid URI).
NO_SUCH_RESOURCE = "csip-harness-no-such-resource"


def _probes(spec: CrawlSpec, target: _Target, accept: tuple[str, str]) -> list[tuple[str, Request, int, str]]:
    """The GETs a crawl may add on each resource: with a malformed Host header (400, CORE-001 step 7, CORE-002
    step 4) and of an invalid URI below it (404, CORE-002 step 5)."""
    out = []
    if spec.bad_host:
        out.append(("GET with Host 'bad host!'", Request("GET", target.url, [accept, ("Host", "bad host!")]), 400,
                    "a malformed Host header, RFC 9110 7.2"))
    if spec.not_found:
        parts = urlsplit(target.url)
        below = parts._replace(path=parts.path.rstrip("/") + "/" + NO_SUCH_RESOURCE, query="").geturl()
        out.append((f"GET of .../{NO_SUCH_RESOURCE}", Request("GET", below, [accept]), 404, "an invalid URI"))
    return out


def _head_warnings(target: _Target, read: _Read, response: Any) -> list[Finding]:
    """A HEAD should carry the GET's header fields (RFC 9110 9.3.2): its Content-Type, and a Content-Length, when
    it sends one, of the body the GET sent (RFC 9110 8.6)."""
    out = []
    seen = response.header("content-type")
    if (seen or "").split(";")[0].strip().lower() != (read.content_type or "").split(";")[0].strip().lower():
        out.append(_warning(f"HEAD {target.where()}: should carry the GET's Content-Type {read.content_type!r} "
                            f"(RFC 9110 9.3.2), saw {seen!r}"))
    length = (response.header("content-length") or "").strip()
    if length and length != str(read.length):
        out.append(_warning(f"HEAD {target.where()}: a Content-Length should be the GET's body length "
                            f"{read.length} (RFC 9110 8.6), saw {length}"))
    return out


def _status_seen(response: Any) -> str:
    content_type = response.header("content-type")
    return f"{response.status}" + (f" with {content_type} ({len(response.body)} bytes)" if response.body else "")


def _follow(crawl: _Crawl, target: _Target, root: etree._Element, seen: set[str], queue: deque[_Target],
            home: set[str]) -> None:
    """Queue every link and list item of root not seen yet and on the DUT's origin."""
    items = [child for child in root if isinstance(child.tag, str) and child.get("href") is not None]
    if _is_list(root) and len(items) > crawl.spec.list_items:
        # The DUT sent more than l= asked (2030.5 list query l): only the first list_items are followed.
        crawl.warn(f"GET {target.where()}: asked for at most {crawl.spec.list_items} items (l=), saw {len(items)}; "
                   f"only the first {crawl.spec.list_items} are followed", path=target.href)
        skipped = set(items[crawl.spec.list_items:])
    else:
        skipped = set()
    for name, href, owner, element in _links(root):
        if skipped and _item_of(element, root) in skipped:
            continue
        holder = target.resource if owner is root else local_name(owner)
        holder_href = target.href if owner is root else owner.get("href")
        url = urljoin(target.url, href.strip())
        key = urlsplit(url)._replace(fragment="").geturl()
        if key in seen:
            continue
        seen.add(key)
        if _origin(url) not in home:
            origins = ", ".join(sorted(home))
            crawl.not_followed.append({"href": href, "from": f"{holder} {holder_href}",
                                       "why": f"not on the DUT's origin ({origins})"})
            crawl.warn(f"{name} {href!r} in {holder} {holder_href} is not on the DUT's origin ({origins}): not "
                       f"followed", path=target.href, kind="crawl")
            continue
        is_link = name.endswith("Link")
        resource = wadl.resource_of_link(name) if is_link else name
        via = f"{name} of {holder} {holder_href}" if is_link else f"item of {holder} {holder_href}"
        if owner is not root:
            via += f" in {target.resource} {target.href}"
        queue.append(_Target(href=href, url=key, resource=resource, via=via))


async def crawl_step(step: Step, ctx: RunContext, variables: dict[str, Any], record: StepRecord, *,
                     substitute: Callable[[Any, dict[str, Any]], Any], target: Callable[..., str], send: Send,
                     exchange_record: Callable[[Exchange], ExchangeRecord]) -> StepRecord:
    """Run a `crawl` step (see the module): fill record (verdict, message, observed, findings, exchanges)."""
    assert step.crawl is not None
    spec = step.crawl
    clock = time.perf_counter()
    start_href = str(substitute(spec.start, variables))
    start_url = start_href if start_href.startswith(("http://", "https://")) else target(start_href)
    crawl = _Crawl(step, spec, ctx, send, exchange_record)
    # The DUT's origin, and those the profile names as the DUT's too (tls: allowed_origins).
    home = {o for o in (_origin(ctx.base_url), *map(_origin, ctx.profile.allowed_origins)) if o is not None}
    seen = {urlsplit(start_url)._replace(fragment="").geturl()}
    queue: deque[_Target] = deque([_Target(start_href, start_url, spec.schema, "the crawl's start")])
    bound = ""
    while queue and crawl.error is None:
        if len(crawl.reached) >= spec.max_resources:
            bound = f"max_resources ({spec.max_resources})"
            break
        if time.perf_counter() - clock >= spec.max_seconds:
            bound = f"max_seconds ({spec.max_seconds:g} s)"
            break
        current = queue.popleft()
        read = await _get(crawl, current)
        if read is None:
            continue
        if current.resource is None:
            current.resource = local_name(read.root)
        await _apply(crawl, current, read)
        _follow(crawl, current, read.root, seen, queue, home)
    if any(crawl.left_out.values()):
        crawl.findings.append(Finding(
            message=f"the crawl records at most {_KEPT} failures, warnings and exchanges kept as evidence; left out: "
                    + ", ".join(f"{n} {kind}" for kind, n in crawl.left_out.items()),
            line=None, path=spec.start, kind="crawl", severity=WARNING))
    if bound:
        crawl.findings.append(Finding(
            message=f"the crawl stopped at {bound} with {len(queue)} linked resource(s) not read: the resources "
                    f"beyond the bound were not checked", line=None, path=spec.start, kind="crawl", severity=WARNING))
    record.exchanges.extend(crawl.evidence)
    record.findings.extend(finding_record(f) for f in crawl.findings)
    record.expected = {"crawl": {"from": start_href, "methods": list(spec.methods), "bad_host": spec.bad_host,
                                 "not_found": spec.not_found,
                                 "max_resources": spec.max_resources, "max_seconds": spec.max_seconds}}
    record.observed = {"reached": len(crawl.reached), "left": len(queue), "bound": bound or None,
                       "resources": crawl.reached, "not_followed": crawl.not_followed}
    record.mismatches = [{"path": m.path, "expected": m.expected, "seen": m.seen} for m in crawl.problems]
    record.duration_s = round(time.perf_counter() - clock, 6)
    if crawl.error is not None:
        record.verdict = ERROR
        record.message = f"step {step.index} {step.name!r}: the crawl could not go on: {crawl.error}"
    elif crawl.problems:
        record.verdict = FAILED
        record.message = describe_problems(step, crawl.problems)
    return record
