"""Loading DUT profiles (YAML, strict, with their own JSON Schema)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.cases.capabilities import unknown_capability_message
from harness.cases.model import ActionMapping, DutProfile, Identity, Waiver
from harness.cases.validation import check_document
from harness.cases.yamlload import YamlFileError, line_of, load_yaml
from harness.sep.tls import verify_mode

ProfileError = YamlFileError


def _relative(base: Path, value: str | None) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path)


def _actions(data: dict[str, Any], file: Path) -> dict[str, ActionMapping]:
    from harness.actions.builtin import BUILTIN_ACTIONS, BUILTIN_OBSERVATIONS

    mappings = {}
    for name, mapping in data.get("actions", {}).items():
        (kind, config), = mapping.items()
        line = line_of(data, ["actions", name])
        builtins = BUILTIN_ACTIONS | BUILTIN_OBSERVATIONS
        if kind == "builtin" and name not in builtins:
            raise ProfileError(file, line, f"actions/{name}: the reference DUTs' admin interface has no built-in "
                               f"{name!r} (built-in: {', '.join(sorted(builtins))})")
        settings = dict(config or {})
        # Files a mapping names are found beside the profile, like the identity's; commands run there.
        for setting in ("ca", "cert", "key"):
            if kind == "http" and settings.get(setting) and "${" not in settings[setting]:
                settings[setting] = str(_relative(file.parent, settings[setting]))
        if kind == "command":
            cwd = settings.get("cwd")
            settings["cwd"] = str(_relative(file.parent, cwd) if cwd and "${" not in cwd else cwd or file.parent)
        mappings[name] = ActionMapping(name, kind, settings, line)
    return mappings


def _allowed_origins(data: dict[str, Any], file: Path) -> tuple[str, ...]:
    from harness.transport.http import origin

    origins = []
    for index, url in enumerate(data.get("tls", {}).get("allowed_origins", ())):
        try:
            origins.append(origin(url))
        except ValueError as exc:
            raise ProfileError(file, line_of(data, ["tls", "allowed_origins", index]),
                               f"tls/allowed_origins/{index}: {exc}") from None
    return tuple(origins)


def _identity_path(base: Path, value: str | None) -> Path | None:
    # A path holding a run variable (${pki_dir}/other.pem) is resolved when the run starts.
    return Path(value) if value and "${" in value else _relative(base, value)


def load_profile(path: str | Path) -> DutProfile:
    """Load a DUT profile; paths inside it are relative to the profile file."""
    file = Path(path)
    data = load_yaml(file)
    if not isinstance(data, dict):
        raise ProfileError(file, getattr(data, "line", 1), "expected a mapping with at least 'role'")
    if isinstance(data.get("actions"), dict):
        from harness.cases.loadparts import check_action_names

        check_action_names(data, "actions", file, [([name], name) for name in data["actions"]])
    check_document(data, file, "profile.schema.json")
    for i, name in enumerate(data.get("capabilities", ())):
        problem = unknown_capability_message(name)
        if problem:
            raise ProfileError(file, line_of(data, ["capabilities", i]), f"capabilities: {problem}")
    base = file.parent
    identity = data.get("identity", {})
    timeouts = data.get("timeouts", {})
    return DutProfile(
        role=data["role"],
        name=data.get("name", "device under test"),
        base_url=data.get("base_url"),
        http_url=data.get("http_url"),
        dcap=data.get("dcap", "/dcap"),
        capabilities=frozenset(data.get("capabilities", ())),
        identity=Identity(
            cert=_relative(base, identity.get("cert")),
            key=_relative(base, identity.get("key")),
            ca=_relative(base, identity.get("ca")),
            pin=identity.get("pin"),
        ),
        tls_verify=verify_mode(data.get("tls", {}).get("verify", True)),
        allowed_origins=_allowed_origins(data, file),
        connect_timeout=float(timeouts.get("connect", 5.0)),
        read_timeout=float(timeouts.get("read", 10.0)),
        total_timeout=float(timeouts.get("total", 30.0)),
        max_body=int(data.get("max_body", 1_048_576)),
        time_scale_supported=bool(data.get("time_scale", False)),
        actions=_actions(data, file),
        variables=dict(data.get("variables", {})),
        plugins=tuple(data.get("plugins", ())),
        waivers=tuple(Waiver(w["case"], w["step"], w["reason"], w.get("by")) for w in data.get("waivers", ())),
        identities={name: Identity(cert=_identity_path(base, files.get("cert")),
                                   key=_identity_path(base, files.get("key")))
                    for name, files in data.get("identities", {}).items()},
        file=file,
        raw=dict(data),
    )
