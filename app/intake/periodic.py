"""The background passes of ``serve`` (reminders, redelivery): one loop that outlives failures.

A pass that fails is logged and the next one runs on time: a GitHub outage
must not end a loop that nobody would notice has stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("flywheel.periodic")


async def every(
    interval_seconds: float,
    run_pass: Callable[[], Awaitable[str | None]],
    what: str,
    *,
    first_after: float,
) -> None:
    """Run ``run_pass`` after ``first_after`` seconds, then every interval; log its summary."""
    await asyncio.sleep(first_after)
    while True:
        try:
            summary = await run_pass()
            if summary:
                log.info("%s: %s", what, summary)
        except Exception as exc:  # keep the loop alive; the next pass may succeed
            log.warning("%s failed: %s", what, exc)
        await asyncio.sleep(interval_seconds)
