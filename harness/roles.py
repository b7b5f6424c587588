"""The DUT's role of a run (server or client) and the client DUT's profile, from the run's options.

Light to import: the pytest plugin decides the role before anything starts (harness.plugin), and the
client-role run itself lives in harness.server.clientsession.
"""

from __future__ import annotations

from pathlib import Path

from harness.cases.model import DutProfile
from harness.optioncheck import RunOptions, SessionConfigError, name_of, resolve_profile

ROLES = ("server", "client")


def reference_client_profile() -> Path:
    """The profile describing the reference DER client (its actions through its admin API)."""
    from harness.paths import project_dir

    return project_dir("fixtures") / "profiles" / "reference-der-client.yaml"


def run_role(options: RunOptions) -> str:
    """The DUT role of a run: `--csip-role` (ini csip_role), else the profile's `role:`, else server.

    SessionConfigError for a role other than server or client, or a profile that cannot be loaded.
    """
    if options.role:
        if options.role not in ROLES:
            raise SessionConfigError(f"{name_of(options, 'role')}: expected server or client, saw {options.role!r}")
        return options.role
    if options.profile:
        return resolve_profile(options).role
    return "server"


def client_profile(options: RunOptions, reference: bool) -> DutProfile:
    """The client DUT's profile, checked: the one given, else (with --csip-reference) the reference DER client's.

    SessionConfigError, naming the options as the user gave them, when the run names no client DUT, names a
    DUT address (the device connects to us, never the reverse; over NATS a real device's NATS server is the one
    address allowed), gives a profile of another role, or asks for NATS what it cannot have (check_client_nats).
    """
    role = name_of(options, "role")
    if options.dut and (reference or not over_nats(options)):
        raise SessionConfigError(f"{role} client: the device connects to the harness, so there is no "
                                 f"{name_of(options, 'dut')} (except {option_name(options, 'transport')} nats with a "
                                 f"real device: the NATS server it uses); give {option_name(options, 'reference')} "
                                 f"or {name_of(options, 'profile')} DEVICE.yaml (the run prints the address the "
                                 "device must use)")
    if not reference and not options.profile:
        raise SessionConfigError(f"{role} client: expected {option_name(options, 'reference')} (the bundled "
                                 f"reference DER client) or {name_of(options, 'profile')} DEVICE.yaml (a real device, "
                                 "role: client)")
    path = options.profile or str(reference_client_profile())
    profile = resolve_profile(RunOptions(profile=path, given_as=options.given_as))
    if profile.role != "client":
        raise SessionConfigError(f"{role} client: expected a profile with role: client, saw role {profile.role} in "
                                 f"{path}")
    check_client_nats(options, reference, profile)
    return profile


def over_nats(options: RunOptions) -> bool:
    """Whether a client-role run carries 2030.5 over NATS (docs/nats-mapping.md): --transport nats, or a mapping."""
    return options.transport == "nats" or bool(options.nats_mapping)


def check_client_nats(options: RunOptions, reference: bool, profile: DutProfile) -> None:
    """The NATS options of a client-role run, checked before anything starts; SessionConfigError when wrong.

    JSON bodies travel only over NATS (CUPID); a real device over NATS is met on its own NATS server, the DUT
    address (nats:// or tls://, the latter with the test server's NATS TLS credentials as cert/key/ca), and is
    known by the certificate of its profile's identity; the mapping and encoding must be known values.
    """
    from harness.transport.nats_run import is_nats_address, run_settings

    transport, role = option_name(options, "transport"), name_of(options, "role")
    if not over_nats(options):
        if options.encoding == "json":
            raise SessionConfigError(f"{role} client {option_name(options, 'encoding')} json: expected {transport} "
                                     "nats (CUPID's JSON travels over NATS; over HTTPS 2030.5 bodies are XML), saw no "
                                     "NATS transport")
        return
    try:
        run_settings(profile.raw, options.nats_mapping, options.encoding)
    except ValueError as exc:
        raise SessionConfigError(f"{role} client {transport} nats: {exc}") from None
    if reference:
        return
    dut = name_of(options, "dut")
    if not options.dut or not is_nats_address(options.dut):
        raise SessionConfigError(f"{role} client {transport} nats with a real device: expected {dut} "
                                 "nats://HOST:PORT or tls://HOST:PORT (the NATS server the device uses), saw "
                                 f"{options.dut or 'none'}")
    if profile.identity.cert is None:
        raise SessionConfigError(f"{role} client {transport} nats: expected the device's certificate as identity: "
                                 f"{{cert: ...}} in {profile.file or 'the profile'} (the test server knows the device "
                                 "by its LFDI), saw none")
    if options.dut.lower().startswith("tls://") and not (options.cert and options.key and options.ca):
        raise SessionConfigError(f"{dut} {options.dut}: expected {name_of(options, 'cert')}/"
                                 f"{name_of(options, 'key')}/{name_of(options, 'ca')}, the test server's NATS TLS "
                                 "client certificate (a user allowed to subscribe to the request subjects and "
                                 "answer), saw not all three")


def option_name(options: RunOptions, words: str) -> str:
    """How this run spells an option: `--defect` under `csip-harness run`, `--csip-defect` under pytest."""
    return f"--{words}" if name_of(options, "dut") == "--dut" else f"--csip-{words}"
