"""The run's client identities: named certificate/key pairs, their `${identities.NAME.*}` variables, and the
TLS context and transport of each, built the first time a step acts as it and kept for the run.

`client` is the default identity (the profile's `identity:`, --csip-cert/--csip-key); the profile's
`identities:` maps other names (a second device, an aggregator, the COMM-003/004 certificates) to files. A step
written `as: NAME` acts as that identity; a name the profile does not map makes the step not applicable.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from harness.sep.identity import certificate_der, fingerprint, lfdi, sfdi
from harness.sep.tls import MANDATORY_CIPHER, client_context
from harness.transport.http import HttpTransport

DEFAULT_IDENTITY = "client"


@dataclass(frozen=True)
class IdentityFiles:
    """Where one identity's certificate (its chain, leaf first) and private key are."""

    cert: Path
    key: Path | None


def _leaf_curve(cert: Path) -> str | None:
    key = x509.load_der_x509_certificate(certificate_der(cert)).public_key()
    return key.curve.name if isinstance(key, ec.EllipticCurvePublicKey) else None


def identity_variables(cert: Path) -> dict[str, Any]:
    """lfdi, sfdi, certificate_sha256 and mrid_base (the LFDI's first 24 hex digits) of a certificate file."""
    der = certificate_der(cert)
    value = lfdi(der)
    return {"lfdi": value, "sfdi": sfdi(der), "certificate_sha256": fingerprint(der), "mrid_base": value[:24]}


class IdentityBook:
    """The identities of one run and, lazily, one SSL context and one transport per identity."""

    def __init__(self, files: dict[str, IdentityFiles], ca: Path | None, verify: str,
                 transport_options: dict[str, Any], default_transport: HttpTransport | None = None,
                 unavailable: dict[str, str] | None = None) -> None:
        self.files = dict(files)
        self.unavailable = dict(unavailable or {})  # name -> why the profile's mapping cannot be used
        self.ca = ca
        self.verify = verify
        self.transport_options = transport_options
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._transports: dict[str, Any] = {}
        # Makes the transport of a named identity when the DUT is not reached over HTTP(S) (a NATS connection
        # carrying that identity's certificate and LFDI); None: an HttpTransport presenting its certificate.
        self.transport_factory: Callable[[str], Any] | None = None
        if default_transport is not None:
            self._transports[DEFAULT_IDENTITY] = default_transport
        self._variables: dict[str, dict[str, Any]] = {}

    def adopt_default(self, transport: HttpTransport) -> None:
        """Use transport, the session's own, for the default identity (`client`): one connection, not two."""
        self._transports[DEFAULT_IDENTITY] = transport

    def __contains__(self, name: object) -> bool:
        return name in self.files

    def missing_reason(self, name: str) -> str:
        """Why a step acting as name cannot run on this DUT (the profile maps no files for it)."""
        if name in self.unavailable:
            return f"identity {name!r} is not available: {self.unavailable[name]}"
        known = ", ".join(sorted(self.files)) or "none"
        return (f"the DUT profile maps no certificate for identity {name!r} (identities: in the profile; "
                f"mapped: {known})")

    def variables(self) -> dict[str, dict[str, Any]]:
        """`${identities.NAME.lfdi}` and the like for every mapped identity (read once, then kept)."""
        for name, files in self.files.items():
            if name not in self._variables:
                try:
                    self._variables[name] = identity_variables(files.cert)
                except (OSError, ValueError):
                    # A certificate the harness cannot read has no variables; acting as it is then an error.
                    self._variables[name] = {}
        return self._variables

    def describe(self, name: str) -> dict[str, Any]:
        """What the evidence records of the identity an exchange used: name, certificate SHA-256, LFDI."""
        values = self.variables().get(name, {})
        return {"name": name, "certificate_sha256": values.get("certificate_sha256"), "lfdi": values.get("lfdi")}

    def context(self, name: str) -> ssl.SSLContext:
        """The TLS 1.2 client context presenting name's certificate chain; raises OSError/ssl.SSLError."""
        if name not in self._contexts:
            files = self.files[name]
            self._contexts[name] = client_context(files.cert, files.key, self.ca, verify=self.verify)
        return self._contexts[name]

    def probe_context(self, name: str) -> ssl.SSLContext:
        """name's context for the TLS probe: as context(), but offering only TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8
        (0xC0AE) and only the secp256r1 group, as COMM-003/004 drive the handshake."""
        key = f"probe:{name}"
        if key not in self._contexts:
            files = self.files[name]
            context = client_context(files.cert, files.key, self.ca, verify=self.verify)
            context.set_ciphers(MANDATORY_CIPHER)
            if _leaf_curve(files.cert) == "secp256r1":
                # OpenSSL: the supported_groups offered become this one curve. An identity with another key (the
                # COMM-003 P-384 certificate) keeps the default groups, or OpenSSL would not send its certificate.
                context.set_ecdh_curve("prime256v1")
            self._contexts[key] = context
        return self._contexts[key]

    def transport(self, name: str) -> Any:
        """The keep-alive transport of name (the run's own transport for the default identity): an HttpTransport,
        or what transport_factory makes for the DUT's scheme (harness.transport.registry)."""
        if name not in self._transports:
            if self.transport_factory is not None:
                self._transports[name] = self.transport_factory(name)
            else:
                self._transports[name] = HttpTransport(self.context(name), **self.transport_options)
        return self._transports[name]

    async def aclose(self) -> None:
        """Close the transports this book opened (the default one belongs to the session)."""
        for name, transport in self._transports.items():
            if name != DEFAULT_IDENTITY:
                await transport.aclose()


class _Unresolved(Exception):
    pass


def _resolve(path: Path | None, variables: dict[str, Any]) -> Path | None:
    if path is None or "${" not in str(path):
        return path
    from harness.cases.variables import VariableError, substitute

    try:
        return Path(str(substitute(str(path), variables)))
    except VariableError as exc:
        raise _Unresolved(f"its path {path} needs a run variable (--csip-var NAME=VALUE): {exc}") from None


def build_identity_book(profile: Any, default_transport: HttpTransport | None, variables: dict[str, Any],
                        transport_options: dict[str, Any]) -> IdentityBook:
    """The book of a run: `client` from profile.identity, the others from profile.identities.

    Paths holding `${NAME}` take the run variables (--csip-var, the profile's variables); an identity whose
    variable the run does not give is unavailable (its steps are not applicable, naming the variable). Raises
    ValueError naming the identity when a file does not exist or a certificate cannot be read.
    """
    files: dict[str, IdentityFiles] = {}
    unavailable: dict[str, str] = {}
    if profile.identity.cert:
        files[DEFAULT_IDENTITY] = IdentityFiles(Path(profile.identity.cert), profile.identity.key)
    for name, identity in profile.identities.items():
        try:
            cert, key = _resolve(identity.cert, variables), _resolve(identity.key, variables)
        except _Unresolved as exc:
            unavailable[name] = str(exc)
            continue
        for what, path in (("certificate", cert), ("key", key)):
            if path is not None and not path.is_file():
                raise ValueError(f"identity {name!r}: expected its {what} file {path}, saw no such file")
        assert cert is not None, "the profile schema requires cert"
        try:
            certificate_der(cert)
        except (OSError, ValueError) as exc:
            raise ValueError(f"identity {name!r}: {exc}") from None
        files[name] = IdentityFiles(cert, key)
    return IdentityBook(files, profile.identity.ca, profile.tls_verify, transport_options, default_transport,
                        unavailable)
