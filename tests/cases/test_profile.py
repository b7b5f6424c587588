"""DUT profiles: strict loading with file and line, paths relative to the profile, defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cases.profile import ProfileError, load_profile
from harness.paths import project_dir
from harness.session import default_profile_path


def test_bundled_profiles_load() -> None:
    reference = load_profile(project_dir("fixtures") / "profiles" / "reference-server.yaml")
    assert reference.role == "server" and "plain-http" in reference.capabilities and reference.identity.pin == 111115
    generic = load_profile(default_profile_path())
    assert generic.role == "server" and {"edev-list", "time"} <= generic.capabilities


def test_paths_are_relative_to_the_profile_and_defaults_apply(tmp_path: Path) -> None:
    path = tmp_path / "dut.yaml"
    path.write_text("role: server\nidentity: {cert: certs/c.pem, key: /abs/c.key}\n")
    profile = load_profile(path)
    assert profile.identity.cert == tmp_path / "certs" / "c.pem" and profile.identity.key == Path("/abs/c.key")
    assert profile.dcap == "/dcap" and profile.verify_tls and profile.total_timeout == 30.0
    assert profile.capabilities == frozenset()


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("role: server\ncapabilites: [time]\n", 2, "capabilites"),
        ("role: server\nrole: client\n", 2, "duplicate key 'role'"),
        ("role: device\n", 1, "'device' is not one of"),
        ("role: server\ntimeouts: {total: -1}\n", 2, "timeouts/total"),
        ("role: server\nbase_url: ftp://x\n", 2, "base_url"),
        ("name: x\n", 1, "'role' is a required property"),
    ],
)
def test_mistakes_name_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = tmp_path / "dut.yaml"
    path.write_text(text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert info.value.line == line and words in info.value.message
    assert str(info.value).startswith(f"{path}:{line}:")
