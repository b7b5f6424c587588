"""Where a run's evidence bundle goes: a new folder by default, and never over an earlier run unless asked."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

from harness.report.manifest import MANIFEST, MANIFEST_SIGNATURE

RESULTS_JSON = "results.json"
DEFAULT_PARENT = "csip-results"
# What a bundle holds besides what other tools put in its folder (an Allure directory, a lab's notes):
# replacing a run removes these, so that nothing of the earlier run is mistaken for this one's evidence.
_BUNDLE_FILES = (RESULTS_JSON, "report.html", "report.pdf", "csip-summary.csv", "junit.xml", MANIFEST,
                 MANIFEST_SIGNATURE)
_BUNDLE_DIRS = ("exchanges", "pki")


class BundleExistsError(ValueError):
    """The output folder holds an earlier run's evidence and replacing it was not asked for."""


def earlier_run(out_dir: Path) -> str | None:
    """When the run whose results.json lies in out_dir started (its run.started), or None when there is none.

    Only reads. A results.json that cannot be read as a results document still counts as an earlier run
    ("an unreadable results.json"): it is somebody's evidence all the same.
    """
    results = out_dir / RESULTS_JSON
    if not results.is_file():
        return None
    try:
        started = json.loads(results.read_text(encoding="utf-8"))["run"]["started"]
    except (OSError, ValueError, KeyError, TypeError):
        return "at an unknown time (its results.json could not be read)"
    return str(started)


def refuse_earlier_run(out_dir: Path, *, out_option: str, replace_option: str) -> None:
    """Raise BundleExistsError naming the folder, the run it holds and the two ways out; return if it is free.

    out_option and replace_option are the options as the user types them (`--out DIR` and `--replace` for
    `csip-harness run`, `--csip-out DIR` and `--csip-replace` for pytest).
    """
    started = earlier_run(out_dir)
    if started is None:
        return
    raise BundleExistsError(
        f"{out_dir} already holds the evidence of the run started {started}, and a bundle is never overwritten "
        f"unless asked: give another folder ({out_option}) or add {replace_option} to replace that run"
    )


def new_default_folder(parent: Path, now: float) -> Path:
    """Create and return parent/<UTC yyyymmdd-HHMMSS>, suffixed -2, -3… when that name is taken.

    Creation is the claim (mkdir fails when the folder exists), so two runs starting in the same second
    never share a folder.
    """
    stamp = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y%m%d-%H%M%S")
    parent.mkdir(parents=True, exist_ok=True)
    number = 1
    while True:
        folder = parent / (stamp if number == 1 else f"{stamp}-{number}")
        try:
            folder.mkdir()
        except FileExistsError:
            number += 1
            continue
        return folder


def clear_earlier_run(out_dir: Path) -> None:
    """Remove the files and folders of the bundle an earlier run left in out_dir (the user asked to replace it)."""
    for name in _BUNDLE_FILES:
        (out_dir / name).unlink(missing_ok=True)
    for name in _BUNDLE_DIRS:
        path = out_dir / name
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)

