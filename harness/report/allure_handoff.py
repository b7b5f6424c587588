"""Allure hand-off: with --alluredir, each case's labels, steps and raw exchanges go to allure-pytest.

allure-pytest owns the result files; this module only feeds it through allure's public adapter API
(dynamic labels, start_step/stop_step, attach), and only when the user asked for Allure results.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest

from harness.report.evidence import exchange_text
from harness.results import ERROR, FAILED, PASSED, StepRecord, TestRecord


def allure_active(config: pytest.Config) -> bool:
    """Whether allure-pytest is writing results in this run (the user passed --alluredir)."""
    return bool(getattr(config.option, "allure_report_dir", None))


def _step_outcome(step: StepRecord) -> BaseException | None:
    """The exception allure reads a step's status from: failed, broken, skipped, or None for passed."""
    if step.verdict in (PASSED, "waived"):
        return None
    if step.verdict == FAILED:
        return AssertionError(step.message)
    if step.verdict == ERROR:
        return RuntimeError(step.message)
    return pytest.skip.Exception(step.message or step.verdict.replace("_", " "))


def _step_title(step: StepRecord, waivers: dict[int, str]) -> str:
    title = f"step {step.index}: {step.name}"
    if step.verdict == "waived":
        title += f" (waived: {waivers.get(step.index, 'waived in the DUT profile')})"
    return title


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def _waivers(record: TestRecord) -> dict[int, str]:
    """Step index -> reason, for the steps a lab waived in the DUT profile (the record may carry none)."""
    found = getattr(record, "waivers", None) or ()
    return {int(_field(w, "step")): str(_field(w, "reason") or "") for w in found if _field(w, "step") is not None}


def hand_off(record: TestRecord) -> None:
    """Label the current Allure test (feature = function set, story = procedure id) and add its steps."""
    import allure
    from allure_commons import plugin_manager
    from allure_commons.types import AttachmentType
    from allure_commons.utils import uuid4

    allure.dynamic.story(record.id)
    if record.function_sets:
        allure.dynamic.feature(*record.function_sets)
    if record.reason:
        allure.dynamic.description(record.reason)
    waivers = _waivers(record)
    for step in record.steps:
        uuid = uuid4()
        params: dict[str, Any] = {"verdict": step.verdict}
        if step.ref:
            params["procedure step"] = step.ref
        plugin_manager.hook.start_step(uuid=uuid, title=_step_title(step, waivers), params=params)
        for number, exchange in enumerate(step.exchanges, start=1):
            outcome = exchange.status if exchange.status is not None else exchange.error_kind or "error"
            allure.attach(exchange_text(record.id, step.index, number, asdict(exchange)),
                          name=f"{exchange.method} {exchange.url} -> {outcome}", attachment_type=AttachmentType.TEXT)
        if step.mismatches:
            allure.attach("\n".join(f"{m['path']}: expected {m['expected']}, saw {m['seen']}" for m in step.mismatches),
                          name="expected vs observed", attachment_type=AttachmentType.TEXT)
        exc = _step_outcome(step)
        plugin_manager.hook.stop_step(uuid=uuid, exc_type=type(exc) if exc else None, exc_val=exc, exc_tb=None)
