"""Reading an observation from the DUT out of band through the profile's mapping: an HTTP request or a command
that hands back JSON, the reference DER client's admin API, a vendor plugin, or the lab engineer typing what the
DER shows. Each returns the observed value (a JSON-like object) or raises ActionFailed saying why not.

An observation is the only way a client case sees what the DER really does with a control (CSIP's "out of band"
pass criteria: the power factor changes at the event's start); the wire shows only what it says it does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pluggy
import yaml

from harness.actions.builtin import ADMIN_OBSERVATIONS
from harness.actions.executors import (
    DEFAULT_HTTP_TIMEOUT,
    DEFAULT_PLUGIN_TIMEOUT,
    ActionFailed,
    _admin_request,
    _call_hook,
    _check_status,
    _client_tls,
    _expand,
    _http_parts,
    _ok_statuses,
    _request,
    _run_argv,
    _tail,
    terminal_line,
)
from harness.cases.model import ActionMapping
from harness.redact import Masker

_MAX_ANSWER = 1_048_576


def _json(data: bytes, where: str) -> Any:
    if len(data) > _MAX_ANSWER:
        raise ActionFailed(f"{where}: expected a JSON value of at most {_MAX_ANSWER} bytes, saw {len(data)}")
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ActionFailed(f"{where}: expected a JSON value, saw {_tail(data) or 'nothing'!r} ({exc})") from None


async def _get_json(method: str, url: str, *, headers: dict[str, str], content: bytes | None, verify: Any,
                    timeout: float, ok: tuple[int, ...] | None) -> Any:
    response, _took = await _request(method, url, headers=headers, content=content, verify=verify, timeout=timeout)
    _check_status(method, url, response, ok, "")
    return _json(response.content, f"{method} {url}")


async def observe_http(mapping: ActionMapping, params: dict[str, Any], variables: dict[str, Any], *,
                       masker: Masker | None = None, **_: Any) -> Any:
    """The profile's request template (GET by default); the answer's JSON body is the observed value."""
    config = mapping.config
    method, url, headers, content = _http_parts(config, variables, method="GET", masker=masker,
                                                accept="application/json")
    return await _get_json(method, url, headers=headers, content=content, verify=_client_tls(config, variables),
                           timeout=float(config.get("timeout", DEFAULT_HTTP_TIMEOUT)), ok=_ok_statuses(config))


async def observe_command(mapping: ActionMapping, params: dict[str, Any], variables: dict[str, Any],
                          **_: Any) -> Any:
    """Run the profile's argv (no shell); exit status 0 and a JSON value on stdout is the observed value."""
    program, out = await _run_argv(mapping.config, variables,
                                   {"CSIP_OBSERVATION": mapping.action, "CSIP_ACTION_PARAMS": json.dumps(params)})
    return _json(out, f"the stdout of {program}")


async def observe_operator(mapping: ActionMapping, params: dict[str, Any], variables: dict[str, Any], *,
                           prompt: str, unattended: bool, **_: Any) -> Any:
    """Ask the person at the terminal to type what the DER shows (read as YAML: `{mRID: ..., source: ...}`).

    Never answered in advance: a canned answer would pass a DER nobody looked at, so `acknowledged` does not
    apply and an unattended run cannot make this observation (an error, not a pass)."""
    text = str(_expand(mapping.config.get("prompt", prompt), variables))
    if mapping.config.get("acknowledged"):
        raise ActionFailed(f"an observation cannot be pre-acknowledged (someone must read the DER): {text!r}")
    if unattended:
        raise ActionFailed(f"needs a person to read {text!r} from the DER, but the run is unattended")
    answer = await asyncio.to_thread(terminal_line, f"\n[csip-harness] {mapping.action}: {text}\n  Answer: ")
    if answer is None:
        raise ActionFailed(f"needs a person to read {text!r} from the DER, but there is no terminal to ask on")
    try:
        return yaml.safe_load(answer) if answer.strip() else None
    except yaml.YAMLError as exc:
        raise ActionFailed(f"expected the answer as YAML (e.g. {{source: DERControl}}), saw {answer.strip()!r}: "
                           f"{str(exc).splitlines()[0]}") from None


async def observe_builtin(mapping: ActionMapping, params: dict[str, Any], variables: dict[str, Any],
                          **_: Any) -> Any:
    """GET the reference DER client's admin listener's /observe/<name> (?device=N when params name one)."""
    url, headers = _admin_request(variables, ADMIN_OBSERVATIONS[mapping.action], {"Accept": "application/json"})
    query = f"?device={int(params['device'])}" if params.get("device") is not None else ""
    return await _get_json("GET", url + query, headers=headers, content=None, verify=False,
                           timeout=float(mapping.config.get("timeout", DEFAULT_HTTP_TIMEOUT)), ok=None)


async def observe_plugin(mapping: ActionMapping, params: dict[str, Any], variables: dict[str, Any], *,
                         plugins: pluggy.PluginManager | None, **_: Any) -> Any:
    """Hand the observation to the vendor's csip_dut_observe hook implementation; what it returns is observed."""
    timeout = float(mapping.config.get("timeout", DEFAULT_PLUGIN_TIMEOUT))
    return await _call_hook(plugins, "csip_dut_observe", {"observation": mapping.action, "params": params,
                                                          "config": mapping.config, "variables": variables},
                            timeout, mapping.action)


Observer = Callable[..., Awaitable[Any]]
OBSERVERS: dict[str, Observer] = {
    "http": observe_http,
    "command": observe_command,
    "operator": observe_operator,
    "builtin": observe_builtin,
    "plugin": observe_plugin,
}


def shown(value: Any, limit: int = 300) -> str:
    """An observed value as one short line for the evidence (JSON, cut at limit characters)."""
    try:
        text = json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"
