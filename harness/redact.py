"""Secrets kept out of the evidence: tokens, passwords and keys become `***` in everything written to a bundle.

What is a secret (README, "What the evidence never holds"):

- the values of the profile's variables taken from the environment (`${env.NAME}`), and of every `${env.NAME}`
  a profile names anywhere (variables or action mappings);
- the values of variables (profile `variables:` and `--var`) and of mapping settings whose names say token,
  secret, password (passw, passphrase, pwd), key or credential;
- the values of `Authorization`, `Proxy-Authorization` and `Cookie` headers, and of headers whose names say
  one of those words, sent by an `http` mapping or in a 2030.5 request;
- the password of a URL's userinfo (`https://user:PASSWORD@host`), and the values of query parameters whose
  names say one of those words (`?access_token=…`).

Where: action records (parameters, mapping, detail), test reasons and step messages, exchange URLs and the
request headers the harness sent, run metadata. Known secret values (the first three kinds, at least
MIN_SECRET_LENGTH characters long) are also replaced wherever else they appear, bodies included. Shorter
values are masked only where their place says they are secret (a header, a URL, a secret-named setting):
replacing every occurrence of a two-character string would deface the evidence.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote

MASK = "***"
MIN_SECRET_LENGTH = 4
# A name that says its value is a secret: admin_token, API_KEY, vendor-password, client_secret, ...
SECRET_NAME = re.compile(r"token|secret|passw|passphrase|pwd|key|credential", re.IGNORECASE)
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_ENV_REFERENCE = re.compile(r"\$\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}")
_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/?#@:]*):(?P<password>[^\s/?#@]*)@")
_QUERY = re.compile(r"(?P<head>[?&;](?P<name>[^=&;#\s?]+)=)(?P<value>[^&;#\s\"'<>]*)")


def is_secret_name(name: str) -> bool:
    """Whether a variable, setting, parameter or query name says its value is a secret."""
    return bool(SECRET_NAME.search(name))


def is_secret_header(name: str) -> bool:
    """Whether a header carries credentials: Authorization, Proxy-Authorization, Cookie, or a secret-named one."""
    return name.lower() in _SECRET_HEADERS or is_secret_name(name)


def env_references(value: Any) -> list[str]:
    """The NAMEs of every `${env.NAME}` inside value (strings, recursively in dicts and lists)."""
    if isinstance(value, str):
        return _ENV_REFERENCE.findall(value)
    if isinstance(value, Mapping):
        return [name for item in value.values() for name in env_references(item)]
    if isinstance(value, list | tuple):
        return [name for item in value for name in env_references(item)]
    return []


class Masker:
    """The secrets of one run, and the rules that mask them in text and records.

    Known values grow during the run (an `http` mapping adds the credentials it expands); every method
    returns a masked copy and never raises.
    """

    def __init__(self, secrets: Iterable[Any] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: Any) -> None:
        """Know one more secret value (and its URL-encoded form); values under MIN_SECRET_LENGTH are ignored."""
        if secret is None or isinstance(secret, bool):
            return
        text = str(secret)
        for form in {text, quote(text, safe="")}:
            if len(form) >= MIN_SECRET_LENGTH and form not in self._values:
                self._values.add(form)
                self._pattern = None

    def add_credential_header(self, value: str) -> None:
        """Know a credential header's value and, for `Scheme credentials`, the credentials alone."""
        self.add(value)
        scheme, _, credentials = value.strip().partition(" ")
        if credentials.strip():
            self.add(credentials.strip())

    def add_url(self, url: str) -> None:
        """Know the userinfo password and the secret-named query values of a URL.

        HTTP clients send userinfo as `Authorization: Basic base64(user:password)`, which an echoing server
        returns; that encoding is known too.
        """
        for match in _USERINFO.finditer(url):
            password = match.group("password")
            self.add(password)
            user = match.group("head").rpartition("/")[2]
            self.add(base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii"))
        for match in _QUERY.finditer(url):
            if is_secret_name(match.group("name")):
                self.add(match.group("value"))

    @property
    def known(self) -> int:
        """How many secret values (and encoded forms) are known."""
        return len(self._values)

    def text(self, value: str) -> str:
        """value with every known secret value replaced by ***."""
        if not self._values or not value:
            return value
        if self._pattern is None:
            # Longest first, so a secret containing another is masked whole.
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
        return self._pattern.sub(MASK, value)

    def prose(self, value: str) -> str:
        """Text the harness wrote (messages, details, URLs): known values, URL passwords, secret query values."""
        if not value:
            return value
        value = _USERINFO.sub(lambda m: f"{m.group('head')}:{MASK}@", self.text(value))
        return _QUERY.sub(lambda m: m.group("head") + (MASK if is_secret_name(m.group("name")) else m.group("value")),
                          value)

    def headers(self, headers: Iterable[Any]) -> list[Any]:
        """Headers the harness sent, as (name, value) pairs: credential headers become ***, others prose."""
        masked: list[Any] = []
        for pair in headers:
            name, value = pair[0], pair[1]
            shown = MASK if is_secret_header(str(name)) else self.prose(str(value))
            masked.append(type(pair)((name, shown)) if isinstance(pair, tuple | list) else (name, shown))
        return masked

    def settings(self, value: Any) -> Any:
        """Parameters or settings (nested dicts and lists): secret-named keys become ***, strings prose."""
        if isinstance(value, Mapping):
            return {k: MASK if is_secret_name(str(k)) and value[k] not in (None, "") else self.settings(v)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.settings(item) for item in value]
        if isinstance(value, str):
            return self.prose(value)
        return value

    def data(self, value: Any) -> Any:
        """Anything else (DUT resources, bodies, saved values): known secret values in strings, recursively."""
        if not self._values:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.data(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.data(item) for item in value)
        return value


def profile_secrets(variables: Mapping[str, Any], run_variables: Mapping[str, Any],
                    mapping_configs: Iterable[Mapping[str, Any]], env: Mapping[str, str]) -> Masker:
    """The secrets a profile and the run's variables reveal before any action runs.

    variables: the profile's `variables:` (templates, filled in from env here); run_variables: `--var` values;
    mapping_configs: the settings of every action mapping; env: the environment `${env.…}` reads.
    """
    from harness.cases.variables import VariableError, substitute

    masker = Masker()
    for name in {*env_references(dict(variables)), *(n for c in mapping_configs for n in env_references(dict(c)))}:
        masker.add(env.get(name))
    for name, template in variables.items():
        try:
            value = substitute(template, {"env": env})
        except VariableError:
            continue  # the action needing it fails and says so; nothing to mask yet
        if is_secret_name(name) or env_references(template):
            masker.add(value)
    for name, value in run_variables.items():
        if is_secret_name(name):
            masker.add(value)
    for config in mapping_configs:
        _literal_secrets(config, masker)
    return masker


# Mapping settings that name files, not secrets (an http mapping's `key` is the path of a key file).
_PATH_SETTINGS = frozenset({"ca", "cert", "key", "cwd"})


def _literal_secrets(config: Any, masker: Masker, key: str = "") -> None:
    """Secrets written into a mapping's settings: secret-named settings and credential headers, literally."""
    if isinstance(config, Mapping):
        for name, value in config.items():
            if name in _PATH_SETTINGS:
                continue
            if name == "headers" and isinstance(value, Mapping):
                for header, text in value.items():
                    if is_secret_header(str(header)) and isinstance(text, str) and "${" not in text:
                        masker.add_credential_header(text)
            else:
                _literal_secrets(value, masker, str(name))
    elif isinstance(config, list):
        for item in config:
            _literal_secrets(item, masker, key)
    elif isinstance(config, str):
        if is_secret_name(key) and "${" not in config:
            masker.add(config)
        if "://" in config:
            masker.add_url(config)


def mask_test_record(record: Any, masker: Masker) -> Any:
    """Mask a TestRecord in place (and return it): everything a bundle, the terminal or junit.xml shows.

    Messages, reasons, actions and exchange URLs by the prose rules; the request headers the harness sent by
    the header rules; DUT resources, bodies and response headers by known secret values only.
    """
    record.reason = masker.prose(record.reason)
    for action in record.actions:
        _mask_action(action, masker)
    for step in record.steps:
        step.message = masker.prose(step.message)
        step.expected = masker.data(step.expected)
        step.observed = masker.data(step.observed)
        step.saved = masker.data(step.saved)
        for action in step.actions:
            _mask_action(action, masker)
        for finding in step.findings:
            finding.message = masker.text(finding.message)
        for exchange in step.exchanges:
            exchange.url = masker.prose(exchange.url)
            exchange.request_headers = masker.headers(exchange.request_headers)
            exchange.request_body = masker.data(exchange.request_body)
            exchange.response_headers = masker.data(exchange.response_headers)
            exchange.response_body = masker.data(exchange.response_body)
            exchange.error = masker.prose(exchange.error) if exchange.error else exchange.error
    return record


def _mask_action(action: Any, masker: Masker) -> None:
    if dataclasses.is_dataclass(action):
        action.params = masker.settings(action.params)
        action.mapping = masker.prose(action.mapping)
        action.detail = masker.prose(action.detail)
