"""A PostgreSQL session-level advisory lock held on a connection of its own, for as long as
the process lives and can reach the server.

Two things replicas decide this way: which one runs the periodic passes (the
leader's lock, ``leadership.py``) and which are alive (each its own lock,
``liveness.py``). A process's death closes its connection and the server drops
the lock at once, with no lease to wait out. The holder pings its connection;
when the server restarts or the connection drops, the lock is gone with it,
and the holder connects again and tries for it anew.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

log = logging.getLogger("flywheel.replicas")


class SessionLock:
    def __init__(
        self,
        dsn: str,
        try_sql: str,
        params: Sequence[Any],
        *,
        what: str,
        every: float,
        on_held: Callable[[], Awaitable[None]] | None = None,
        on_lost: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``try_sql``: a ``pg_try_advisory_lock(…)`` answering whether the lock is ours now;
        ``what``: the lock, for a log line; ``every``: seconds between tries while another
        session holds it, and between pings."""
        self.dsn, self._try_sql, self._params, self.every = dsn, try_sql, tuple(params), every
        self.what = what
        self._on_held, self._on_lost = on_held, on_lost
        self.held = False
        self._first_try = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def begin(self) -> None:
        """Try for the lock from now on, in the background."""
        self._task = asyncio.create_task(self._hold_forever(raise_first=False))

    async def start(self) -> None:
        """Return once the first try is answered (raising if it could not be made): the
        caller holds the lock, if it is free, before it depends on holding it."""
        self._task = asyncio.create_task(self._hold_forever(raise_first=True))
        waiting = asyncio.create_task(self._first_try.wait())
        await asyncio.wait({waiting, self._task}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if self._task.done():
            self._task.result()  # the first connection failed: say why

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _hold_forever(self, *, raise_first: bool) -> None:
        import psycopg

        while True:
            reached = False  # a connection that worked and then dropped is made again at once
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    while True:
                        if self.held:
                            await conn.execute("SELECT 1")  # a dead connection ends the hold
                        else:
                            await self._try(conn)
                        reached = True
                        self._first_try.set()
                        await asyncio.sleep(self.every)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the server restarted, the connection dropped
                if raise_first and not self._first_try.is_set():
                    raise
                log.warning("lost the connection holding the lock %s: %s", self.what, exc)
            finally:
                await self._lose()
            if not reached:
                await asyncio.sleep(self.every)

    async def _try(self, conn: Any) -> None:
        row = await (await conn.execute(self._try_sql, self._params)).fetchone()
        if row and row[0]:
            self.held = True
            if self._on_held is not None:
                await self._on_held()

    async def _lose(self) -> None:
        if self.held:
            self.held = False
            if self._on_lost is not None:
                with contextlib.suppress(Exception):
                    await self._on_lost()
