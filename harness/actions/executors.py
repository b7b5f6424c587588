"""Carrying out one mapped action: an HTTP request, a command, an operator prompt, the reference admin API
or a vendor plugin. Each returns a short note of what came back, or raises ActionFailed saying why."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pluggy

from harness.actions.builtin import ADMIN_REQUESTS, ADMIN_TOKEN_VARIABLE, ADMIN_URL_VARIABLE
from harness.cases.model import ActionMapping
from harness.cases.variables import VariableError, substitute
from harness.redact import Masker, is_secret_header
from harness.transport.http import exception_detail

DEFAULT_HTTP_TIMEOUT = 30.0
DEFAULT_COMMAND_TIMEOUT = 60.0
DEFAULT_PLUGIN_TIMEOUT = 300.0
_SHOWN_OUTPUT = 400


class ActionFailed(Exception):
    """The action could not be carried out; the message says what came back."""


def _tail(data: bytes | str) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = text.strip()
    return text if len(text) <= _SHOWN_OUTPUT else "…" + text[-_SHOWN_OUTPUT:]


def _expand(value: Any, variables: dict[str, Any]) -> Any:
    try:
        return substitute(value, variables)
    except VariableError as exc:
        raise ActionFailed(f"cannot fill in the mapping's template: {exc}") from None


@functools.cache
def _tls_context(cafile: str | None, verify: bool = True, cert: str | None = None,
                 key: str | None = None) -> ssl.SSLContext:
    # Built once per setting: loading the trust store costs tens of milliseconds, more than the admin call.
    if verify:
        context = ssl.create_default_context(cafile=cafile) if cafile else httpx.create_ssl_context()
    else:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(cert, key)
    return context


def _client_tls(config: dict[str, Any], variables: dict[str, Any]) -> Any:
    """What httpx's verify= gets: a context with the mapping's trust (ca, verify) and client certificate."""
    verify = bool(config.get("verify", True))
    cafile = str(_expand(config["ca"], variables)) if config.get("ca") and verify else None
    cert = str(_expand(config["cert"], variables)) if config.get("cert") else None
    key = str(_expand(config["key"], variables)) if config.get("key") else None
    if not verify and cert is None:
        return False
    try:
        return _tls_context(cafile, verify, cert, key)
    except (OSError, ssl.SSLError) as exc:
        files = ", ".join(f"{name} {path}" for name, path in (("ca", cafile), ("cert", cert), ("key", key)) if path)
        raise ActionFailed(f"cannot load the mapping's TLS files ({files}): {exc}") from None


def _ok_statuses(config: dict[str, Any]) -> tuple[int, ...] | None:
    wanted = config.get("expect_status")
    if wanted is None:
        return None
    return tuple(wanted) if isinstance(wanted, list) else (wanted,)


async def _request(method: str, url: str, *, headers: dict[str, str], content: bytes | None, verify: Any,
                   timeout: float) -> tuple[httpx.Response, str]:
    """One HTTP exchange for an action or an observation: (the response, how long it took as "N ms")."""
    clock = time.perf_counter()
    try:
        async with httpx.AsyncClient(verify=verify, timeout=timeout) as client:
            response = await client.request(method, url, headers=headers, content=content)
    except httpx.HTTPError as exc:
        # httpx often re-raises with an empty message; the cause underneath says what happened (a TLS alert).
        raise ActionFailed(f"{method} {url}: {type(exc).__name__}: {exception_detail(exc)}") from None
    return response, f"{(time.perf_counter() - clock) * 1000:.0f} ms"


def _check_status(method: str, url: str, response: httpx.Response, ok: tuple[int, ...] | None, took: str) -> None:
    """Raise ActionFailed unless the status is one of ok (any 2xx when None); took ("N ms" or "") is shown."""
    good = response.status_code in ok if ok else 200 <= response.status_code < 300
    if not good:
        expected = " or ".join(map(str, ok)) if ok else "2xx"
        timing = f" ({took})" if took else ""
        raise ActionFailed(f"{method} {url}: expected status {expected}, saw {response.status_code}{timing}: "
                           f"{_tail(response.content) or 'empty body'}")


async def _send(method: str, url: str, *, headers: dict[str, str], content: bytes | None, verify: Any,
                timeout: float, ok: tuple[int, ...] | None) -> str:
    response, took = await _request(method, url, headers=headers, content=content, verify=verify, timeout=timeout)
    _check_status(method, url, response, ok, took)
    body = _tail(response.content)
    return f"{method} {url} -> {response.status_code} ({took})" + (f": {body}" if body else "")


def _http_parts(config: dict[str, Any], variables: dict[str, Any], *, method: str, masker: Masker | None,
                accept: str | None = None) -> tuple[str, str, dict[str, str], bytes | None]:
    """The mapping's request template filled in: (method, url, headers, body bytes or None).

    method is the default when the mapping names none; accept, when given, is the default Accept header. The
    credentials it expands (credential headers, URL password, secret-named query values) are added to masker.
    """
    method = str(config.get("method", method)).upper()
    url = str(_expand(config["url"], variables))
    headers = {k: str(v) for k, v in _expand(config.get("headers", {}), variables).items()}
    if masker is not None:
        masker.add_url(url)
        for name, value in headers.items():
            if is_secret_header(name):
                masker.add_credential_header(value)
    if accept is not None:
        headers.setdefault("Accept", accept)
    content = None
    if "json" in config:
        content = json.dumps(_expand(config["json"], variables)).encode()
        headers.setdefault("Content-Type", "application/json")
    elif "body" in config:
        content = str(_expand(config["body"], variables)).encode()
    return method, url, headers, content


async def run_http(mapping: ActionMapping, params: dict[str, Any], variables: dict[str, Any], *,
                   masker: Masker | None = None, **_: Any) -> str:
    """Send the profile's request template, filled in with the parameters and run variables.

    The credentials it expands (credential headers, URL password, secret-named query values) are added to
    masker, so the record of this action and everything after it shows them as ***.
    """
    config = mapping.config
    method, url, headers, content = _http_parts(config, variables, method="POST", masker=masker)
    verify = _client_tls(config, variables)
    return await _send(method, url, headers=headers, content=content, verify=verify,
                       timeout=float(config.get("timeout", DEFAULT_HTTP_TIMEOUT)), ok=_ok_statuses(config))


async def _run_argv(config: dict[str, Any], variables: dict[str, Any], extra_env: dict[str, str]) -> tuple[str, bytes]:
    """Run the mapping's argv (no shell) with its env plus extra_env; (argv[0], stdout) once it exits 0.

    Raises ActionFailed when it cannot start, outlives the mapping's timeout (it is killed) or exits non-zero.
    """
    argv = [str(part) for part in _expand(config["argv"], variables)]
    env = {**os.environ, **{k: str(v) for k, v in _expand(config.get("env", {}), variables).items()}, **extra_env}
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
    return argv[0], out


async def run_command(mapping: ActionMapping, params: dict[str, Any], variables: dict[str, Any], **_: Any) -> str:
    """Run the profile's argv (no shell), expecting exit status 0 within the timeout."""
    program, out = await _run_argv(mapping.config, variables,
                                   {"CSIP_ACTION": mapping.action, "CSIP_ACTION_PARAMS": json.dumps(params)})
    shown = _tail(out)
    return f"{program} exited 0" + (f": {shown}" if shown else "")


