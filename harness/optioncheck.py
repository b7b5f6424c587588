"""The run's options checked before anything runs: one usage error, naming the option as the user gave it.

Every problem a user can fix by changing what they typed is found here, before pytest collects or the DUT
is contacted: the profile (its load error, with file and line), the DUT address, the TLS verification mode,
and the client identity of IEEE 2030.5 §6.11 mutual TLS (the files exist, parse, belong together, and the
certificate is one the DUT could accept: harness.preflight.client_certificate_problems).

An option is named the way it reached the run: `--cert` for `csip-harness run`, `--csip-cert` on the pytest
command line, `csip_cert in pytest.ini` from the ini file, `identity.cert in dut.yaml:7` from the profile.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from harness.cases.model import DutProfile
from harness.cases.profile import load_profile
from harness.cases.yamlload import YamlFileError, line_of
from harness.preflight import client_certificate_problems

if TYPE_CHECKING:
    import argparse


class SessionConfigError(ValueError):
    """The run cannot start: a missing, malformed or contradictory option. str() is the one-line message."""


@dataclasses.dataclass
class RunOptions:
    """What the user asked for, from the command line, ini file or `csip-harness run`."""

    dut: str | None = None
    profile: str | None = None
    schema: str | None = None
    out: str | None = None
    cert: str | None = None
    key: str | None = None
    ca: str | None = None
    http_url: str | None = None
    variables: dict[str, str] = dataclasses.field(default_factory=dict)
    unattended: bool = False
    tls_verify: str | None = None  # full, chain or none; None: the profile's (default full)
    plain_http: bool = False  # an http:// DUT address is used only when asked for (harness.optioncheck)
    # How the user gave each option (`--cert`, `--csip-cert`, `csip_cert in pytest.ini`), for messages.
    given_as: dict[str, str] = dataclasses.field(default_factory=dict)
    time_scale: float | None = None  # F of --time-scale (0 < F <= 1); None: 1, real time
    time_origin: float | None = None  # the instant (Unix s) from which a scaled DUT clock runs faster
    late: float | None = None  # the lateness tolerance of waits, DUT seconds (--late); None: by the scale
    # The notification listener (harness.engine.notifications): bind HOST:PORT, the URL the DUT is given, TLS files.
    listener: str | None = None
    listener_url: str | None = None
    listener_cert: str | None = None
    listener_key: str | None = None
    lab: str | None = None  # the lab file (harness.report.lab): who tests, where, for whom; optional
    # 2030.5 over NATS (docs/nats-mapping.md): the transport (http or nats; None: by the DUT address's scheme),
    # the NATS mapping (native or interstore; None: the profile's, else native) and the body encoding
    # (xml or json, CUPID's dialect: docs/json-mapping.md; None: the profile's, else xml).
    transport: str | None = None
    nats_mapping: str | None = None
    encoding: str | None = None
    # The DUT's role (harness.server.clientsession.run_role): server or client; None: the profile's, else server.
    role: str | None = None
    port: str | None = None  # client role: the test server's TCP port; None: any free one


def parse_variables(items: list[str], where: str = "--csip-var") -> dict[str, str]:
    """NAME=VALUE items as a dict; a malformed item is a SessionConfigError naming it."""
    parsed = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise SessionConfigError(f"{where}: expected NAME=VALUE with NAME an identifier, saw {item!r}")
        parsed[name.strip()] = value
    return parsed


# The options a run takes, as `csip-harness run` spells them; pytest spells each `--csip-` + the same words.
OPTION_KEYS = ("dut", "profile", "schema", "out", "cert", "key", "ca", "http_url", "tls_verify", "plain_http",
               "var", "unattended", "listener", "listener_url", "listener_cert", "listener_key", "lab",
               "role", "port")
CLI_NAMES = {key: "--" + key.replace("_", "-") for key in OPTION_KEYS}
PYTEST_NAMES = {key: "--csip-" + key.replace("_", "-") for key in OPTION_KEYS}
# Set by `csip-harness run` for the pytest run it starts (and the xdist workers it spawns inherit it), so the
# plugin names options, also in pre-flight messages, the way the user typed them.
STYLE_VARIABLE = "CSIP_HARNESS_OPTION_STYLE"


def option_style() -> dict[str, str]:
    """The names of the options in this process: the CLI's under `csip-harness run`, else pytest's."""
    return dict(CLI_NAMES if os.environ.get(STYLE_VARIABLE) == "cli" else PYTEST_NAMES)


def default_profile_path() -> Path:
    """The bundled generic server profile used when no --csip-profile is given."""
    return Path(str(resources.files("harness.cases").joinpath("default-server-profile.yaml")))


def name_of(options: RunOptions, key: str) -> str:
    """How the user gave option key (see the module docstring); the pytest option when nothing says."""
    return options.given_as.get(key) or PYTEST_NAMES[key]


def _profile_name(profile: DutProfile, path: list[str]) -> str:
    """`identity.cert in dut.yaml:7`: a profile key, with the file and line it is written at."""
    file = profile.file or "the profile"
    raw: Any = profile.raw
    line = None
    if path[0] in raw:
        line = line_of(raw[path[0]], path[1:]) if len(path) > 1 else None
        line = line or getattr(raw[path[0]], "line", None)
    return f"{'.'.join(path)} in {file}{f':{line}' if line else ''}"


def resolve_profile(options: RunOptions) -> DutProfile:
    """Load the profile and apply command-line overrides (DUT address, identity, TLS verification).

    Raises SessionConfigError naming the profile option when the profile cannot be loaded (with its file and
    line) and the verification option when its value is not full, chain or none.
    """
    from harness.sep.tls import verify_mode

    path = Path(options.profile) if options.profile else default_profile_path()
    if options.profile and not path.is_file():
        raise SessionConfigError(f"{name_of(options, 'profile')} {options.profile}: expected a DUT profile (YAML), "
                                 f"saw {'a directory' if path.is_dir() else 'no such file'}")
    try:
        profile = load_profile(path)
    except YamlFileError as exc:
        raise SessionConfigError(f"{name_of(options, 'profile')}: {exc}") from None
    identity = dataclasses.replace(
        profile.identity,
        cert=Path(options.cert) if options.cert else profile.identity.cert,
        key=Path(options.key) if options.key else profile.identity.key,
        ca=Path(options.ca) if options.ca else profile.identity.ca,
    )
    tls_verify = profile.tls_verify
    if options.tls_verify:
        try:
            tls_verify = verify_mode(options.tls_verify)
        except ValueError as exc:
            raise SessionConfigError(f"{name_of(options, 'tls_verify')}: {exc}") from None
    return dataclasses.replace(
        profile,
        base_url=options.dut or profile.base_url,
        http_url=options.http_url or profile.http_url,
        identity=identity,
        tls_verify=tls_verify,
    )


def address_problem(url: str, *, plain_http: bool, plain_http_name: str, nats: bool = True) -> str | None:
    """What is wrong with a DUT address, as `expected …, saw …`; None when it is a usable https:// URL.

    A nats:// or tls:// address (a NATS server) is usable only where nats is true: the DUT address, not the
    plain-HTTP address or the notification listener's, which are HTTP by nature.

    An http:// address is usable only with plain_http (the user asked for plain HTTP explicitly); the
    message for it names plain_http_name. The port must be a number from 1 to 65535, the host non-empty.
    """
    text = url.strip()
    if "://" not in text:
        return f"expected an address with its scheme, e.g. https://{text or 'HOST:PORT'}, saw no scheme"
    scheme = text.split("://", 1)[0].lower()
    if nats and scheme in ("nats", "tls"):
        from harness.transport.nats import nats_server_url

        try:
            nats_server_url(text)
        except ValueError as exc:
            return str(exc)
        return None
    if scheme not in ("https", "http"):
        also = " (or nats://, tls:// for NATS)" if nats else ""
        return f"expected an https://{also} address, saw the scheme {scheme + '://'!r}"
    split = urlsplit(text)
    netloc = split.netloc.rpartition("@")[2]
    host, port = netloc, ""
    if netloc.startswith("["):
        host, _, rest = netloc[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif ":" in netloc:
        host, _, port = netloc.rpartition(":")
    if not host:
        return f"expected a host name or IP address after {scheme}://, saw none"
    if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        return f"expected a port number from 1 to 65535 after {host}:, saw {port!r}"
    if split.query or split.fragment:
        return "expected the DUT's base address without a query or fragment, saw " + repr(
            "?" + split.query if split.query else "#" + split.fragment)
    from harness.transport.http import origin

    try:
        origin(text)
    except ValueError as exc:
        return str(exc)
    if scheme == "http" and not plain_http:
        return ("expected https:// (IEEE 2030.5 runs over TLS), saw http://; to test this DUT over plain HTTP "
                f"anyway, add {plain_http_name}")
    return None


def _plain_http(options: RunOptions, profile: DutProfile) -> bool:
    return bool(options.plain_http or profile.raw.get("tls", {}).get("plain_http"))


def _check_file(label: str, path: Path, what: str) -> bytes:
    if not path.exists():
        raise SessionConfigError(f"{label} {path}: expected {what}, saw no such file")
    if not path.is_file():
        raise SessionConfigError(f"{label} {path}: expected {what}, saw a directory")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SessionConfigError(f"{label} {path}: expected {what}, but it cannot be read: "
                                 f"{exc.strerror or exc}") from None


def _what_is(data: bytes, exc: Exception) -> str:
    """What a file that did not parse seems to hold instead, for `expected …, saw …`."""
    if b"PRIVATE KEY-----" in data and b"CERTIFICATE-----" not in data:
        return "a private key"
    if b"CERTIFICATE-----" in data and b"PRIVATE KEY-----" not in data:
        return "a certificate"
    if b"-----BEGIN" not in data:
        return "no PEM block (DER or another format)" if data.strip() else "an empty file"
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"a malformed PEM ({detail[:120]})"


def _check_identity(options: RunOptions, profile: DutProfile) -> None:
    """The client certificate, its key and the CA: present when needed, readable, well-formed, together."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    from harness.sep.identity import AmbiguousCertificates, load_certificates, select_certificate

    identity = profile.identity
    labels = {key: name_of(options, key) if getattr(options, key) else _profile_name(profile, ["identity", key])
              for key in ("cert", "key", "ca")}
    https = (profile.base_url or "").lower().startswith(("https", "tls://"))
    for key, what in (("cert", "certificate"), ("key", "private key")):
        if https and not getattr(identity, key):
            raise SessionConfigError(
                f"{name_of(options, key)}: expected the client {what} (PEM) the harness presents to the DUT for "
                f"mutual TLS, saw none; give {name_of(options, 'cert')} FILE and {name_of(options, 'key')} FILE "
                "(or identity: {cert: …, key: …} in the profile)")
    if identity.cert:
        data = _check_file(labels["cert"], identity.cert, "a client certificate (PEM)")
        try:
            leaf = x509.load_der_x509_certificate(select_certificate(load_certificates(data),
                                                                     where=str(identity.cert)).der)
        except AmbiguousCertificates as exc:
            raise SessionConfigError(f"{labels['cert']} {identity.cert}: {exc}") from None
        except ValueError as exc:
            raise SessionConfigError(f"{labels['cert']} {identity.cert}: expected a PEM or DER certificate, "
                                     f"saw {_what_is(data, exc)}") from None
        problems = client_certificate_problems(leaf)
        if problems:
            raise SessionConfigError(f"{labels['cert']} {identity.cert}: {'; '.join(problems)}; give a valid "
                                     f"client certificate with {name_of(options, 'cert')}")
        if identity.key:
            key_data = _check_file(labels["key"], identity.key, "the client certificate's private key (PEM)")
            try:
                private = serialization.load_pem_private_key(key_data, password=None)
            except TypeError:
                raise SessionConfigError(f"{labels['key']} {identity.key}: expected an unencrypted private key, "
                                         "saw one protected by a passphrase; the harness cannot ask for it "
                                         "(decrypt it with `openssl pkey -in KEY -out PLAIN`)") from None
            except (ValueError, UnsupportedAlgorithm) as exc:
                raise SessionConfigError(f"{labels['key']} {identity.key}: expected a PEM private key, saw "
                                         f"{_what_is(key_data, exc)}") from None
            spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            if private.public_key().public_bytes(*spki) != leaf.public_key().public_bytes(*spki):
                raise SessionConfigError(
                    f"{labels['key']} {identity.key}: expected the private key of the certificate "
                    f"{identity.cert} ({labels['cert']}), saw the key of another certificate; give the key that "
                    "was made with that certificate")
    if identity.ca and profile.tls_verify != "none":
        data = _check_file(labels["ca"], identity.ca, "the CA certificate(s) that issued the DUT's certificate (PEM)")
        try:
            x509.load_pem_x509_certificates(data)
        except ValueError as exc:
            raise SessionConfigError(f"{labels['ca']} {identity.ca}: expected one or more PEM CA certificates, "
                                     f"saw {_what_is(data, exc)}") from None


