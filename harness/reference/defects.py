"""Named defects of the reference server: each one switches on a single, documented misbehaviour."""

from __future__ import annotations

from collections.abc import Iterable

DEFECTS: dict[str, str] = {
    "wrong-content-type": "resource bodies are sent as text/xml instead of application/sep+xml",
    "list-ignores-limit": "lists ignore l= and return every item from the start index",
    "list-ignores-start": "lists ignore s= and always start at the first item",
    "list-last-param-wins": "a repeated query parameter is governed by its last occurrence, not the first",
    "list-ignores-after": "time-ordered lists ignore a= (after)",
    "list-wrong-all": "the all attribute of lists is one more than the number of items",
    "list-wrong-results": "the results attribute of lists is one more than the number of items returned",
    "edev-list-wrong-order": "the EndDeviceList is ordered by changedTime ascending instead of descending",
    "dcap-missing-poll-rate": "DeviceCapability is served without its pollRate attribute",
    "dcap-missing-time-link": "DeviceCapability is served without its TimeLink",
    "post-returns-200": "a POST that creates a resource answers 200 instead of 201",
    "post-missing-location": "a POST that creates a resource answers 201 without a Location header",
    "time-off-by-hour": "Time currentTime (and localTime) is one hour ahead of the real time",
    "time-wrong-quality": "Time quality stays 3 whatever quality the server is configured with",
    "unregistered-client-allowed": "an unregistered client certificate passes every access check: it is served the "
                                   "shared resources and every EndDevice with what is under it",
    "invalid-dercontrol": "DERControl is rendered schema-invalid: its mRID element is missing",
    "wrong-lfdi": "the pre-registered EndDevice's lFDI has its last hex digit changed",
    "wrong-sfdi": "the pre-registered EndDevice's sFDI has a wrong check digit",
    "wrong-pin": "the pre-registered EndDevice's Registration pIN is 111116 instead of the registered PIN",
    "no-redirect": "plain-HTTP requests (GET /dcap included) are answered 404 instead of 301 to HTTPS",
    "redirect-to-http": "the plain-HTTP 301 redirect's Location uses the http scheme instead of https",
    "disallowed-method-accepted": "PUT, POST and DELETE on /dcap and /tm are answered 200",
    "missing-allow-header": "405 Method Not Allowed is sent without an Allow header",
    "unknown-method-400": "an unknown method token (e.g. FOO) is answered 400 instead of 501",
    "bad-host-accepted": "a malformed Host header is ignored and the request answered normally",
    "not-found-200": "unknown paths are answered 200 with an empty DeviceCapability instead of 404",
    "fsa-broken-link": "the FunctionSetAssignments' DERProgramListLink points at a path that answers 404",
    "no-date-header": "responses of the 2030.5 listeners carry no HTTP Date header",
    "body-not-validated": "PUT and POST bodies are checked for their root element only; anything inside is stored",
    "edev-not-scoped": "every registered client sees and changes every EndDevice and everything under it",
    "mup-not-scoped": "every registered client sees and changes every MirrorUsagePoint and UsagePoint",
    "edev-duplicate-lfdi": "POSTing an EndDevice whose lFDI is registered creates a second EndDevice",
    "mup-duplicate-mrid": "POSTing a MirrorUsagePoint whose mRID exists creates a second mirror",
    "mup-get-includes-readings": "GET of a MirrorUsagePoint serves it as posted, MirrorMeterReadings included",
    "mup-readings-refused": "a MirrorUsagePoint refuses POSTed MirrorMeterReadings with 405",
    "upt-empty": "the UsagePointList stays empty: mirrored readings never reach /upt",
    "event-status-always-scheduled": "DERControl EventStatus stays 0 Scheduled, dated at creation, whatever the clock",
    "ended-event-listed": "a DERControl whose interval has ended stays in the DERControlList",
    "dercontrol-list-wrong-order": "DERControlList start-time ties go by creationTime ascending, not descending",
    "der-put-not-stored": "PUTs of DERCapability, DERSettings, DERStatus and DERAvailability are answered 204 "
                          "and dropped: a GET serves the server's own values",
    "der-put-returns-200": "PUTs of DERCapability, DERSettings, DERStatus and DERAvailability are answered 200 "
                           "instead of 204",
    "logevent-list-oldest-first": "the LogEventList is ordered by createdDateTime ascending, oldest first",
    "fsa-derp-list-wrong-order": "a group FunctionSetAssignments' DERProgramList is ordered by primacy descending",
    "group-primacy-inverted": "a group FunctionSetAssignments' DERProgramList serves each program with primacy "
                              "14 - p: the service point's program the least important",
    "fsa-missing-time-link": "the FunctionSetAssignments of a group topology carry no TimeLink",
    "no-ccm8-suite": "the TLS server does not offer TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, only AES-GCM suites",
    "client-chain-length-two-only": "client chains longer than SERCA -> device (with a MICA, or MCA and MICA) are "
                                    "refused",
    "client-cert-not-requested": "the TLS server sends no CertificateRequest: clients are not authenticated",
    "client-cert-profile-unchecked": "client chains are checked by the TLS library only, not against the 2030.5 "
                                     "certificate profile (policy mappings, name constraints, unlisted critical "
                                     "extensions, non-P-256 keys are accepted)",
    "client-trust-too-wide": "the server trusts every self-signed certificate beside its CA file, not only the "
                             "SERCA: self-signed device certificates and foreign CAs are accepted",
    "dercontrol-list-latest-first": "the DERControlList is ordered by interval start descending (latest event first)",
    "dderc-ignores-setting": "the DefaultDERControl keeps its built-in controls whatever create-defaultdercontrol set",
    "overlap-superseded": "an active DERControl is shown 4 Superseded while a higher-priority program's event runs, "
                          "even one on independent controls",
    "response-rejected": "a Response POSTed to a DERControl's replyTo is answered 400 with an Error, nothing stored",
    "randomization-dropped": "DERControls are served without the randomizeStart and randomizeDuration they were "
                             "scheduled with",
    "subscription-no-location": "a Subscription POST answers 201 Created without a Location header",
    "notification-not-sent": "a change to a subscribed resource is never notified: no Notification is POSTed",
    "notification-wrong-resource": "a Notification carries the subscriber's EndDevice instead of the subscribed "
                                   "resource",
    "notification-ignores-limit": "a Notification on a list carries every item, whatever the Subscription's limit",
    "fsa-list-not-subscribable": "the FunctionSetAssignmentsList is served without subscribable (0: no subscriptions)",
    "edev-not-subscribable": "an EndDevice is served with subscribable 0 (no subscriptions)",
    "subscriptions-lost-on-reset": "power-reset forgets every Subscription",
    "cancellation-status-0": "cancel-subscription's Notification carries status 0 instead of 1 (cancelled)",
    "notification-sent-twice": "every change to a subscribed resource is notified twice",
    "subscription-kept-after-400": "a Subscription whose Notification the subscriber answered 400 is kept",
    "deleted-enddevice-not-notified": "deleting an EndDevice sends no status 4 Notification to its subscriptions",
    "edev-delete-refused": "DELETE of an EndDevice is answered 405 Method Not Allowed",
    "aggregator-sees-own-only": "an aggregator's EndDeviceList holds only its own EndDevice, not those it manages",
    "topology-branch-crossed": "an aggregator's EndDevices also get the FunctionSetAssignments of the other "
                               "transformer's branch, so EDB1/EDB2 reach the TFA program",
    "curve-points-reordered": "a DERCurve serves its CurveData points in the reverse of the order they were given",
    "curve-wrong-type": "a DERCurve is served with curveType one more than the type it was created with",
    "curve-multipliers-dropped": "a DERCurve is served with xMultiplier and yMultiplier 0, whatever they were set to",
    "curve-settings-dropped": "a DERCurve is served without its optional settings (openLoopTms, autonomousVRefEnable, "
                              "ramp times, vRef)",
    "dderc-drops-settings": "a DefaultDERControl is served without the settings beside its DERControlBase "
                            "(setGradW, setSoftGradW, setES*)",
    "cancelled-event-stays-scheduled": "a DERControl the server cancelled keeps the status it had (0 Scheduled) "
                                       "instead of 2 Cancelled",
    "topology-change-ignored": "replace-feeder is answered 200 but the EndDevice keeps its FunctionSetAssignments",
    "dercontrol-drops-mode": "a DERControl is served without the last mode element of its DERControlBase",
    "event-status-date-stale": "a DERControl's EventStatus.dateTime stays its creationTime whatever its currentStatus",
    # Deep in the tree, where only a crawl (CORE-001/CORE-002 step 9/8: every resource) goes.
    "curve-list-head-500": "HEAD of a DERCurveList (/derp/{id}/dc) answers 500 Internal Server Error; its GET is right",
    "edev-subtree-405-no-allow": "405 answers at and below an EndDevice (/edev/{id}...) carry no Allow header",
    "logevent-delete-refused": "DELETE of a LogEvent (mandatory in the 2030.5 WADL) is answered 405 Method Not Allowed",
    # The NATS front end (harness.reference.nats_front); the tunnel ones behave as InterSTORE's cloud side does.
    "tunnel-success-200": "behind the NATS tunnel every success is answered 200 OK: a 201's Location is dropped, a 204 "
                          "becomes 200 with Content-Length: 0",
    "tunnel-errors-500": "behind the NATS tunnel every 4xx and 5xx answer becomes a bare 500 Internal Server Error",
    "tunnel-drops-body": "behind the NATS tunnel request bodies are lost: POST and PUT reach the server empty",
    "nats-silent": "the NATS front end receives requests and never answers",
    "nats-wrong-subject": "the NATS front end answers on a subject the client does not listen on",
    "nats-malformed-reply": "the NATS front end's answers are malformed: no Sep-Status header (native), no status "
                            "line (tunnel)",
    "nats-flood": "the NATS front end answers each request 20 times",
    "jetstream-drops-backlog": "with --nats-jetstream, requests stored while the server was away are never answered",
    "notifications-not-stored": "Notifications to a nats:// notificationURI go out as plain NATS requests, without "
                                "the JetStream stream SEP_NOTIFICATIONS: one sent while the subscriber is offline "
                                "is lost",
    # The xmDNS/DNS-SD responder (--xmdns, harness.reference.xmdns; COMM-001).
    "xmdns-dcap-no-slash": "the xmDNS TXT record's dcap key has no leading '/' (dcap=dcap)",
    "xmdns-no-https-key": "the xmDNS TXT record has no https key although the server offers only HTTPS",
    "xmdns-qu-ignored": "the xmDNS responder answers a query with the QU bit by multicast, not unicast to the querier",
    # Conforming variations: what 2030.5 allows and no case may fail (the proofs show each case passes).
    "enddevice-lfdi-omitted": "EndDevices are served without their lFDI (optional in IEEE 2030.5-2018; sFDI stays)",
    "power-factor-rescaled": "DERControl power factors are served as another displacement x 10^multiplier of the "
                             "same quantity (900 x 10^-3 as 90 x 10^-2; harness.reference.quantities)",
}


class UnknownDefectError(ValueError):
    """A defect name that is not in DEFECTS."""


def validate_defects(names: Iterable[str]) -> frozenset[str]:
    """Return names as a set, or raise UnknownDefectError listing the known defects."""
    chosen = frozenset(names)
    unknown = sorted(chosen - DEFECTS.keys())
    if unknown:
        known = ", ".join(sorted(DEFECTS))
        raise UnknownDefectError(f"unknown defect(s) {', '.join(unknown)}; known defects: {known}")
    return chosen


class Defects:
    """The defects switched on for one server; ask with `name in defects`."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names = validate_defects(names)

    def __contains__(self, name: object) -> bool:
        # Asking about a name that does not exist is a bug in the server, not a quiet False.
        if name not in DEFECTS:
            raise UnknownDefectError(f"no defect named {name!r}")
        return name in self.names

    def __repr__(self) -> str:
        return f"Defects({sorted(self.names)!r})"
