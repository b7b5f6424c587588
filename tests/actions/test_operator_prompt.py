"""An attended run asks the operator on the terminal: a real pseudo-terminal answers yes or no."""

from __future__ import annotations

import json
import os
import pty
import select
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.pki import TestPki
from harness.reference.process import ReferenceProcess, start_reference_server


@pytest.fixture(scope="module")
def server(pki: TestPki) -> Iterator[ReferenceProcess]:
    """A reference server whose Time quality someone already set to 7 by hand."""
    with start_reference_server(pki, time_quality=7) as started:
        yield started


def read_until(fd: int, marker: bytes, timeout: float = 60) -> bytes:
    """Read the terminal until marker appears (or the child closes it); fail after timeout."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"expected {marker!r} on the terminal, saw {seen.decode(errors='replace')!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    return seen


@pytest.mark.parametrize(("answer", "verdict"), [(b"y", "passed"), (b"n", "error")])
def test_the_operator_is_asked_on_the_terminal(server: ReferenceProcess, pki: TestPki, tmp_path: Path,
                                               answer: bytes, verdict: str) -> None:
    profile = tmp_path / "bench.yaml"
    profile.write_text(yaml.safe_dump({
        "role": "server", "capabilities": ["time"],
        "actions": {"configure-time": {"operator": {"prompt": "Turn the Time quality dial to ${quality}"}}},
    }))
    client, out = pki.clients["client"], tmp_path / "out"
    argv = [sys.executable, "-m", "harness.cli", "run", "--dut", server.base_url, "--cert", str(client.cert),
            "--key", str(client.key), "--ca", str(pki.ca), "--profile", str(profile), "-k", "CORE-005",
            "--out", str(out), "-q"]
    pid, fd = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pseudo-terminal
        os.execv(sys.executable, argv)
    try:
        shown = read_until(fd, b"Done? [y/N]")
        assert b"configure-time: Turn the Time quality dial to 7" in shown
        os.write(fd, answer + b"\n")
        read_until(fd, b"\x00", timeout=60)  # drain until the child exits and closes the terminal
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    [test] = json.loads((out / "results.json").read_text())["tests"]
    assert test["verdict"] == verdict, test["reason"]
    [action] = test["actions"]
    if verdict == "passed":
        assert os.waitstatus_to_exitcode(status) == 0
        assert action["detail"] == "operator confirmed: Turn the Time quality dial to 7"
    else:
        assert os.waitstatus_to_exitcode(status) == 1
        assert test["reason"] == ("setup action 'configure-time' failed through operator prompt: the operator "
                                  "answered no to 'Turn the Time quality dial to 7'")
