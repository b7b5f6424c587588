"""Routing primitives of the reference server: a route, what its handler gets, and what a handler may raise."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.reference.access import Scope
from harness.server.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from harness.reference.app import ReferenceApp

GET = ("GET", "HEAD")


class BadBody(Exception):
    """A request body the server refuses with 400 and an Error: unparseable, or not valid 2030.5.

    reason_code is the Error's reasonCode (2030.5: 0 invalid request format, 1 invalid request values).
    """

    def __init__(self, message: str, reason_code: int = 0) -> None:
        super().__init__(message)
        self.reason_code = reason_code


class Forbidden(Exception):
    """A request the client's access rights do not allow: answered 403."""


@dataclass
class Ctx:
    """What a route handler gets: the request, the path parameters and the client's Scope."""

    request: HttpRequest
    params: dict[str, str]
    scope: Scope


RouteHandler = Callable[["ReferenceApp", Ctx], HttpResponse]


@dataclass(frozen=True)
class Route:
    """A path pattern, the methods the WADL permits on it, and whether unregistered clients may use it."""

    pattern: re.Pattern[str]
    methods: tuple[str, ...]
    handler: RouteHandler
    public: bool = False


def route(pattern: str, methods: tuple[str, ...], handler: RouteHandler, *, public: bool = False) -> Route:
    """A Route from a pattern like "/edev/{edev}/der/{der}" (each {name} matches 1-9 digits)."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[0-9]{1,9})", pattern)
    return Route(re.compile(regex), methods, handler, public)
