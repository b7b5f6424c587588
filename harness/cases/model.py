"""Loaded test cases and DUT profiles as plain immutable objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.cases.requires import Requirement

# Variables every run provides before the first step (see engine.context).
BUILTIN_VARIABLES = ("dcap", "dut", "client", "now", "http_url", "identities", "dut_time", "listener")


@dataclass(frozen=True)
class RequestSpec:
    """The request of a step, before variable substitution."""

    method: str
    path: str | None = None
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    timeout: float | None = None
    pages: int | None = None  # read a whole list this many items at a time (s=, l=) and judge it merged
    each: bool = False  # path names a list of list hrefs: read every list (paged) and judge their items merged
    invalid: bool = False  # the body is deliberately not valid 2030.5 (otherwise it is checked before sending)
    # One request per item: each name bound to the n-th item of the list its `${...}` names (lists zipped).
    for_each: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExpectSpec:
    """What a step's response must show."""

    status: tuple[int, ...] = ()
    content_type: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    body: str | None = None
    schema: str | None = None
    resource: dict[str, Any] | None = None
    tls: str | dict[str, Any] | None = None  # "refused" or facts of the handshake (harness.engine.tls_steps)
    # Check each event's EventStatus against its interval at the DUT's time, within this many seconds.
    event_status: float | None = None
    list_order: bool = False  # the list's items are in the order 2030.5 defines for it (harness.engine.events)


@dataclass(frozen=True)
class WaitSpec:
    """A wait on the DUT's clock: until a TimeType (an expression before substitution), said as `purpose`.

    ``max`` bounds the wait in the DUT's seconds: a target further away is a harness error, never a long hang.
    ``late`` is how far past its target (DUT seconds) the harness may end the wait before the case is an error
    (None: the run's, else harness.engine.lateness.default_late).
    """

    until: str
    purpose: str
    max: float = 3600.0
    late: float | None = None


# What a `discover` step may save from the answer (harness.engine.discovery): the names its `save:` maps to.
DISCOVER_SAVES = ("url", "dcap_url", "host", "port", "path", "instance")


@dataclass(frozen=True)
class DiscoverSpec:
    """A `discover` step: one xmDNS/DNS-SD PTR query (harness.engine.discovery; CSIP COMM-001).

    query is the DNS-SD name asked for (`derp._sub._smartenergy._tcp.site` or `_smartenergy._tcp.site`); qu sets
    the QU bit (unicast answer wanted); within is the time limit in seconds of the harness's clock (a network
    round trip, not scaled by --time-scale).
    """

    query: str
    qu: bool = False
    within: float = 3.0


@dataclass(frozen=True)
class CrawlExpect:
    """A crawl's own expectations of one kind of resource: expect fails the step, should is a warning."""

    expect: ExpectSpec | None = None
    should: ExpectSpec | None = None


@dataclass(frozen=True)
class CrawlSpec:
    """A `crawl` step (harness.engine.crawl): every resource reachable from start, each GET judged, methods applied.

    start is a path or `${...}` (before substitution); schema the resource it is (None: whatever its root is);
    max_resources bounds the resources read and max_seconds the time (the harness's clock, not scaled); a list is
    read as its first list_items items (l=). methods: HEAD, PUT, POST, DELETE (each sent only where the 2030.5
    WADL marks it an error) or an unknown token (answered with one of unknown_status). allow: whether the Allow
    header of a 405 is required or a warning. bad_host, not_found: a GET with a malformed Host (400) and one of
    an invalid URI below (404) on each resource. resources: expectations per resource (global element name).
    evidence: "failures" keeps the exchanges that failed or warned (and the first), "all" every exchange.
    """

    start: str = "${dcap}"
    schema: str | None = "DeviceCapability"
    max_resources: int = 200
    max_seconds: float = 60.0
    list_items: int = 10
    methods: tuple[str, ...] = ()
    unknown_status: tuple[int, ...] = (501,)
    allow: str = "should"
    bad_host: bool = False  # also GET each resource with a malformed Host header: 400
    not_found: bool = False  # also GET an invalid URI below each resource: 404
    resources: dict[str, CrawlExpect] = field(default_factory=dict)
    evidence: str = "failures"


@dataclass(frozen=True)
class AwaitSpec:
    """An `await` step: the next Notification on a path of the harness's listener (harness.engine.notifications).

    notification names the path (`fsa` for `${listener.url}/fsa`; may hold `${...}`); subscription (optional,
    substituted) names the Subscription in messages; within is the time limit in seconds of the DUT's clock;
    none: the step passes when no Notification comes within the limit, and fails when one does. advisory (the
    step's `should: true`): what would fail the step (none came, one came under none, it does not match expect)
    is a warning finding instead, and the step passes.
    """

    notification: str
    within: float = 60.0
    subscription: str | None = None
    none: bool = False
    advisory: bool = False


@dataclass(frozen=True)
class ListenerPath:
    """A path of the case under the notification listener: the resource its subscription is for, the answer.

    A valid Notification carrying that resource type (or none, for a cancellation) is answered respond
    (201 Created by default); anything else 400 Bad Request.
    """

    name: str
    resource: str | None = None
    respond: int = 201


