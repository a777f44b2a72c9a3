"""A replica says it is alive by holding a session lock named after it, for as long as it runs.

A claim's lease tells a dead replica from a live one only once it runs out
(``FLYWHEEL_LEASE_SECONDS``, half a minute), so a replica restarted after a
crash, or the others after a SIGKILL, would wait that long for the work it
held. PostgreSQL already knows sooner: a dead process's connections close and
its session locks go with them. So every replica holds
``pg_advisory_lock(LIVENESS_CLASS, hashtext(name))`` on a connection of its own,
and the others take back the claims of a name whose lock nobody holds
(``ClaimingDispatcher``, once seen so for ``GONE_GRACE_SECONDS``, and not in the
seconds after the server restarted: that drops every replica's lock at once, and
each takes its own again within a second or two).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ..store.journal_pg import LIVENESS_CLASS

log = logging.getLogger("flywheel.replicas")

RECONNECT_SECONDS = 0.5
PING_SECONDS = 0.5  # a dropped connection is found, and the lock held again, this soon


class Liveness:
    def __init__(self, dsn: str, name: str) -> None:
        self.dsn, self.name = dsn, name
        self._conn: Any = None
        self._task: asyncio.Task[None] | None = None
        # False only while another replica's name hashes to ours and holds the lock (one
        # pair in four billion): it makes us look alive meanwhile, the safe way to be wrong.
        self.held = False

    async def start(self) -> None:
        """Hold the lock before claiming anything, so no claim of ours looks orphaned."""
        await self._hold()
        self._task = asyncio.create_task(self._keep_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._drop()

    async def _hold(self) -> None:
        import psycopg

        self._conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
        await self._try_lock()

    async def _try_lock(self) -> None:
        """``try``: waiting for a lock another name holds would stop this replica starting."""
        cursor = await self._conn.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (LIVENESS_CLASS, self.name)
        )
        row = await cursor.fetchone()
        self.held = bool(row and row[0])

    async def _drop(self) -> None:
        conn, self._conn, self.held = self._conn, None, False
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()  # the session ends, and the lock with it

    async def _keep_forever(self) -> None:
        while True:
            await asyncio.sleep(PING_SECONDS)
            try:
                await (self._conn.execute("SELECT 1") if self.held else self._try_lock())
                continue
            except Exception as exc:  # the database restarted: say we live again, quickly
                log.warning("lost the connection that says this replica lives: %s", exc)
                await self._drop()
            while self._conn is None:
                try:
                    await self._hold()
                except Exception:
                    await self._drop()
                    await asyncio.sleep(RECONNECT_SECONDS)
