"""Loading DUT profiles (YAML, strict, with their own JSON Schema)."""

from __future__ import annotations

from pathlib import Path

from harness.cases.model import DutProfile, Identity
from harness.cases.validation import check_document
from harness.cases.yamlload import YamlFileError, load_yaml

ProfileError = YamlFileError


def _relative(base: Path, value: str | None) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path)


def load_profile(path: str | Path) -> DutProfile:
    """Load a DUT profile; paths inside it are relative to the profile file."""
    file = Path(path)
    data = load_yaml(file)
    if not isinstance(data, dict):
        raise ProfileError(file, getattr(data, "line", 1), "expected a mapping with at least 'role'")
    check_document(data, file, "profile.schema.json")
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
        verify_tls=data.get("tls", {}).get("verify", True),
        connect_timeout=float(timeouts.get("connect", 5.0)),
        read_timeout=float(timeouts.get("read", 10.0)),
        total_timeout=float(timeouts.get("total", 30.0)),
        max_body=int(data.get("max_body", 1_048_576)),
        file=file,
        raw=dict(data),
    )
