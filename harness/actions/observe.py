"""Reading an observation from the DUT out of band through the profile's mapping: an HTTP request or a command
that hands back JSON, the reference DER client's admin API, a vendor plugin, or the lab engineer typing what the
DER shows. Each returns the observed value (a JSON-like object) or raises ActionFailed saying why not.

An observation is the only way a client case sees what the DER really does with a control (CSIP's "out of band"
pass criteria: the power factor changes at the event's start); the wire shows only what it says it does.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pluggy
import yaml

from harness.actions.builtin import ADMIN_OBSERVATIONS, ADMIN_TOKEN_VARIABLE, ADMIN_URL_VARIABLE
from harness.actions.executors import (
    DEFAULT_COMMAND_TIMEOUT,
    DEFAULT_HTTP_TIMEOUT,
    DEFAULT_PLUGIN_TIMEOUT,
    ActionFailed,
    _client_tls,
    _expand,
    _ok_statuses,
    _tail,
    terminal_line,
)
from harness.cases.model import ActionMapping
from harness.redact import Masker, is_secret_header
from harness.transport.http import exception_detail

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
    try:
        async with httpx.AsyncClient(verify=verify, timeout=timeout) as client:
            response = await client.request(method, url, headers=headers, content=content)
    except httpx.HTTPError as exc:
        raise ActionFailed(f"{method} {url}: {type(exc).__name__}: {exception_detail(exc)}") from None
    good = response.status_code in ok if ok else 200 <= response.status_code < 300
    if not good:
        expected = " or ".join(map(str, ok)) if ok else "2xx"
        raise ActionFailed(f"{method} {url}: expected status {expected}, saw {response.status_code}: "
                           f"{_tail(response.content) or 'empty body'}")
    return _json(response.content, f"{method} {url}")


async def observe_http(mapping: ActionMapping, params: dict[str, Any], variables: dict[str, Any], *,
                       masker: Masker | None = None, **_: Any) -> Any:
    """The profile's request template (GET by default); the answer's JSON body is the observed value."""
    config = mapping.config
    method = str(config.get("method", "GET")).upper()
    url = str(_expand(config["url"], variables))
    headers = {k: str(v) for k, v in _expand(config.get("headers", {}), variables).items()}
    if masker is not None:
        masker.add_url(url)
        for name, value in headers.items():
            if is_secret_header(name):
                masker.add_credential_header(value)
    headers.setdefault("Accept", "application/json")
    content = None
    if "json" in config:
        content = json.dumps(_expand(config["json"], variables)).encode()
        headers.setdefault("Content-Type", "application/json")
    elif "body" in config:
        content = str(_expand(config["body"], variables)).encode()
    return await _get_json(method, url, headers=headers, content=content, verify=_client_tls(config, variables),
                           timeout=float(config.get("timeout", DEFAULT_HTTP_TIMEOUT)), ok=_ok_statuses(config))


async def observe_command(mapping: ActionMapping, params: dict[str, Any], variables: dict[str, Any],
                          **_: Any) -> Any:
    """Run the profile's argv (no shell); exit status 0 and a JSON value on stdout is the observed value."""
    config = mapping.config
    argv = [str(part) for part in _expand(config["argv"], variables)]
    env = {**os.environ, **{k: str(v) for k, v in _expand(config.get("env", {}), variables).items()},
           "CSIP_OBSERVATION": mapping.action, "CSIP_ACTION_PARAMS": json.dumps(params)}
    timeout = float(config.get("timeout", DEFAULT_COMMAND_TIMEOUT))
    cwd = str(_expand(config["cwd"], variables)) if config.get("cwd") else None
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, cwd=cwd)
    except OSError as exc:
        raise ActionFailed(f"cannot start {argv[0]!r}: {exc}") from None
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise ActionFailed(f"{argv[0]} did not finish within {timeout:g} s and was killed") from None
    if process.returncode != 0:
        raise ActionFailed(f"{argv[0]} exited with status {process.returncode}, expected 0; "
                           f"stderr: {_tail(err) or 'empty'}; stdout: {_tail(out) or 'empty'}")
    return _json(out, f"the stdout of {argv[0]}")


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
    path = ADMIN_OBSERVATIONS[mapping.action]
    base = variables.get(ADMIN_URL_VARIABLE)
    if not base:
        raise ActionFailed(f"the built-in admin interface needs the variable {ADMIN_URL_VARIABLE!r} "
                           f"(--csip-var {ADMIN_URL_VARIABLE}=http://HOST:PORT); it is not set")
    headers = {"Accept": "application/json"}
    token = variables.get(ADMIN_TOKEN_VARIABLE)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    query = f"?device={int(params['device'])}" if params.get("device") is not None else ""
    return await _get_json("GET", str(base).rstrip("/") + path + query, headers=headers, content=None, verify=False,
                           timeout=float(mapping.config.get("timeout", DEFAULT_HTTP_TIMEOUT)), ok=None)


async def observe_plugin(mapping: ActionMapping, params: dict[str, Any], variables: dict[str, Any], *,
                         plugins: pluggy.PluginManager | None, **_: Any) -> Any:
    """Hand the observation to the vendor's csip_dut_observe hook implementation; what it returns is observed."""
    if plugins is None:
        raise ActionFailed("no plugin manager: the run loaded no csip_harness plugins")
    timeout = float(mapping.config.get("timeout", DEFAULT_PLUGIN_TIMEOUT))
    call = plugins.hook.csip_dut_observe

    def invoke() -> Any:
        return call(observation=mapping.action, params=params, config=mapping.config, variables=variables)

    try:
        result = await asyncio.wait_for(asyncio.to_thread(invoke), timeout)
        if asyncio.iscoroutine(result):
            result = await asyncio.wait_for(result, timeout)
    except TimeoutError:
        raise ActionFailed(f"the csip_dut_observe hook did not return within {timeout:g} s") from None
    except Exception as exc:  # the vendor's code: any exception is the observation failing
        raise ActionFailed(f"the csip_dut_observe hook raised {type(exc).__name__}: {exc}") from None
    if result is None:
        names = ", ".join(name for name, _ in plugins.list_name_plugin()) or "none"
        raise ActionFailed(f"no csip_dut_observe implementation handled {mapping.action!r} (plugins: {names})")
    return result


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
