"""A pytest plugin that prints what a run still holds of its records when it ends: `-p kept_reports_plugin`."""

from __future__ import annotations

from typing import Any

import pytest

_items: list[pytest.Item] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep the items, to look at them when the run ends."""
    _items.extend(items)


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line: the keys of each record the kept reports carry, and how many items still hold a record."""
    keys = sorted({",".join(sorted(report.csip_record)) for reports in terminalreporter.stats.values()
                   for report in reports if isinstance(getattr(report, "csip_record", None), dict)})
    held = sum(1 for item in _items if getattr(item, "record", None) is not None)
    terminalreporter.write_line(f"kept-records: report keys {keys}; items holding a record {held}")