@dataclass(frozen=True)
class Step:
    """One step of a test case: a request with its expectations and saves, a DUT-side action, or a choice.

    ``when`` is an expression over variables (`derp_list and not scoped`): a name holds when the variable
    exists and is not empty; when the expression does not hold the step is not applicable. ``set`` assigns
    literal values (after substitution) once the step has run. ``choose`` holds the options of a choice
    step: the first whose ``when`` and ``require`` hold is taken (its saves and sets apply); when none
    does, the case is not applicable. ``require`` (on an option) is a precondition on the response: unmet,
    the option is passed over; ``expect`` is still a requirement, unmet, the step fails. ``should`` has the
    shape of ``expect`` for what the standard asks and the procedure does not: each mismatch is a warning
    finding, never a failure. A save path
    ending in ``?`` is optional: an absent value saves nothing (null) instead of failing.
    """

    index: int
    name: str
    line: int
    request: RequestSpec | None
    expect: ExpectSpec
    ref: str | None = None
    requires: tuple[Requirement, ...] = ()
    save: dict[str, str] = field(default_factory=dict)
    save_headers: dict[str, str] = field(default_factory=dict)
    action: ActionCall | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    when: Requirement | None = None
    set: dict[str, Any] = field(default_factory=dict)
    require: ExpectSpec | None = None
    should: ExpectSpec | None = None
    choose: tuple[Step, ...] = ()
    identity: str | None = None  # `as:`: the client identity the step acts as (None: the default, client)
    wait: WaitSpec | None = None
    probe: ProbeSpec | None = None
    await_: AwaitSpec | None = None  # `await:` a Notification on the harness's listener
    discover: DiscoverSpec | None = None  # `discover:` an xmDNS/DNS-SD query (COMM-001)
    crawl: CrawlSpec | None = None  # `crawl:` every resource reachable from one (harness.engine.crawl)
    # A client-role step (await, act, pause, check, forbid): its kind and its spec as written (harness.engine.client)
    client: ClientStep | None = None
    # `listener: offline|online`: take the run's NATS notification listener away or bring it back
    listener_state: str | None = None


@dataclass(frozen=True)
class ProbeSpec:
    """A robustness probe (harness.engine.probing): generated bodies of one resource sent to one URL."""

    method: str  # POST or PUT
    path: str
    resource: str  # the global element generated (Response, LogEvent, DERStatus, MirrorMeterReading...)
    fields: dict[str, Any] = field(default_factory=dict)  # top-level children given by the case
    include: tuple[str, ...] = ()  # optional top-level children every example carries (drawn, not fixed)
    examples: int = 25  # examples of each kind (valid, invalid)
    read_back: bool = True
    seed: int | None = None


@dataclass(frozen=True)
class ClientStep:
    """What a client-role step does: kind is await, act, pause, check, forbid or observe; spec is its mapping as written
    (before substitution), checked when the case loaded (harness/cases/schema/client-case.schema.json)."""

    kind: str
    spec: dict[str, Any]
    save_request: dict[str, str] = field(default_factory=dict)
    # An observe step's observation (harness/actions/registry.yaml, kind observation) with its parameters.
    observation: ActionCall | None = None


@dataclass(frozen=True)
class ActionCall:
    """A DUT-side action a case needs, with its parameters before substitution."""

    name: str
    params: dict[str, Any]
    line: int | None = None


@dataclass(frozen=True)
class ActionMapping:
    """How the DUT profile carries out one action: kind (http, command, operator, builtin, plugin) and its settings."""

    action: str
    kind: str
    config: dict[str, Any]
    line: int | None = None


@dataclass(frozen=True)
class Waiver:
    """A lab's decision to waive one step of one case, with the reason shown in the report."""

    case: str
    step: int
    reason: str
    by: str | None = None


@dataclass(frozen=True)
class Case:
    """One test case: a CSIP procedure for one DUT role."""

    id: str
    title: str
    role: str
    procedure: dict[str, Any]
    steps: tuple[Step, ...]
    file: Path
    sha256: str
    version: str = "1"
    description: str = ""
    function_sets: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    requires: tuple[Requirement, ...] = ()
    variables: dict[str, Any] = field(default_factory=dict)
    setup: tuple[ActionCall, ...] = ()
    # `listener:` the paths of the case under the notification listener; a case with any (or an `await` step)
    # starts the run's listener before its setup.
    listener: dict[str, ListenerPath] = field(default_factory=dict)

    @property
    def uses_listener(self) -> bool:
        """Whether the case needs the notification listener (it declares paths or awaits a Notification)."""
        return bool(self.listener) or any(step.await_ is not None for step in self.steps)
    serve: Path | None = None  # client role: the tree file the test server serves (harness.server.tree)
    forbid: tuple[dict[str, Any], ...] = ()  # client role: requests that fail the case whenever they come
    serve_with: dict[str, Any] = field(default_factory=dict)  # client role: the served tree's settings changed


@dataclass(frozen=True)
class Identity:
    """The harness's client identity toward a server DUT."""

    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None
    pin: int | None = None


@dataclass(frozen=True)
class DutProfile:
    """What the DUT is and supports: role, addresses, capabilities, identity, limits, action mappings, waivers.

    identities maps the names of further client identities (a second device, an aggregator, the COMM-003/004
    certificates) to their files; `client` is always identity.
    """

    role: str
    name: str = "device under test"
    base_url: str | None = None
    http_url: str | None = None
    dcap: str = "/dcap"
    capabilities: frozenset[str] = frozenset()
    identity: Identity = field(default_factory=Identity)
    tls_verify: str = "full"  # full, chain or none (harness.sep.tls.verify_mode)
    allowed_origins: tuple[str, ...] = ()  # besides base_url and http_url (harness.transport.http.origin)
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    max_body: int = 1_048_576
    time_scale_supported: bool = False  # the DUT runs its clock faster when asked (--time-scale), as the reference does
    actions: dict[str, ActionMapping] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    plugins: tuple[str, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    identities: dict[str, Identity] = field(default_factory=dict)
    file: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def verify_tls(self) -> bool:
        """Whether the DUT's certificate is verified at all (tls_verify is full or chain)."""
        return self.tls_verify != "none"
