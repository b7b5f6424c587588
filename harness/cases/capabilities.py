"""The registry of DUT capabilities (package data): the names profiles declare and cases require."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from functools import cache
from importlib import resources

import yaml


@cache
def _data() -> dict[str, dict[str, str]]:
    text = resources.files("harness.cases").joinpath("capabilities.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 10x faster
    return {key: {str(k): " ".join(str(v).split()) for k, v in (data.get(key) or {}).items()}
            for key in ("capabilities", "renamed", "retired")}


def capabilities() -> dict[str, str]:
    """Every known capability name with its one-line meaning, in registry order."""
    return dict(_data()["capabilities"])


def unknown_capability_message(name: str) -> str | None:
    """Why name is not a capability (renamed, retired, or a typo with the closest names), or None when it is."""
    data = _data()
    if name in data["capabilities"]:
        return None
    if name in data["renamed"]:
        return f"capability {name!r} is now called {data['renamed'][name]!r}"
    if name in data["retired"]:
        return f"capability {name!r} was retired: {data['retired'][name]}; remove it"
    close = difflib.get_close_matches(name, list(data["capabilities"]), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown capability {name!r}{hint} (`csip-harness capabilities` lists the known ones)"


def first_unknown(names: Iterable[str]) -> str | None:
    """The message for the first name in names that is not a capability, or None when all are."""
    for name in names:
        message = unknown_capability_message(name)
        if message:
            return message
    return None
