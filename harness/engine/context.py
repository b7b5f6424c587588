"""What a run needs to execute cases: the DUT profile, its address, a transport, a schema, variables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lxml import etree

from harness.actions.runner import ActionRunner
from harness.cases.model import DutProfile
from harness.engine.clock import Clock
from harness.engine.identities import IdentityBook
from harness.results import ActionRecord
from harness.sep.codec import XML, Codec
from harness.sep.identity import certificate_der, lfdi, sfdi
from harness.transport.base import Transport


class Validator(Protocol):
    """The part of a SchemaSet the engine uses."""

    name: str
    sha256: str

    def validate(self, root: etree._Element, expected_root: str | None = None) -> list[Any]:
        """Findings about the document; empty when valid."""
        ...

    def list_shape(self) -> Any:
        """Which children the schema lets repeat (harness.sep.view.ListShape), for the resource view."""
        ...


def no_progress(message: str) -> None:
    """The default progress callback: nobody is watching."""


@dataclass
class RunContext:
    """Everything the step loop needs for one DUT; built once per run.

    progress receives one line of text whenever the run waits on something it cannot hurry (a DUT slow to
    answer: "CORE-005 step 2: waiting for the DUT: GET https://…/tm (4 s of 30 s)"), so that a hanging DUT is
    never silent; the pytest plugin writes it to the terminal.
    """

    profile: DutProfile
    base_url: str
    transport: Transport
    schema: Validator
    builtins: dict[str, Any] = field(default_factory=dict)
    actions: ActionRunner | None = None
    identities: IdentityBook | None = None  # the run's named client identities (None: plain HTTP, client only)
    # The run's clock: the DUT's, read from its Time, and ours, scaled by --time-scale (harness.engine.clock).
    clock: Clock = field(default_factory=Clock)
    # The run's lateness tolerance of waits in DUT seconds (--late; None: harness.engine.lateness.default_late).
    late: float | None = None
    # Told what a step waits for ("BASIC-017 step 6: waiting until ... (12 s left)"); the terminal shows it.
    progress: Callable[[str], None] = no_progress
    # The run's notification listener (harness.engine.notifications.ListenerHandle), started when a case needs it.
    listener: Any = None
    # The DUT-side actions of the running case so far: an `await` step reads them for a failed delivery.
    case_actions: list[ActionRecord] = field(default_factory=list)
    # How bodies are read and written (harness.sep.codec): 2030.5 XML unless a transport says otherwise.
    codec: Codec = XML
    # Client role: the test server the DUT talks to (harness.server.testserver.TestServer); None in the server role.
    test_server: Any = None

    def __post_init__(self) -> None:
        if self.actions is None:
            # Nobody said a person is present, so operator actions count only when pre-acknowledged.
            self.actions = ActionRunner(self.profile, {}, unattended=True)


def client_identity(cert_path: Any, pin: int | None) -> dict[str, Any]:
    """The `${client.*}` variables: LFDI, SFDI and PIN of the harness's client certificate.

    mrid_base is the LFDI's first 24 hex digits: a case appends 8 of its own to make an mRID (HexBinary128)
    that is this identity's, so resources a case creates on the DUT never collide with another client's.
    """
    if not cert_path:
        return {"lfdi": None, "sfdi": None, "pin": pin, "mrid_base": None}
    der = certificate_der(cert_path)
    value = lfdi(der)
    return {"lfdi": value, "sfdi": sfdi(der), "pin": pin, "mrid_base": value[:24]}


def builtin_variables(profile: DutProfile, base_url: str) -> dict[str, Any]:
    """The variables every case may use before any step saves one."""
    return {
        "dcap": profile.dcap,
        "dut": base_url.rstrip("/"),
        "http_url": (profile.http_url or "").rstrip("/"),
        "client": client_identity(profile.identity.cert, profile.identity.pin),
    }
