"""A pytest plugin that makes a pytest-xdist worker die in the middle of one case (CSIP_TEST_CRASH_CASE),
as a worker killed by the OOM killer or a segfault would: loaded with `-p crashing_worker_plugin`."""

from __future__ import annotations

import os

import pytest


def pytest_runtest_call(item: pytest.Item) -> None:
    """End the worker process at once, before the case reports anything."""
    if os.environ.get("PYTEST_XDIST_WORKER") and item.name == os.environ["CSIP_TEST_CRASH_CASE"]:
        os._exit(3)
