"""The periodic passes run on exactly one replica: the one holding an advisory lock.

Reminders, the redelivery sweep and the embedding of the index's missing
vectors must not run on every replica at once (two reminder sweeps would both
find a reminder due, and both post it). Every replica asks PostgreSQL for one
session-level advisory lock on a connection it keeps; the one that gets it
runs the passes for as long as that connection lives (``session_lock.py``).
When the leader dies its connection closes, the server drops the lock, and
another replica's next try (every few seconds) takes over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from .session_lock import SessionLock

log = logging.getLogger("flywheel.replicas")

LEADER_LOCK = 0x466C7957  # "FlyW": not the migrations' lock
TRY_EVERY_SECONDS = 5.0


class Leadership:
    def __init__(
        self,
        dsn: str,
        start_passes: Callable[[], list[asyncio.Task[None]]],
        *,
        every: float = TRY_EVERY_SECONDS,
    ) -> None:
        self._start_passes = start_passes
        self._passes: list[asyncio.Task[None]] = []
        self._lock = SessionLock(
            dsn,
            "SELECT pg_try_advisory_lock(%s)",
            (LEADER_LOCK,),
            what="for the periodic passes",
            every=every,
            on_held=self._lead,
            on_lost=self._step_down,
        )

    @property
    def leading(self) -> bool:
        return self._lock.held

    def start(self) -> None:
        self._lock.begin()

    async def stop(self) -> None:
        await self._lock.stop()

    async def _lead(self) -> None:
        log.info("this replica runs the periodic passes (reminders, sweeps)")
        self._passes = self._start_passes()

    async def _step_down(self) -> None:
        passes, self._passes = self._passes, []
        for task in passes:
            task.cancel()
        await asyncio.gather(*passes, return_exceptions=True)
