"""Stopping a reference process (the reference server, the reference DER client) that a test or run started."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import IO


def stop_child(process: subprocess.Popen[bytes], stderr: IO[bytes], workdir: Path, timeout: float) -> None:
    """SIGTERM, then SIGKILL after timeout seconds; close its captured stderr and remove its work directory."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if not stderr.closed:
        stderr.close()
    shutil.rmtree(workdir, ignore_errors=True)
