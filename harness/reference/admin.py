"""The reference server's admin interface: JSON over HTTP on loopback, behind a bearer token.

It is how the DUT-side actions of test cases reach the reference server, the way a vendor's own
head-end would be driven through its admin API. Every operation is an "ensure": repeating it changes
nothing more.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

from harness.actions.builtin import ADMIN_REQUESTS
from harness.actions.registry import params_problems, registry
from harness.reference import aggregation, clock, curves, maintenance_admin, subscription_admin, topology
from harness.reference.controls import control_base, event_status
from harness.reference.defects import Defects
from harness.reference.render import Renderer
from harness.reference.tree import DEFAULT_PIN, DerControl, DerProgram, Tree, make_mrid
from harness.sep.schema import FAILURE, SchemaSet
from harness.server.http import HttpRequest, HttpResponse

# Function sets whose resources the reference server serves from DeviceCapability.
FUNCTION_SETS = ("Time", "EndDevice", "FunctionSetAssignments", "DERProgram", "DER", "MirrorUsagePoint",
                 "Response", "LogEvent", "Subscription", "DeviceInformation", "PowerStatus")


class AdminError(Exception):
    """A request the admin interface refuses: status and reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _json(status: int, content: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(content).encode())


class AdminApp:
    """Handles admin requests against the same tree the 2030.5 listener serves."""

    def __init__(self, tree: Tree, token: str, defects: Defects | None = None) -> None:
        self.tree = tree
        self.token = token
        # Set by the server process: Notifications (harness.reference.notify) and the 2030.5 listener
        # (power-reset closes its connections).
        self.notifier: Any = None
        self.https: Any = None
        # The defects of the server's own behaviour that an admin action carries out (topology-change-ignored).
        self.defects = defects if defects is not None else Defects()
        handlers: dict[str, Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]] = {
            "populate-resources": self.populate,
            "preregister-enddevice": self.preregister,
            "create-enddevices": self.ensure_end_devices,
            "set-pin": self.set_pin,
            "configure-time": self.configure_time,
            "create-derprograms": self.ensure_programs,
            "create-dercontrol": self.ensure_control,
            "build-topology": self.build_topology,
            "create-fsa": self.assign_fsas,
            "create-defaultdercontrol": self.set_default_control,
            "change-fsa": lambda p: subscription_admin.change_fsa(self, p),
            "cancel-subscription": lambda p: subscription_admin.cancel_subscription(self, p),
            "send-invalid-notification": lambda p: subscription_admin.send_invalid_notification(self, p),
            "power-reset": lambda p: subscription_admin.power_reset(self, p),
            "delete-enddevice": lambda p: maintenance_admin.delete_end_device(self, p),
            "set-primacy": lambda p: maintenance_admin.set_primacy(self, p),
            "create-aggregator-enddevices": self.manage_end_devices,
            "create-dercurve": self.ensure_curve,
            "create-dercontrols": self.ensure_controls,
            "cancel-dercontrols": self.cancel_controls,
            "replace-feeder": self.replace_feeder,
        }
        self.routes = {ADMIN_REQUESTS[name]: (name, handler) for name, handler in handlers.items()}

    async def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one admin request; after a change, the Notifications it caused are delivered and reported."""
        try:
            response = self.dispatch(request)
        except AdminError as exc:
            return _json(exc.status, {"error": str(exc)})
        if self.notifier is not None and request.method != "GET" and response.status < 300:
            self.notifier.changed()
            deliveries = await self.notifier.drain()
            if deliveries:
                response = subscription_admin.with_deliveries(response, deliveries)
        return response

    def dispatch(self, request: HttpRequest) -> HttpResponse:
        """Authenticate, route, check the parameters and apply the action."""
        offered = (request.header("Authorization") or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(offered.encode(), self.token.encode()):
            raise AdminError(401, "expected 'Authorization: Bearer <admin token>'")
        if request.path == "/admin/state" and request.method == "GET":
            return _json(200, self.state())
        paths = {path for _, path in self.routes}
        if request.path not in paths:
            raise AdminError(404, f"no admin resource {request.path}")
        route = self.routes.get((request.method, request.path))
        if route is None:
            allowed = ", ".join(m for m, p in self.routes if p == request.path)
            return HttpResponse(405, [("Allow", allowed)])
        name, handler = route
        try:
            params = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise AdminError(400, f"expected a JSON body: {exc}") from None
        if not isinstance(params, dict):
            raise AdminError(400, "expected a JSON object")
        problems = params_problems(name, params)
        if problems:
            raise AdminError(422, "; ".join(problems))
        status, content = handler(registry()[name].with_defaults(params))
        return _json(status, content)

    def state(self) -> dict[str, Any]:
        """What the tree holds, for people and tests looking at the server."""
        return {
            "end_devices": [{"href": f"/edev/{d.index}", "lfdi": d.lfdi, "sfdi": d.sfdi, "pin": d.pin,
                             "preregistered": d.preregistered} for d in self.tree.end_devices_ordered()],
            "programs": len(self.tree.programs),
            "time_quality": self.tree.time_quality,
            "tz_offset": self.tree.tz_offset,
        }

    def populate(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        wanted = params["function_sets"]
        if wanted != "all":
            unsupported = [name for name in wanted if name not in FUNCTION_SETS]
            if unsupported:
                raise AdminError(422, f"function sets not supported: {', '.join(unsupported)} "
                                      f"(supported: {', '.join(FUNCTION_SETS)})")
        if not self.tree.programs:
            self.tree.add_program(clock.now())
        return 200, {"function_sets": list(FUNCTION_SETS) if wanted == "all" else wanted}

    def preregister(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        device = self.tree.device_by_lfdi(params["lfdi"])
        pin = int(params.get("pin", DEFAULT_PIN))
        if device is not None:
            if device.sfdi != params["sfdi"]:
                raise AdminError(409, f"LFDI {params['lfdi']} is registered with SFDI {device.sfdi}, "
                                      f"not {params['sfdi']}")
            device.pin, device.preregistered = pin, True
            # Pre-registering again starts the device over from the default assignments (one FSA linking the
            # DERProgramList of DeviceCapability): a topology an earlier case built is not this case's setup.
            device.fsas, device.topology = [], None
            return 200, {"href": f"/edev/{device.index}", "created": False}
        if not self.tree.programs:
            self.tree.add_program(clock.now())
        # One second in the past: a list query with a= the current time must not include it.
        device = self.tree.add_end_device(params["sfdi"], params["lfdi"].upper(), clock.now() - 1, pin,
                                          preregistered=True)
        return 201, {"href": f"/edev/{device.index}", "created": True}

    def ensure_end_devices(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        created = 0
        while len(self.tree.end_devices) < params["count"]:
            self.tree.add_synthetic_end_device(clock.now())
            created += 1
        return 200, {"total": len(self.tree.end_devices), "created": created}

    def set_pin(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        device = self.tree.device_by_lfdi(params["lfdi"])
        if device is None:
            raise AdminError(404, f"no EndDevice with LFDI {params['lfdi']}")
        device.pin = params["pin"]
        return 200, {"href": f"/edev/{device.index}"}

    def configure_time(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.tree.time_quality = params["quality"]
        if "tz_offset" in params:
            self.tree.tz_offset = params["tz_offset"]
        return 200, {"quality": self.tree.time_quality, "tz_offset": self.tree.tz_offset}

    def ensure_programs(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        while len(self.tree.listed_programs()) < params["count"]:
            self.tree.add_program(clock.now())
        return 200, {"programs": len(self.tree.listed_programs())}

    def find_program(self, name: str) -> DerProgram:
        """The DERProgram named by its mRID (any case), its description, or its index (AdminError 404 if none)."""
        for program in self.tree.programs_ordered():
            if program.mrid == name.upper() or program.description == name:
                return program
        if name.isdigit() and int(name) in self.tree.programs:
            return self.tree.programs[int(name)]
        known = ", ".join(f"{p.index} ({p.description}, {p.mrid})" for p in self.tree.programs_ordered())
        raise AdminError(404, f"no DERProgram {name!r}; programs: {known or 'none'}")

    def ensure_control(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Schedule a DERControl: interval [start, start + duration), TimeType seconds, DERControlBase values.

        The same parameters name the same event (its mRID derives from them), so asking again changes nothing.
        The control is checked by building the DERControl as it will be served and validating it against the
        schema: a control the schema refuses is 422 naming what is wrong.
        """
        program = self.find_program(str(params["program"]))
        identity = {key: value for key, value in params.items() if key != "program"}
        mrid = make_mrid("derc", program.index, json.dumps(identity, sort_keys=True))
        for existing in program.controls:
            if existing.mrid == mrid:
                return 200, self._control_answer(program, existing, created=False)
        index = max((c.index for c in program.controls), default=0) + 1
        control = DerControl(
            index=index, mrid=mrid, description=f"event {index}", creation_time=clock.now(), start=params["start"],
            duration=params["duration"], base=control_base(params["control"]),
            response_required=params["response_required"].upper(), randomize_start=params.get("randomize_start"),
            randomize_duration=params.get("randomize_duration"),
        )
        served = Renderer(self.tree, Defects()).der_control(program, control, clock.now())
        problems = [f for f in SchemaSet.bundled().validate(served, expected_root="DERControl")
                    if f.severity == FAILURE]
        if problems:
            raise AdminError(422, "; ".join(f"{f.path}: {f.message}" for f in problems))
        program.controls.append(control)
        return 201, self._control_answer(program, control, created=True)

    def ensure_controls(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Schedule count DERControls on a program, the n-th (from 0) starting at start + n * interval."""
        answers = []
        for n in range(params["count"]):
            one = {key: value for key, value in params.items() if key not in ("count", "interval")}
            one["start"] = params["start"] + n * params["interval"]
            answers.append(self.ensure_control(one)[1])
        created = any(answer["created"] for answer in answers)
        return (201 if created else 200), {"controls": [answer["href"] for answer in answers], "created": created}

    def cancel_controls(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Cancel every event of a program whose interval starts at or after `from` (TimeType) and has not ended.

        IEEE 2030.5-2018 EventStatus 2 Cancelled, dated now; an event already cancelled keeps its date.
        """
        program = self.find_program(str(params["program"]))
        now = clock.now()
        cancelled = []
        for control in program.controls:
            if control.start >= params["from"] and event_status(control, now) is not None:
                if control.cancelled is None:
                    control.cancelled = now
                cancelled.append(f"/derp/{program.index}/derc/{control.index}")
        return 200, {"cancelled": cancelled}

    def build_topology(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Build a CSIP figure's group programs and assign an EndDevice to one of its service points."""
        device = None
        if "lfdi" in params:
            device = self.tree.device_by_lfdi(params["lfdi"])
            if device is None:
                raise AdminError(404, f"no EndDevice with LFDI {params['lfdi']}")
        try:
            fsas = topology.build_topology(self.tree, params["topology"], device, params.get("service_point"))
        except topology.TopologyError as exc:
            raise AdminError(422, str(exc)) from None
        base = f"/edev/{device.index}/fsa" if device is not None else None
        return 200, {"fsa_list": base, "fsas": [f"{base}/{f.index}" for f in fsas]}

    def replace_feeder(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Move an EndDevice from one feeder of its topology to another (its FSAs below the feeder replaced)."""
        device = self.tree.device_by_lfdi(params["lfdi"])
        if device is None:
            raise AdminError(404, f"no EndDevice with LFDI {params['lfdi']}")
        if "topology-change-ignored" in self.defects:
            return 200, {"fsa_list": f"/edev/{device.index}/fsa", "fsas": [f"/edev/{device.index}/fsa/{f.index}"
                                                                           for f in device.fsas]}
        try:
            fsas = topology.replace_feeder(self.tree, device, params["remove"], params["add"])
        except topology.TopologyError as exc:
            raise AdminError(422, str(exc)) from None
        return 200, {"fsa_list": f"/edev/{device.index}/fsa", "fsas": [f"/edev/{device.index}/fsa/{f.index}"
                                                                       for f in fsas]}

    def assign_fsas(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Give an EndDevice count FunctionSetAssignments, each with a DERProgramList of its own."""
        device = self.tree.device_by_lfdi(params["lfdi"])
        if device is None:
            raise AdminError(404, f"no EndDevice with LFDI {params['lfdi']}")
        fsas = topology.assign_fsas(self.tree, device, params["count"])
        return 200, {"fsa_list": f"/edev/{device.index}/fsa", "count": len(fsas)}
    def manage_end_devices(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Register EndDevices for an aggregator and place each under a service point of a topology."""
        try:
            placed = aggregation.manage(self.tree, params["aggregator"], params["topology"], params["end_devices"],
                                        clock.now(), crossed="topology-branch-crossed" in self.defects)
        except aggregation.AggregationError as exc:
            raise AdminError(422, str(exc)) from None
        return 200, {"end_devices": [{"href": m.href, "lfdi": m.lfdi, "sfdi": m.sfdi,
                                      "service_point": m.service_point} for m in placed]}

    def set_default_control(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Set a program's DefaultDERControl to the given DERControlBase values (422 if the schema refuses it)."""
        program = self.find_program(str(params["program"]))
        previous = program.default_base, program.default_settings
        program.default_base = control_base(params["control"])
        program.default_settings = dict(params.get("settings", {}))
        served = Renderer(self.tree, Defects()).default_der_control(program)
        problems = [f for f in SchemaSet.bundled().validate(served, expected_root="DefaultDERControl")
                    if f.severity == FAILURE]
        if problems:
            program.default_base, program.default_settings = previous
            raise AdminError(422, "; ".join(f"{f.path}: {f.message}" for f in problems))
        return 200, {"href": f"/derp/{program.index}/dderc", "program": f"/derp/{program.index}"}

    def ensure_curve(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Create a DERCurve on a program (the same parameters name the same curve); 422 if the schema refuses it."""
        program = self.find_program(str(params["program"]))
        curve, created = curves.curve_from_params(program, params, clock.now())
        if created:
            served = curves.render_curve(program, curve, Defects())
            problems = [f for f in SchemaSet.bundled().validate(served, expected_root="DERCurve")
                        if f.severity == FAILURE]
            if problems:
                raise AdminError(422, "; ".join(f"{f.path}: {f.message}" for f in problems))
            program.curves.append(curve)
        href = f"/derp/{program.index}/dc/{curve.index}"
        return (201 if created else 200), {"href": href, "mrid": curve.mrid, "created": created}

    @staticmethod
    def _control_answer(program: DerProgram, control: DerControl, *, created: bool) -> dict[str, Any]:
        return {"href": f"/derp/{program.index}/derc/{control.index}", "mrid": control.mrid,
                "program": f"/derp/{program.index}", "created": created}