def check_lab(options: RunOptions) -> dict[str, Any] | None:
    """The lab file's fields for results.json (harness.report.lab.load_lab), or None when none was given.

    Raises SessionConfigError naming the option as the user gave it, with the file and line of the problem.
    """
    if not options.lab:
        return None
    from harness.report.lab import LabFileError, load_lab

    try:
        return load_lab(options.lab)
    except LabFileError as exc:
        raise SessionConfigError(f"{name_of(options, 'lab')}: {exc}") from None


def _check_nats(options: RunOptions, profile: DutProfile) -> None:
    """--transport nats needs a NATS address; the NATS mapping and encoding must be known values."""
    from harness.transport.nats_run import is_nats_address, run_settings

    if options.transport == "nats" and not is_nats_address(profile.base_url):
        raise SessionConfigError(f"--transport nats: expected a nats:// or tls:// DUT address (a NATS server), saw "
                                 f"{profile.base_url!r}")
    try:
        run_settings(profile.raw, options.nats_mapping, options.encoding)
    except ValueError as exc:
        raise SessionConfigError(f"{profile.file or 'the DUT profile'}: {exc}") from None


def check_run_options(options: RunOptions) -> DutProfile:
    """The run's profile with the options applied, once every option has been checked.

    Raises SessionConfigError with one line naming the option as the user gave it (RunOptions.given_as) when
    the profile cannot be loaded, the DUT address is missing or malformed (or plain http:// without the
    plain-HTTP option), the verification mode is unknown, or the client identity is missing, unreadable,
    malformed, mismatched or unusable for TLS client authentication (expired, not yet valid, wrong key usage).
    """
    profile = resolve_profile(options)
    if not profile.base_url:
        raise SessionConfigError(f"{name_of(options, 'dut')}: expected the DUT address, e.g. "
                                 f"{name_of(options, 'dut')} https://HOST:PORT (or base_url in the profile), saw none")
    label = f"{name_of(options, 'dut')} {options.dut}" if options.dut else _profile_name(profile, ["base_url"])
    plain_name = name_of(options, "plain_http") + " (or tls: {plain_http: true} in the profile)"
    problem = address_problem(profile.base_url, plain_http=_plain_http(options, profile), plain_http_name=plain_name)
    if problem:
        raise SessionConfigError(f"{label}: {problem}")
    _check_nats(options, profile)
    if profile.http_url:
        label = (f"{name_of(options, 'http_url')} {options.http_url}" if options.http_url
                 else _profile_name(profile, ["http_url"]))
        problem = address_problem(profile.http_url, plain_http=True, plain_http_name="", nats=False)
        if problem or not profile.http_url.lower().startswith("http://"):
            raise SessionConfigError(f"{label}: {problem or 'expected the plain-HTTP address http://HOST[:PORT]'}")
    _check_identity(options, profile)
    listener_settings(options, profile, {**profile.variables, **options.variables})
    check_lab(options)
    if options.schema and not Path(options.schema).is_file():
        raise SessionConfigError(f"{name_of(options, 'schema')} {options.schema}: expected an XML schema file, "
                                 "saw no such file")
    return profile


