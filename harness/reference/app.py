"""Request handling of the reference server: routing, methods, access control, request bodies, status codes."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from typing import Any

from lxml import etree

from harness.reference.access import Scope, path_access, scope_for
from harness.reference.defects import Defects
from harness.reference.paging import QueryError, apply_page, parse_page
from harness.reference.render import Renderer, error, to_bytes
from harness.reference.routes import match_route
from harness.reference.routing import BadBody, Ctx, Forbidden, Route
from harness.reference.tree import DerProgram, EndDevice, Tree
from harness.sep import MEDIA_TYPE_XML, NS
from harness.sep.identity import lfdi
from harness.sep.safexml import XMLRejected, local_name, parse_xml
from harness.sep.schema import CHECK, FAILURE, SchemaSet
from harness.server.http import HttpRequest, HttpResponse

HTTP_METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"})

_HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_CURVE_LIST = re.compile(r"/derp/[0-9]+/dc/?")
_HOST = re.compile(r"(?P<host>\[[^\]]*\]|[^:\[\]]+)(:(?P<port>[0-9]{1,5}))?")


def valid_host_header(value: str) -> bool:
    """Whether value is host[:port] with a valid DNS name, IPv4 literal or bracketed IPv6 literal."""
    match = _HOST.fullmatch(value)
    if not match:
        return False
    port = match.group("port")
    if port is not None and not 0 < int(port) <= 65535:
        return False
    host = match.group("host")
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
        return True
    return len(host) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in host.split("."))


class ReferenceApp:
    """The HTTPS and plain-HTTP request handlers of the reference server."""

    def __init__(self, tree: Tree, defects: Defects, host: str = "127.0.0.1") -> None:
        self.tree = tree
        self.defects = defects
        self.schema = SchemaSet.bundled()
        self.render = Renderer(tree, defects)
        self.host = host
        self.https_port = 0  # set once the HTTPS listener is bound
        # Subscriptions' Notifications (harness.reference.notify.Notifier), when the server delivers them.
        self.notifier: Any = None

    # --- responses -----------------------------------------------------------------------------

    def xml(
        self, root: etree._Element, status: int = 200, headers: list[tuple[str, str]] | None = None
    ) -> HttpResponse:
        """A response carrying a 2030.5 resource."""
        media = "text/xml" if "wrong-content-type" in self.defects else MEDIA_TYPE_XML
        return HttpResponse(status, [("Content-Type", media), *(headers or [])], to_bytes(root))

    def bad_request(self, reason_code: int = 0) -> HttpResponse:
        """400 with an Error body."""
        return self.xml(error(reason_code), 400)

    def protocol_error(self, status: int, reason: str) -> HttpResponse:
        """The answer to a request h11 could not parse: the status with an Error body."""
        return HttpResponse(status, [("Content-Type", MEDIA_TYPE_XML)], to_bytes(error(0)))

    def created(self, location: str) -> HttpResponse:
        """The answer to a POST that created location."""
        if "post-returns-200" in self.defects:
            return HttpResponse(200, [("Location", location)])
        if "post-missing-location" in self.defects:
            return HttpResponse(201)
        return HttpResponse(201, [("Location", location)])

    def list_response(
        self,
        ctx: Ctx,
        tag: str,
        items: Sequence[Any],
        render: Callable[[Any], etree._Element],
        *,
        poll_rate: bool,
        subscribable: bool = False,
        time_key: Callable[[Any], int] | None = None,
    ) -> HttpResponse:
        """A list resource for the page the query asks for, or 400 for a malformed query."""
        try:
            page = parse_page(ctx.request.query, self.defects)
        except QueryError:
            return self.bad_request(1)
        chosen = apply_page(items, page, self.defects, time_key)
        root = self.render.list_of(
            tag,
            ctx.request.path,
            len(items),
            [render(item) for item in chosen],
            poll_rate=poll_rate,
            subscribable=subscribable,
        )
        return self.xml(root)

    def body(self, ctx: Ctx, *roots: str) -> etree._Element:
        """The request body, parsed safely and valid 2030.5: one of roots, valid against the schema.

        Raises BadBody before anything is stored: reasonCode 0 (invalid request format) for a body that does
        not parse, has another root or breaks the schema; 1 (invalid request values) when only our own checks
        of values (enumerated codes, list counts) fail. Findings of severity warning never reject.
        """
        try:
            root = parse_xml(ctx.request.body)
        except XMLRejected as exc:
            raise BadBody(str(exc)) from None
        name = local_name(root)
        if etree.QName(root).namespace != NS or name not in roots:
            raise BadBody(f"expected one of {roots} in the 2030.5 namespace, saw {root.tag}")
        if "body-not-validated" in self.defects:
            return root
        failures = [f for f in self.schema.validate(root, expected_root=name) if f.severity == FAILURE]
        if failures:
            reason_code = 1 if all(f.kind == CHECK for f in failures) else 0
            raise BadBody("; ".join(f"{f.path}: {f.message}" for f in failures), reason_code)
        return root

    # --- entry points --------------------------------------------------------------------------

    async def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one HTTPS request; after a write, Notify the subscriptions whose resource it changed."""
        response = self.dispatch(request)
        if self.notifier is not None and request.method in ("PUT", "POST", "DELETE") and response.status < 300:
            if request.method == "DELETE" and "deleted-enddevice-not-notified" not in self.defects:
                self.notifier.deleted(request.path)
            self.notifier.changed()
        return response

    async def handle_plain(self, request: HttpRequest) -> HttpResponse:
        """Answer one plain-HTTP request: a 301 to the same target over HTTPS (CSIP CORE-002 errata 31)."""
        if "no-redirect" in self.defects:
            return HttpResponse(404)
        scheme = "http" if "redirect-to-http" in self.defects else "https"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return HttpResponse(301, [("Location", f"{scheme}://{host}:{self.https_port}{request.target}")])

    def dispatch(self, request: HttpRequest) -> HttpResponse:
        """Route a request through the checks in order: Host, method token, path, registration, method, access."""
        hosts = request.header_values("Host")
        if "bad-host-accepted" not in self.defects and (
            len(hosts) > 1 or (hosts and not valid_host_header(hosts[0]))
        ):
            return self.bad_request(0)
        if request.method not in HTTP_METHODS:
            return self.bad_request(0) if "unknown-method-400" in self.defects else HttpResponse(501)
        route, params = match_route(request.path)
        if route is None:
            if "not-found-200" in self.defects:
                return self.xml(self.render.device_capability(empty=True))
            return HttpResponse(404)
        scope = self.scope_of(request)
        if not scope.registered and not route.public and "unregistered-client-allowed" not in self.defects:
            return HttpResponse(403)
        if request.method == "HEAD" and "curve-list-head-500" in self.defects and _CURVE_LIST.fullmatch(request.path):
            return HttpResponse(500)
        if request.method not in route.methods:
            return self.not_allowed(request, route, scope)
        denied = path_access(self.tree, scope, params)
        if denied is not None:
            return HttpResponse(denied)
        try:
            return route.handler(self, Ctx(request, params, scope))
        except BadBody as exc:
            return self.bad_request(exc.reason_code)
        except Forbidden:
            return HttpResponse(403)
        except LookupError:
            return HttpResponse(404)

    def not_allowed(self, request: HttpRequest, route: Route, scope: Scope) -> HttpResponse:
        """405 with the permitted methods (or the defect that accepts them on /dcap and /tm)."""
        if route.public and "disallowed-method-accepted" in self.defects:
            return route.handler(self, Ctx(request, {}, scope))
        if "missing-allow-header" in self.defects or (
                "edev-subtree-405-no-allow" in self.defects and request.path.startswith("/edev/")):
            return HttpResponse(405)
        return HttpResponse(405, [("Allow", ", ".join(route.methods))])

    def scope_of(self, request: HttpRequest) -> Scope:
        """The Scope of the client certificate: its LFDI, its registered EndDevice, what it may access."""
        certificate_lfdi = lfdi(request.peer_cert_der) if request.peer_cert_der is not None else None
        if certificate_lfdi is None:
            # Over NATS (harness.reference.nats_front) the mapping gives the LFDI: subject token or envelope.
            certificate_lfdi = getattr(request, "peer_lfdi", None)
        return scope_for(self.tree, certificate_lfdi, self.defects)

    # --- lookups -------------------------------------------------------------------------------

    def device(self, ctx: Ctx) -> EndDevice:
        """The EndDevice named by the path (KeyError → 404)."""
        return self.tree.end_devices[int(ctx.params["edev"])]

    def program(self, ctx: Ctx) -> DerProgram:
        """The DERProgram named by the path (KeyError → 404)."""
        return self.tree.programs[int(ctx.params["derp"])]
