"""The periodic passes run on exactly one replica: the one holding an advisory lock.

Reminders, the redelivery sweep and the embedding of the index's missing
vectors must not run on every replica at once (two reminder sweeps would both
find a reminder due, and both post it). Every replica asks PostgreSQL for one
session-level advisory lock on a connection it keeps; the one that gets it
runs the passes for as long as that connection lives. When the leader dies its
connection closes, the server drops the lock, and another replica's next try
(every few seconds) takes over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

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
        self.dsn, self._start_passes, self.every = dsn, start_passes, every
        self.leading = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run_forever(self) -> None:
        while True:
            try:
                await self._lead_while_possible()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the connection dropped: the lock went with it
                log.warning("leadership for the periodic passes lost: %s", exc)
            await asyncio.sleep(self.every)

    async def _lead_while_possible(self) -> None:
        import psycopg

        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            while True:
                cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK,))
                row = await cursor.fetchone()
                if row and row[0]:
                    break
                await asyncio.sleep(self.every)
            log.info("this replica runs the periodic passes (reminders, sweeps)")
            self.leading = True
            passes = self._start_passes()
            try:
                while True:  # hold the lock; a dead connection ends the leadership
                    await asyncio.sleep(self.every)
                    await conn.execute("SELECT 1")
            finally:
                self.leading = False
                for task in passes:
                    task.cancel()
                await asyncio.gather(*passes, return_exceptions=True)