def _bind_address(text: str) -> tuple[str, int] | str:
    """(host, port) of HOST:PORT ([v6]:PORT), or what is wrong with it as `expected …, saw …`."""
    value = text.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = value.rpartition(":")
    if not host:
        return f"expected HOST:PORT to listen on, e.g. 0.0.0.0:8444 (port 0: any free port), saw {text!r}"
    if not (port.isascii() and port.isdigit() and 0 <= int(port) <= 65535):
        return f"expected a port number from 0 to 65535 after {host}:, saw {port!r}"
    return host, int(port)


def listener_settings(options: RunOptions, profile: DutProfile, variables: Mapping[str, Any]) -> Any:
    """The notification listener's settings (harness.engine.notifications.ListenerSettings) from the options over
    the profile's `listener:`, defaulting to 127.0.0.1 on any free port with the client identity's certificate.

    Raises SessionConfigError naming the option as the user gave it for a malformed address or URL and for a
    certificate or key file that does not exist. A profile path holding a run variable the run does not give
    leaves the listener without that file: a case that needs the listener is then an error saying so.
    """
    from harness.engine.identities import _resolve, _Unresolved
    from harness.engine.notifications import ListenerSettings

    raw = profile.raw.get("listener") or {}
    base = Path(profile.file).parent if profile.file else Path.cwd()

    def label(key: str, profile_key: str) -> str:
        option_key = f"listener_{key}" if key != "address" else "listener"
        if getattr(options, option_key):
            return name_of(options, option_key)
        return _profile_name(profile, ["listener", profile_key])

    address = options.listener or raw.get("address") or "127.0.0.1:0"
    bound = _bind_address(str(address))
    if isinstance(bound, str):
        raise SessionConfigError(f"{label('address', 'address')} {address}: {bound}")
    url = options.listener_url or raw.get("url")
    if url:
        problem = address_problem(str(url), plain_http=False, plain_http_name="", nats=False)
        if problem:
            raise SessionConfigError(f"{label('url', 'url')} {url}: {problem}")
    notes = []
    files: dict[str, Path | None] = {}
    for key, fallback in (("cert", profile.identity.cert), ("key", profile.identity.key), ("ca", profile.identity.ca)):
        given = getattr(options, f"listener_{key}", None) if key != "ca" else None
        value = given or raw.get(key)
        if value is None:
            files[key] = Path(fallback) if fallback else None
            continue
        path = Path(str(value)).expanduser()
        if given is None and "${" not in str(value) and not path.is_absolute():
            path = base / path
        try:
            resolved = _resolve(path, variables)
        except _Unresolved as exc:
            notes.append(f"listener.{key}: {exc}")
            files[key] = None
            continue
        assert resolved is not None
        if not resolved.is_file():
            raise SessionConfigError(f"{label(key, key)} {resolved}: expected the notification listener's "
                                     f"{'CA certificate' if key == 'ca' else key} (PEM), saw no such file")
        files[key] = resolved
    given = [name_of(options, k) for k in ("listener", "listener_url", "listener_cert", "listener_key")
             if getattr(options, k)]
    where = ", ".join(given + (["listener: in the profile"] if raw else [])) or (
        "no listener options: 127.0.0.1, the client certificate")
    if notes:
        where += "; " + "; ".join(notes)
    host, port = bound
    return ListenerSettings(host=host, port=port, url=str(url) if url else None, cert=files["cert"],
                            key=files["key"], ca=files["ca"], where=where)


