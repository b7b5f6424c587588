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
    DUT address (the device connects to us, never the reverse), or gives a profile of another role.
    """
    role = name_of(options, "role")
    if options.dut:
        raise SessionConfigError(f"{role} client: the device connects to the harness, so there is no "
                                 f"{name_of(options, 'dut')}; give {option_name(options, 'reference')} or "
                                 f"{name_of(options, 'profile')} DEVICE.yaml (the run prints the address the "
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
    return profile


def option_name(options: RunOptions, words: str) -> str:
    """How this run spells an option: `--defect` under `csip-harness run`, `--csip-defect` under pytest."""
    return f"--{words}" if name_of(options, "dut") == "--dut" else f"--csip-{words}"
