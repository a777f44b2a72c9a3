"""What replicas on one PostgreSQL database tell each other, over ``LISTEN/NOTIFY``.

A replica keeps a few things in memory that another replica's work can make
stale: the moment of each issue's last comment write (``replica_writes.py``)
and the labels it added (a person removing one is handled wherever the
``unlabeled`` delivery lands). Each such change is announced as a numbered
notice; every replica applies the others' notices as they arrive.

Arrival is prompt but not ordered with the claims a replica makes on another
connection, so ``caught_up`` is a barrier: before running what it just claimed,
a replica waits until it has heard every notice numbered so far (a millisecond,
usually). A notice it can have missed (the listening connection dropped, a
wait that ran out) drops what the notices keep current, which only costs reads.
A new delivery journaled by any replica wakes the others (``deliveries``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from ..store.journal_pg import DELIVERIES_CHANNEL

log = logging.getLogger("flywheel.replicas")

CHANNEL = "flywheel_notices"
CATCH_UP_SECONDS = 1.0

Handler = Callable[[dict[str, Any]], None]


class Notices:
    def __init__(self, dsn: str, replica: str, pool: Any) -> None:
        self.dsn, self.replica, self._pool = dsn, replica, pool
        self.handlers: dict[str, Handler] = {}
        self.on_gap: list[Callable[[], None]] = []  # drop what notices keep current
        self.on_delivery: list[Callable[[], None]] = []
        self.heard = 0  # the highest notice number received
        self._arrived = asyncio.Event()
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever())
        try:
            async with asyncio.timeout(10):
                await self._listening.wait()
        except TimeoutError:
            log.warning("not yet listening to the other replicas; carrying on")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def publish(self, kind: str, body: dict[str, Any], conn: Any = None) -> None:
        """Tell the other replicas (on ``conn`` when given: sent when its transaction
        commits, with the change it announces)."""
        text = json.dumps({"replica": self.replica, "kind": kind, **body})
        sql = "SELECT pg_notify(%s, nextval('replica_notices')::text || ' ' || %s)"
        if conn is not None:
            await conn.execute(sql, (CHANNEL, text))
            return
        async with self._pool.connection() as own:
            await own.execute(sql, (CHANNEL, text))

    async def caught_up(self) -> None:
        """Wait until every notice numbered so far has been heard (see the module's note)."""
        async with self._pool.connection() as conn:
            row = await (
                await conn.execute("SELECT last_value, is_called FROM replica_notices")
            ).fetchone()
        target = int(row["last_value"]) if row["is_called"] else 0
        deadline = asyncio.get_running_loop().time() + CATCH_UP_SECONDS
        while self.heard < target:
            left = deadline - asyncio.get_running_loop().time()
            self._arrived.clear()
            try:
                async with asyncio.timeout(max(0.0, left)):
                    await self._arrived.wait()
            except TimeoutError:
                self._gap(f"notices up to {target} not heard within {CATCH_UP_SECONDS} s")
                self.heard = max(self.heard, target)

    # -- listening -------------------------------------------------------------------

    async def _listen_forever(self) -> None:
        import psycopg

        first = True
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    await conn.execute(f"LISTEN {DELIVERIES_CHANNEL}")
                    if not first:  # notices sent while we were not listening are lost
                        self._gap("the listening connection was opened again")
                    first = False
                    self._listening.set()
                    async for notice in conn.notifies():
                        self._received(notice.channel, notice.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the server restarted, a failover: listen again
                log.warning("listening to the other replicas failed: %s; again in 1 s", exc)
                await asyncio.sleep(1.0)

    def _received(self, channel: str, payload: str) -> None:
        if channel == DELIVERIES_CHANNEL:
            for wake in self.on_delivery:
                wake()
            return
        number, _, text = payload.partition(" ")
        try:
            body = json.loads(text)
            if body.get("replica") != self.replica:
                handler = self.handlers.get(str(body.get("kind")))
                if handler is not None:
                    handler(body)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("a notice from another replica could not be read: %s", exc)
        if number.isdigit():
            self.heard = max(self.heard, int(number))
        self._arrived.set()

    def _gap(self, why: str) -> None:
        log.info("dropping what other replicas' notices keep current: %s", why)
        for drop in self.on_gap:
            drop()
