"""Notifications from a server DUT: the run's listener, how it answers, and the `await` step that judges one.

IEEE 2030.5-2018 Subscription/Notification: the harness, as a subscribing client, gives the DUT a notificationURI
on its own HTTPS listener (harness.server.listener, mutual TLS). Each case has its own paths under the listener,
`${listener.url}` = https://HOST:PORT/ntfy/<case id>, so a late Notification of one case never satisfies a step of
another. A case names each path it uses under `listener:` with the resource the subscription is for; the listener
answers a Notification as a conforming client does: 201 Created (CSIP errata 44: the WADL's answer) when it is a
valid Notification for that resource, 400 Bad Request when it is not (ERR-002), or the case's own `respond:`.

An `await` step waits for the next Notification on one path, up to `within` seconds of the DUT's clock (scaled by
--time-scale for a DUT that runs faster), and judges it like a response: content type, schema, resource, saves.
One that never comes fails the step naming the subscription and how long it waited; when the DUT itself reported
that it could not deliver to the listener (an action's outcome naming the listener's address), or the listener
could not start, the case is an error: the DUT cannot be blamed for a listener it cannot reach.
"""

from __future__ import annotations

import dataclasses
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from lxml import etree

from harness.cases.model import AwaitSpec, ExpectSpec, ListenerPath, Step
from harness.cases.paths import PathError, lookup
from harness.cases.variables import VariableError, substitute
from harness.engine.checks import advisories, check_response, describe_problems, failing_problems, finding_record
from harness.results import ERROR, FAILED, PASSED, ExchangeRecord, StepRecord, body_evidence
from harness.sep import NS
from harness.sep.findings import WARNING, Finding
from harness.sep.identity import fingerprint, lfdi, sfdi
from harness.sep.safexml import XMLRejected, local_name, parse_xml
from harness.sep.schema import FAILURE
from harness.server.http import HttpRequest
from harness.server.listener import NotificationListener, Received
from harness.transport.base import Response
from harness.transport.nats_wire import NOTIFY_STREAM

if TYPE_CHECKING:
    from harness.engine.context import RunContext

PATH_PREFIX = "/ntfy"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
# Words with which a DUT's action outcome reports a Notification it could not deliver (see module docstring).
DELIVERY_FAILURE_WORDS = ("undelivered", "not delivered", "delivery failed", "unreachable", "could not deliver")


@dataclass(frozen=True)
class ListenerSettings:
    """Where the listener binds, the address the DUT is given, and its TLS files.

    host/port: the bind address (port 0: any free port). url: the base URL given to the DUT (for a DUT on another
    host: an address it can reach, e.g. https://10.0.0.7:8444); None: https://host:port. cert/key: the listener's
    TLS server certificate and key (PEM); ca: the CA that issued the DUT's certificate, which the listener asks for
    and verifies (mutual TLS, IEEE 2030.5 §6.11). where names the options that set them, for messages.
    """

    host: str = "127.0.0.1"
    port: int = 0
    url: str | None = None
    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None
    where: str = "the listener options"


def listener_context(settings: ListenerSettings) -> ssl.SSLContext:
    """The TLS 1.2 server context of the listener: its certificate, and the DUT's certificate required.

    Raises ValueError naming the options when the certificate or key is missing, OSError/ssl.SSLError when the
    files cannot be loaded.
    """
    from harness.sep.tls import server_context

    if not settings.cert or not settings.key:
        raise ValueError(f"expected a certificate and key for the notification listener ({settings.where}), "
                         "saw none")
    return server_context(settings.cert, settings.key, settings.ca, require_client_cert=True)


@dataclass
class CaseListener:
    """The listener's state for the running case: its id, the paths it declared, what each await consumed."""

    case_id: str
    paths: dict[str, ListenerPath] = field(default_factory=dict)
    consumed: dict[str, int] = field(default_factory=dict)  # path -> seq of the last Notification judged
    start_seq: int = 0
    went_offline: bool = False  # a `listener: offline` step of the case took the NATS listener away


