"""Replicas on one PostgreSQL database share the work by claiming it from the journal.

A replica does not run what it received: every delivery is journaled, and
every replica's claim loop takes deliveries due now, each the oldest
unfinished one of its issue (``PgJournal.claim``, ``FOR UPDATE SKIP LOCKED``),
so one issue's deliveries apply in arrival order whichever replica runs them,
and a replica with free workers takes on what a busy one received. A claim is
a lease the replica renews while it runs; a replica that dies (SIGKILL, a lost
node) stops renewing, and once its lease runs out any replica hands the work
on. A replica stopping normally hands its unfinished claims back at once.

Retries are the journal's: a delivery postponed for a retry is pending with a
time, and holds back its issue's later deliveries until it is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from ..store.delivery import Delivery
from .notices import Notices
from .worker import Dispatcher

log = logging.getLogger("flywheel.claims")

POLL_SECONDS = 0.5  # for a retry falling due, or a lane another replica just freed


class ClaimingDispatcher(Dispatcher):
    def __init__(
        self,
        journal: Any,
        process: Any,
        metrics: Any,
        *,
        replica: str,
        lease: float = 30.0,
        notices: Notices | None = None,
        **options: Any,
    ) -> None:
        super().__init__(journal, process, metrics, **options)
        self.replica, self.lease, self._notices = replica, lease, notices
        self._claims: dict[asyncio.Task[str], str] = {}  # task → the delivery it runs
        self._wake = asyncio.Event()
        self._released_at = 0.0
        if notices is not None:
            notices.on_delivery.append(self._wake.set)

    @property
    def depth(self) -> int:
        return len(self._inflight)

    async def start(self) -> int:
        if self._workers == 0:
            return 0
        self._loops = [
            asyncio.create_task(self._claim_forever()),
            asyncio.create_task(self._renew_forever()),
        ]
        return 0

    def submit(self, delivery: Delivery) -> None:
        """Journaled already: whichever replica has a free worker claims it."""
        if not self._stopping:
            self._idle.clear()
            self._wake.set()

    async def stop(self, grace: float) -> None:
        await super().stop(grace)  # the claim loops end, running deliveries get their grace
        try:
            handed = await self._journal.release(self.replica)
        except Exception as exc:  # the database is gone: the leases run out instead
            log.warning("could not hand back this replica's claims: %s", exc)
            return
        if handed:
            log.info("handed %d unfinished deliveries back to the other replicas", handed)

    # -- internals -------------------------------------------------------------------

    async def _begin(self, delivery: Delivery) -> int:
        return delivery.attempts  # the claim counted the attempt and marked it running

    async def _claim_forever(self) -> None:
        while not self._stopping:
            self._wake.clear()  # before claiming: a wake while claiming is not lost
            try:
                await self._claim_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database restarting: claim again shortly
                log.warning("claiming deliveries failed: %s", exc)
                await asyncio.sleep(1.0)
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancel
            # that arrives as the wake does, and stop() would then wait for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_SECONDS):
                    await self._wake.wait()

    async def _claim_once(self) -> None:
        now = time.monotonic()
        if now - self._released_at > self.lease / 3:
            self._released_at = now
            handed = await self._journal.release_expired()
            if handed:
                log.warning("took back %d deliveries from a replica that stopped", handed)
        free = self._workers - len(self._inflight)
        claimed = (
            await self._journal.claim(self.replica, lease=self.lease, limit=free) if free else []
        )
        if claimed and self._notices is not None:
            await self._notices.caught_up()
        for delivery in claimed:
            task = asyncio.create_task(self._run_claimed(delivery))
            self._inflight.add(task)
            self._claims[task] = delivery.id
            task.add_done_callback(self._finished)
        if not claimed and not self._inflight:
            self._idle.set()

    async def _run_claimed(self, delivery: Delivery) -> str:
        try:
            return await self._run(delivery)
        finally:  # a retry is the journal's to time here: nothing kept in memory
            self._not_before.pop(delivery.id, None)

    def _finished(self, task: asyncio.Task[str]) -> None:
        self._inflight.discard(task)
        self._claims.pop(task, None)
        self._wake.set()  # a worker is free, and its issue's next delivery may be due

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            running = dict(self._claims)
            try:
                held = await self._journal.extend(self.replica, lease=self.lease)
            except Exception as exc:
                log.warning("renewing this replica's claims failed: %s", exc)
                continue
            for task, delivery_id in running.items():
                if delivery_id not in held and not task.done():
                    # Its lease ran out (this replica stalled) and another replica may be
                    # running it now: stop before writing anything more.
                    log.warning("lost the claim on %s to another replica; stopped", delivery_id)
                    task.cancel()