def cli_run_options(args: argparse.Namespace) -> RunOptions:
    """RunOptions from `csip-harness run` arguments, named as the CLI spells them.

    Raises SessionConfigError for a malformed --var.
    """

    return RunOptions(dut=args.dut, profile=args.profile, schema=args.schema, cert=args.cert, key=args.key,
                      ca=args.ca, http_url=args.http_url, tls_verify=args.tls_verify,
                      plain_http=bool(getattr(args, "plain_http", False)),
                      variables=parse_variables(args.var or [], CLI_NAMES["var"]), unattended=args.unattended,
                      listener=getattr(args, "listener", None), listener_url=getattr(args, "listener_url", None),
                      listener_cert=getattr(args, "listener_cert", None),
                      listener_key=getattr(args, "listener_key", None), lab=getattr(args, "lab", None),
                      given_as=dict(CLI_NAMES), transport=getattr(args, "transport", None),
                      nats_mapping=getattr(args, "nats_mapping", None), encoding=getattr(args, "encoding", None))


def check_cli_run(args: argparse.Namespace, reference_profile: Path | None = None) -> None:
    """Check `csip-harness run`'s options before pytest starts; raise SessionConfigError with one line.

    With --reference the run makes its own DUT and identity: only the profile (reference_profile unless
    --profile), --var, --schema and --cases are checked. Without it, --dut (or a --profile naming
    base_url) is required and everything is checked as check_run_options does.
    """
    options = cli_run_options(args)
    if args.cases and not Path(args.cases).exists():
        raise SessionConfigError(f"--cases {args.cases}: expected a test-case file or directory, saw no such file")
    if args.reference:
        if options.profile is None and reference_profile is not None:
            options = dataclasses.replace(options, profile=str(reference_profile))
        resolve_profile(options)
        check_lab(options)
        if options.schema and not Path(options.schema).is_file():
            raise SessionConfigError(f"--schema {options.schema}: expected an XML schema file, saw no such file")
        return
    if not args.dut and not args.profile:
        raise SessionConfigError("expected the DUT: give --dut https://HOST:PORT (with --cert, --key, --ca), a "
                                 "--profile with the DUT's base_url, or --reference, saw none of them")
    check_run_options(options)


def names_for_pytest(given_on_command_line: Mapping[str, bool], ini_keys: Mapping[str, bool],
                 ini_file: str | None) -> dict[str, str]:
    """The names of the options of a pytest run: the command-line option, or `csip_KEY in pytest.ini`.

    given_on_command_line and ini_keys say, per option key, where its value came from.
    """
    names = option_style()
    for key in OPTION_KEYS:
        if not given_on_command_line.get(key) and ini_keys.get(key):
            ini_name = "csip_vars" if key == "var" else f"csip_{key}"
            names[key] = f"{ini_name} in {Path(ini_file).name if ini_file else 'the ini file'}"
    return names