def _ask_at_terminal(prompt: str) -> bool | None:
    """Ask on the controlling terminal (pytest captures stdin and stdout); None when there is none."""
    answer = terminal_line(f"\n[csip-harness] {prompt}\n  Done? [y/N] ")
    return None if answer is None else answer.strip().lower() in ("y", "yes")


def terminal_line(question: str) -> str | None:
    """Write question on the controlling terminal and read one line back; None when there is no terminal."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    try:
        os.write(fd, question.encode())
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = os.read(fd, 1024)
            if not chunk:
                break
            answer += chunk
    except OSError:
        return None
    finally:
        os.close(fd)
    return answer.decode(errors="replace")


async def run_operator(mapping: ActionMapping, params: dict[str, Any], variables: dict[str, Any], *,
                       prompt: str, unattended: bool, **_: Any) -> str:
    """Ask the person at the terminal; unattended, only a profile's pre-acknowledgement counts."""
    text = str(_expand(mapping.config.get("prompt", prompt), variables))
    if mapping.config.get("acknowledged"):
        return f"pre-acknowledged in the profile: {text}"
    if unattended:
        raise ActionFailed(f"needs a person to confirm {text!r}, but the run is unattended; do it beforehand "
                           f"and mark the mapping 'acknowledged: true' in the profile")
    answer = await asyncio.to_thread(_ask_at_terminal, f"{mapping.action}: {text}")
    if answer is None:
        raise ActionFailed(f"needs a person to confirm {text!r}, but there is no terminal to ask on")
    if not answer:
        raise ActionFailed(f"the operator answered no to {text!r}")
    return f"operator confirmed: {text}"


