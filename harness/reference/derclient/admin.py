"""The DER client's local admin API: JSON over plain HTTP on loopback, for DUT-side actions and observations.

GET /status, GET /stats, POST /actions/<name> (trigger-logevent, power-cycle, change-setting, stop, start),
GET /observe/<name> (active-control, applied-settings, der-programs, identity,
last-alarm, clock); ?device=N or a JSON "device" picks
one device (index from 0, default 0 for observations).
The contract with the client-role runner is in the package README.
"""

from __future__ import annotations

import json
import resource
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from harness.reference.derclient.device import Device, Stats
from harness.server.http import HttpRequest, HttpResponse


class AdminError(Exception):
    """A request the admin API refuses: HTTP status and reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _json(status: int, content: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(content).encode())


def peak_rss_kib() -> int:
    """The process's peak resident set size, KiB (Linux ru_maxrss)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class DerClientAdmin:
    """Answers admin requests for the devices of one process."""

    def __init__(self, devices: list[Device], stats: Stats, on_stop: Callable[[], None] | None = None) -> None:
        self.devices = devices
        self.stats = stats
        self.on_stop = on_stop
        self.actions: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "trigger-logevent": self._trigger_logevent,
            "power-cycle": self._power_cycle,
            "change-setting": self._change_setting,
            "stop": self._stop,
            "start": self._start,
        }

    async def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one admin request."""
        try:
            return await self.dispatch(request)
        except AdminError as exc:
            return _json(exc.status, {"error": str(exc)})

    async def dispatch(self, request: HttpRequest) -> HttpResponse:
        """Route a request to its handler."""
        query = dict(request.query)
        if request.method == "GET" and request.path == "/status":
            return _json(200, {"devices": [d.status() for d in self.devices]})
        if request.method == "GET" and request.path == "/stats":
            return _json(200, self.summary())
        if request.path.startswith("/observe/"):
            if request.method != "GET":
                return HttpResponse(405, [("Allow", "GET")])
            device = self._device(query.get("device"))
            name = request.path.removeprefix("/observe/")
            if name == "active-control":
                return _json(200, {"device": device.index, "lfdi": device.lfdi,
                                   **device.schedule.active_control()})
            if name == "applied-settings":
                return _json(200, {"device": device.index, "lfdi": device.lfdi, **device.applied_settings()})
            if name == "der-programs":
                programs = device.status()["programs"]
                return _json(200, {"device": device.index, "lfdi": device.lfdi, "programs": programs})
            if name == "identity":
                return _json(200, {"device": device.index, **device.identity()})
            if name == "last-alarm":
                return _json(200, {"device": device.index, "lfdi": device.lfdi, **device.last_alarm})
            if name == "clock":
                return _json(200, {"device": device.index, "lfdi": device.lfdi,
                                   "currentTime": device.clock.timestamp(), "synchronised": device.clock.synchronised})
            raise AdminError(404, f"no observation {name!r}; expected active-control, applied-settings, der-programs, "
                                  "identity, last-alarm or clock")
        if request.path.startswith("/actions/"):
            if request.method != "POST":
                return HttpResponse(405, [("Allow", "POST")])
            name = request.path.removeprefix("/actions/")
            action = self.actions.get(name)
            if action is None:
                raise AdminError(404, f"no action {name!r}; expected one of {', '.join(self.actions)}")
            try:
                params = json.loads(request.body or b"{}")
            except ValueError as exc:
                raise AdminError(400, f"expected a JSON object body: {exc}") from None
            if not isinstance(params, dict):
                raise AdminError(400, f"expected a JSON object body, saw {type(params).__name__}")
            return _json(200, {"done": True, **await action(params)})
        raise AdminError(404, f"no admin resource {request.method} {request.path}")

    def _device(self, value: object) -> Device:
        if value is None:
            return self.devices[0]
        try:
            index = int(value)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            raise AdminError(400, f"expected a device index 0..{len(self.devices) - 1}, saw {value!r}") from None
        if isinstance(value, bool) or not 0 <= index < len(self.devices):
            raise AdminError(400, f"expected a device index 0..{len(self.devices) - 1}, saw {value!r}")
        return self.devices[index]

    def _chosen(self, params: dict[str, Any]) -> list[Device]:
        return self.devices if params.get("device") is None else [self._device(params["device"])]

    async def _trigger_logevent(self, params: dict[str, Any]) -> dict[str, Any]:
        code = params.get("code", 1)
        if not isinstance(code, int) or isinstance(code, bool) or not 0 <= code <= 255:
            raise AdminError(400, f"expected code as an integer 0..255 (logEventCode), saw {code!r}")
        device = self._device(params.get("device"))
        return {"device": device.index, **await device.post_log_event(code)}

    async def _power_cycle(self, params: dict[str, Any]) -> dict[str, Any]:
        chosen = self._chosen(params)
        for device in chosen:
            await device.power_cycle()
        return {"devices": [d.index for d in chosen]}

    async def _change_setting(self, params: dict[str, Any]) -> dict[str, Any]:
        if "name" not in params or "value" not in params:
            raise AdminError(400, "expected {\"name\": <DERSettings element>, \"value\": ...}")
        device = self._device(params.get("device"))
        try:
            return {"device": device.index, **await device.change_setting(str(params["name"]), params["value"])}
        except ValueError as exc:
            raise AdminError(400, str(exc)) from None

    async def _stop(self, params: dict[str, Any]) -> dict[str, Any]:
        chosen = self._chosen(params)
        for device in chosen:
            await device.stop()
        return {"devices": [d.index for d in chosen]}

    async def _start(self, params: dict[str, Any]) -> dict[str, Any]:
        chosen = self._chosen(params)
        for device in chosen:
            device.start()
        return {"devices": [d.index for d in chosen]}

    def summary(self) -> dict[str, Any]:
        """Counts, latency percentiles (ms), discovery times and peak RSS, for the bench."""
        latencies = sorted(self.stats.latencies)

        def pct(p: float) -> float | None:
            if not latencies:
                return None
            return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 3)

        discovered = sorted(d.discovered_after for d in self.devices if d.discovered_after is not None)
        return {
            "devices": len(self.devices), "discovered": len(discovered),
            "discovered_after": discovered, "requests": self.stats.requests, "failures": self.stats.failures,
            "latency_ms": {"p50": pct(0.5), "p99": pct(0.99),
                           "mean": round(1000 * statistics.fmean(latencies), 3) if latencies else None},
            "elapsed": time.monotonic() - self.stats.started, "peak_rss_kib": peak_rss_kib(),
            "states": {s: sum(1 for d in self.devices if d.state == s)
                       for s in ("discovering", "registered", "running", "stopped")},
        }