class ListenerHandle:
    """The run's notification listener, started on first use, with the running case's paths.

    problem holds why it could not start (then every case that needs it is an error, with that reason).
    """

    def __init__(self, settings: ListenerSettings, schema: Any, *, nats_url: str | None = None,
                 nats_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self.schema = schema
        # Over NATS (nats_url: the DUT's NATS server) the listener is harness.server.nats_listener's.
        self.nats_url = nats_url
        self.nats_context = nats_context
        self.listener: Any = None  # NotificationListener, or NatsNotificationListener over NATS
        self.problem: str | None = None
        self.case: CaseListener | None = None

    async def ensure_started(self) -> str | None:
        """Start the listener once; None when it listens, else why it cannot (kept for later cases). A NATS
        listener an earlier case left offline comes back here."""
        if self.listener is not None and self.listener.started:
            if self.over_nats and not self.listener.online:
                await self.listener.set_online(True)
            return None
        if self.problem is not None:
            return self.problem
        if self.nats_url:
            return await self._start_nats()
        try:
            context = listener_context(self.settings)
            listener = NotificationListener(context, self.settings.host, self.settings.port, self.settings.url,
                                            self._answer)
            await listener.start()
        except (OSError, ssl.SSLError, ValueError) as exc:
            self.problem = (f"the notification listener could not start on {self.settings.host}:"
                            f"{self.settings.port} ({self.settings.where}): {type(exc).__name__}: {exc}")
            return self.problem
        self.listener = listener
        return None

    async def _start_nats(self) -> str | None:
        import nats.errors

        from harness.server.nats_listener import NatsNotificationListener

        assert self.nats_url is not None
        listener = NatsNotificationListener(self.nats_url, self.nats_context, self._answer)
        try:
            await listener.start()
        except (OSError, ssl.SSLError, TimeoutError, nats.errors.Error) as exc:
            self.problem = (f"the notification listener could not subscribe on the NATS server {self.nats_url}: "
                            f"{type(exc).__name__}: {exc}")
            return self.problem
        self.listener = listener
        return None

    @property
    def over_nats(self) -> bool:
        """Whether Notifications reach this listener over NATS (docs/nats-mapping.md)."""
        return bool(self.nats_url)

    def subject_of(self, name: str) -> str | None:
        """Over NATS, the subject a Notification for name travels on; None over HTTPS."""
        if not self.over_nats or self.listener is None:
            return None
        return str(self.listener.subject_of(self.path_of(name)))

    async def set_online(self, online: bool) -> None:
        """Take the NATS listener offline or bring it back (a `listener:` step); the case remembers an absence."""
        assert self.listener is not None and self.case is not None
        if not online:
            self.case.went_offline = True
        await self.listener.set_online(online)

    def begin_case(self, case_id: str, paths: dict[str, ListenerPath]) -> dict[str, Any]:
        """Make the listener's paths the case's; the `${listener.*}` variables: url (the case's base URL)."""
        assert self.listener is not None, "ensure_started() first"
        self.case = CaseListener(case_id, dict(paths), start_seq=len(self.listener.received))
        return {"url": f"{self.listener.url}{self.case_prefix()}", "base": self.listener.url}

    def case_prefix(self) -> str:
        """The path under which the running case's notificationURIs live: /ntfy/<case id>."""
        assert self.case is not None
        return f"{PATH_PREFIX}/{quote(self.case.case_id, safe='')}"

    def path_of(self, name: str) -> str:
        """The listener path of a name the case uses (`fsa` -> /ntfy/CORE-018/fsa)."""
        return f"{self.case_prefix()}/{name.strip('/')}"

    def url_of(self, name: str) -> str:
        """The URL the DUT POSTs to for name."""
        assert self.listener is not None
        return f"{self.listener.url}{self.path_of(name)}"

    def end_case(self) -> list[Received]:
        """Forget the case's paths; what arrived for it and no step judged (for the case's evidence)."""
        case, self.case = self.case, None
        if case is None or self.listener is None:
            return []
        judged = set(case.consumed.values())
        return [r for r in self.listener.received[case.start_seq:] if r.seq not in judged]

    async def aclose(self) -> None:
        """Stop the listener."""
        if self.listener is not None:
            await self.listener.close()

    # --- the answer --------------------------------------------------------------------------------

    def _answer(self, request: HttpRequest) -> tuple[int, str]:
        if request.method != "POST":
            return 405, f"a notificationURI takes POST, saw {request.method}"
        case = self.case
        if case is None or not request.path.startswith(self.case_prefix() + "/"):
            return 404, "no running case subscribed with this notificationURI"
        name = request.path[len(self.case_prefix()) + 1:]
        rule = case.paths.get(name, ListenerPath(name))
        problem = self.notification_problem(request.body, rule.resource)
        if problem:
            return 400, problem
        return rule.respond, "a valid Notification" + (f" for a {rule.resource}" if rule.resource else "")

    def notification_problem(self, body: bytes, resource: str | None) -> str | None:
        """Why body is not a Notification a client subscribed for resource accepts, or None.

        It must parse safely, be a schema-valid Notification, and (status 0 with a Resource) carry the resource
        type the subscription is for: a client answers anything else with 400 (CSIP ERR-002 steps 7-8).
        """
        try:
            root = parse_xml(body)
        except XMLRejected as exc:
            return f"not acceptable XML: {exc}"
        if etree.QName(root).namespace != NS or local_name(root) != "Notification":
            return f"expected a 2030.5 Notification, saw {root.tag}"
        failures = [f for f in self.schema.validate(root, expected_root="Notification") if f.severity == FAILURE]
        if failures:
            return "not a valid Notification: " + "; ".join(f"{f.path}: {f.message}" for f in failures[:3])
        if resource is None:
            return None
        carried = root.find(f"{{{NS}}}Resource")
        if carried is None:
            return None
        kind = (carried.get(XSI_TYPE) or "").rpartition(":")[2]
        if kind != resource:
            return f"expected a Notification carrying a {resource} (the subscribed resource), saw {kind or 'no type'}"
        return None


# --- the await step ------------------------------------------------------------------------------------


def _text(value: Any, variables: dict[str, Any]) -> Any:
    try:
        return substitute(value, variables)
    except VariableError as exc:
        raise _Problem(ERROR if exc.unknown else FAILED, str(exc)) from None


class _Problem(Exception):
    def __init__(self, verdict: str, message: str) -> None:
        super().__init__(message)
        self.verdict = verdict


def notification_record(entry: Received, url: str) -> ExchangeRecord:
    """A received Notification as evidence: the DUT's POST (its headers and body) and the status we answered."""
    tls: dict[str, Any] | None = None
    if entry.tls_version:
        tls = {"version": entry.tls_version, "cipher": entry.cipher, "outcome": "established",
               "direction": "DUT to the harness's notification listener"}
        if entry.peer_cert_der:
            tls["client_identity"] = {"lfdi": lfdi(entry.peer_cert_der), "sfdi": sfdi(entry.peer_cert_der),
                                      "certificate_sha256": fingerprint(entry.peer_cert_der)}
    return ExchangeRecord(
        method=entry.method, url=url, request_headers=list(entry.headers), request_body=body_evidence(entry.body),
        started=entry.received, elapsed_s=0.0, status=entry.status, response_headers=[],
        response_body=None, tls=tls, transport="notification", http_version="HTTP/1.1",
    )


def _delivery_failure(ctx: RunContext, handle: ListenerHandle, url: str) -> str | None:
    """The outcome of an action of this case in which the DUT reported it could not deliver to the listener."""
    assert handle.listener is not None
    # The case's own addresses only: another case's stale subscription failing says nothing about this one.
    base = handle.listener.url + handle.case_prefix()
    for action in ctx.case_actions:
        detail = action.detail or ""
        lowered = detail.lower()
        if (url in detail or base in detail) and any(word in lowered for word in DELIVERY_FAILURE_WORDS):
            return f"action {action.name!r} reported: {detail}"
    return None


async def await_step(step: Step, ctx: RunContext, variables: dict[str, Any], record: StepRecord) -> StepRecord:
    """Wait for the next Notification on the step's path and judge it (see the module docstring).

    Never raises for what the DUT does: the record says passed, failed (none came, or it does not match) or error
    (no listener, or the DUT reported it cannot reach the listener).
    """
    try:
        return await _await(step, ctx, variables, record)
    except _Problem as exc:
        record.verdict = exc.verdict
        record.message = f"step {step.index} {step.name!r}: {exc}"
        return record


async def _await(step: Step, ctx: RunContext, variables: dict[str, Any], record: StepRecord) -> StepRecord:
    spec = step.await_
    assert spec is not None
    handle = ctx.listener
    if handle is None or handle.listener is None or handle.case is None:
        why = handle.problem if handle is not None and handle.problem else "the run has no notification listener"
        raise _Problem(ERROR, why)
    name = str(_text(spec.notification, variables))
    subscription = _text(spec.subscription, variables) if spec.subscription else None
    if isinstance(subscription, list):  # the Locations of a for_each's Subscriptions
        subscription = ", ".join(str(item) for item in subscription)
    path, url = handle.path_of(name), handle.url_of(name)
    scale = ctx.clock.scale
    limit = spec.within * scale
    subject = handle.subject_of(name)
    what = f"a Notification at {url}" + (f" (subscription {subscription})" if subscription else "") + (
        f" on the NATS subject {subject}" if subject else "")
    record.expected = {"notification": url, "subscription": subscription, "within_s": spec.within,
                       "none": spec.none, **({"should": True} if spec.advisory else {}),
                       **({"subject": subject} if subject else {})}
    seq = handle.case.consumed.get(path, handle.case.start_seq)
    where = f"{handle.case.case_id} step {step.index}"
    shown_scale = "" if scale == 1 else f", time scale {scale:g}"

    def tick(left: float) -> None:
        if not spec.none:
            ctx.progress(f"{where}: waiting for {what} ({left / scale:.0f} s left on the DUT's clock{shown_scale})")

    clock = time.perf_counter()
    entry = await handle.listener.wait_for(path, seq, limit, tick)
    waited = time.perf_counter() - clock
    record.duration_s = round(waited, 6)
    took = f"{spec.within:g} s on the DUT's clock" + ("" if scale == 1 else f" ({limit:.2f} s at time scale "
                                                                           f"{scale:g})")
    if entry is None:
        record.observed = {"received": None, "waited_s": round(waited, 3)}
        if spec.none:
            return record
        # A listener the case took offline on purpose is no excuse over NATS: the DUT was to keep the Notification.
        failure = None if subject and handle.case.went_offline else _delivery_failure(ctx, handle, url)
        if failure:
            raise _Problem(ERROR, f"no Notification reached the listener at {url} within {took}, and the DUT reported "
                                  f"it could not deliver: the listener is not reachable from the DUT ({failure}); "
                                  f"give the listener an address the DUT can reach ({handle.settings.where})")
        lost = ""
        if subject and handle.case.went_offline:
            lost = ("; the listener was offline for part of the case, and " + (
                "the DUT's JetStream stream did not deliver what it stored meanwhile" if handle.listener.stored else
                f"the DUT keeps no JetStream stream of Notifications ({NOTIFY_STREAM}), so what it published "
                "meanwhile was lost"))
        if spec.advisory:
            record.saved = {name: None for name in step.save}  # later steps see nothing saved, never a stale value
            return _advise(record, f"expected {what} within {took}, saw none (waited {waited:.2f} s){lost}",
                           "notification")
        raise _Problem(FAILED, f"expected {what} within {took}, saw none (waited {waited:.2f} s){lost}")
    handle.case.consumed[path] = entry.seq
    record.exchanges.append(notification_record(entry, url))
    if spec.none:
        extra = (f"expected no further Notification at {url}" +
                 (f" (subscription {subscription})" if subscription else "") +
                 f" within {took}, saw one after {waited:.2f} s (answered {entry.status})")
        if spec.advisory:
            record.observed = {"answered": entry.status, "waited_s": round(waited, 3)}
            return _advise(record, extra, "notification")
        raise _Problem(FAILED, extra)
    _judge(step, ctx, variables, record, entry)
    record.observed["waited_s"] = round(waited, 3)  # time waiting on the DUT, in the run's time split
    return record


def _advise(record: StepRecord, text: str, path: str) -> StepRecord:
    """What an await step under `should: true` saw instead of failing: a warning finding; the step passes."""
    record.findings.append(finding_record(Finding(message=f"should: {text} (asked by 'should', not required by the "
                                                          f"procedure)", line=None, path=path, kind="match",
                                                  severity=WARNING)))
    record.verdict = PASSED
    return record


def _judge(step: Step, ctx: RunContext, variables: dict[str, Any], record: StepRecord, entry: Received) -> StepRecord:

    expect: ExpectSpec = dataclasses.replace(step.expect, **_text(
        {"headers": step.expect.headers, "resource": step.expect.resource, "schema": step.expect.schema}, variables))
    response = Response(status=entry.status, headers=list(entry.headers), body=entry.body)
    check = check_response(expect, response, ctx.schema, needs_view=True, max_body=ctx.profile.max_body)
    record.findings = [finding_record(f) for f in check.findings]
    record.observed = {"answered": entry.status, "answer_reason": entry.reason,
                       "content_type": entry.header("content-type"), "resource": check.view}
    record.mismatches = [{"path": m.path, "expected": m.expected, "seen": m.seen} for m in check.mismatches]
    if step.should is not None:
        should = dataclasses.replace(step.should, **_text({"resource": step.should.resource}, variables))
        record.findings.extend(finding_record(f) for f in advisories(should, response, check.view))
    problems: list[Any] = list(failing_problems(check))
    advisory = step.await_ is not None and step.await_.advisory
    for name, raw_path in step.save.items():
        optional = raw_path.endswith("?") or advisory
        saved_path = str(_text(raw_path.removesuffix("?"), variables))
        try:
            record.saved[name] = lookup(check.view, saved_path)
        except PathError as exc:
            if optional:
                record.saved[name] = None
            else:
                problems.append(f"save {name}: expected a value at {saved_path}, saw {exc}")
    if problems and advisory:
        # Under `should: true` what would fail the step is told as warnings: the step passes.
        text = describe_problems(step, problems).removeprefix(f"step {step.index} {step.name!r}: ")
        record.mismatches = []
        return _advise(record, text, "notification")
    if problems:
        record.verdict = FAILED
        record.message = describe_problems(step, problems)
    else:
        record.verdict = PASSED
    return record


async def listener_step(step: Step, ctx: RunContext, record: StepRecord) -> StepRecord:
    """A `listener: offline|online` step: take the NATS listener away or bring it back (CUPID's promise that
    Notifications published meanwhile are delivered on return, with JetStream). Judges nothing itself."""
    handle = ctx.listener
    if handle is None or handle.listener is None or handle.case is None:
        why = handle.problem if handle is not None and handle.problem else "the run has no notification listener"
        record.verdict, record.message = ERROR, f"step {step.index} {step.name!r}: {why}"
        return record
    online = step.listener_state == "online"
    await handle.set_online(online)
    record.verdict = PASSED
    record.observed = {"listener": "online" if online else "offline", "stored_by_dut": handle.listener.stored}
    return record


def unjudged_records(entries: list[Received], handle: ListenerHandle) -> list[ExchangeRecord]:
    """Evidence of Notifications that reached the case's paths and no step judged."""
    assert handle.listener is not None
    return [notification_record(e, f"{handle.listener.url}{e.target}") for e in entries]


__all__ = ["AwaitSpec", "ListenerHandle", "ListenerSettings", "await_step", "listener_context", "listener_step"]
