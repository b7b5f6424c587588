"""pytest plugin: options, collection of YAML test cases, result hand-off."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the csip-harness command-line and ini options."""
    group = parser.getgroup("csip", "IEEE 2030.5 / CSIP conformance harness")
    for name, help_text in (
        ("dut", "base URL of the device under test, e.g. https://127.0.0.1:8443"),
        ("profile", "DUT profile YAML (role, capabilities, identity)"),
        ("schema", "XML schema to validate against (default: the bundled CSIP schema)"),
        ("out", "directory for results.json and report.html"),
    ):
        group.addoption(f"--csip-{name}", dest=f"csip_{name}", default=None, help=help_text)
        parser.addini(f"csip_{name}", help_text, default=None)