async def run_builtin(mapping: ActionMapping, params: dict[str, Any], variables: dict[str, Any], **_: Any) -> str:
    """Call the reference DUT's admin listener (its address and token are run variables)."""
    method, path = ADMIN_REQUESTS[mapping.action]
    url, headers = _admin_request(variables, path, {"Content-Type": "application/json"})
    timeout = float(mapping.config.get("timeout", DEFAULT_HTTP_TIMEOUT))
    return await _send(method, url, headers=headers, content=json.dumps(params).encode(),
                       verify=_tls_context(None), timeout=timeout, ok=None)


def _admin_request(variables: dict[str, Any], path: str, headers: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The reference admin listener's URL for path and the headers plus its bearer token, from the run variables.

    Raises ActionFailed when the admin URL variable is not set."""
    base = variables.get(ADMIN_URL_VARIABLE)
    if not base:
        raise ActionFailed(f"the built-in admin interface needs the variable {ADMIN_URL_VARIABLE!r} "
                           f"(--csip-var {ADMIN_URL_VARIABLE}=http://HOST:PORT); it is not set")
    token = variables.get(ADMIN_TOKEN_VARIABLE)
    if token:
        headers = {**headers, "Authorization": f"Bearer {token}"}
    return str(base).rstrip("/") + path, headers


async def _call_hook(plugins: pluggy.PluginManager | None, hook_name: str, kwargs: dict[str, Any], timeout: float,
                     what: str) -> Any:
    """Call the vendor's hook_name implementations with kwargs in a thread (awaiting a coroutine they return).

    what names the action or observation in the "nobody handled it" message. Returns the first non-None result;
    raises ActionFailed when no plugins were loaded, the hook outlives timeout (s), raises, or returns None.
    """
    if plugins is None:
        raise ActionFailed("no plugin manager: the run loaded no csip_harness plugins")
    call = getattr(plugins.hook, hook_name)
    try:
        result = await asyncio.wait_for(asyncio.to_thread(functools.partial(call, **kwargs)), timeout)
        if asyncio.iscoroutine(result):
            result = await asyncio.wait_for(result, timeout)
    except TimeoutError:
        raise ActionFailed(f"the {hook_name} hook did not return within {timeout:g} s") from None
    except Exception as exc:  # the vendor's code: any exception is the action or observation failing
        raise ActionFailed(f"the {hook_name} hook raised {type(exc).__name__}: {exc}") from None
    if result is None:
        names = ", ".join(name for name, _ in plugins.list_name_plugin()) or "none"
        raise ActionFailed(f"no {hook_name} implementation handled {what!r} (plugins: {names})")
    return result


async def run_plugin(mapping: ActionMapping, params: dict[str, Any], variables: dict[str, Any], *,
                     plugins: pluggy.PluginManager | None, **_: Any) -> str:
    """Hand the action to the vendor's csip_dut_action hook implementation."""
    timeout = float(mapping.config.get("timeout", DEFAULT_PLUGIN_TIMEOUT))
    result = await _call_hook(plugins, "csip_dut_action", {"action": mapping.action, "params": params,
                                                           "config": mapping.config, "variables": variables},
                              timeout, mapping.action)
    return str(result)


Executor = Callable[..., Awaitable[str]]
EXECUTORS: dict[str, Executor] = {
    "http": run_http,
    "command": run_command,
    "operator": run_operator,
    "builtin": run_builtin,
    "plugin": run_plugin,
}
