"""What the run is waiting for, said through RunContext.progress while it waits, so a hanging DUT is never silent.

While an exchange is outstanding for more than NOTICE_AFTER_S, one line goes to ctx.progress, and another every
NOTICE_EVERY_S until the answer (or the timeout) comes: "CORE-005 step 2: waiting for the DUT: GET
https://…/tm (4 s of 30 s)". Nothing is scheduled when nobody listens (the default no_progress), so the exchange
path pays nothing for it then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from contextvars import ContextVar
from typing import TypeVar

from harness.engine.context import RunContext, no_progress

T = TypeVar("T")

NOTICE_AFTER_S = 2.0
NOTICE_EVERY_S = 5.0

# The id of the case being run, set by the runner for the task that runs it: the step loop's helpers do not
# carry the case, and a progress line must name it.
CURRENT_CASE: ContextVar[str] = ContextVar("csip_current_case", default="")


async def waiting_for(ctx: RunContext, step_index: int, what: str, limit_s: float | None,
                      awaitable: Awaitable[T]) -> T:
    """Await awaitable; while it is outstanding past NOTICE_AFTER_S, tell ctx.progress what is awaited.

    what names the awaited thing ("the DUT: GET https://…/tm"); limit_s is its timeout in seconds (None: none).
    """
    if ctx.progress is no_progress:
        return await awaitable
    loop = asyncio.get_running_loop()
    started = loop.time()
    where = f"{CURRENT_CASE.get() or 'case'} step {step_index}"
    of = f" of {limit_s:g} s" if limit_s else ""

    def notice() -> None:
        nonlocal handle
        ctx.progress(f"{where}: waiting for {what} ({loop.time() - started:.0f} s{of})")
        handle = loop.call_later(NOTICE_EVERY_S, notice)

    handle = loop.call_later(NOTICE_AFTER_S, notice)
    try:
        return await awaitable
    finally:
        handle.cancel()
