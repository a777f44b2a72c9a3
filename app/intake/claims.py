"""Replicas on one PostgreSQL database share the work by claiming it from the journal.

A replica does not run what it received: every delivery is journaled, and
every replica's claim loop takes deliveries due now, each the oldest
unfinished one of its issue (``PgJournal.claim``, ``FOR UPDATE SKIP LOCKED``),
so one issue's deliveries apply in arrival order whichever replica runs them,
and a replica with free workers takes on what a busy one received. A claim is
a lease the replica renews while it runs; a replica that dies (SIGKILL, a lost
node) stops renewing, and once its lease runs out any replica hands the work
on. Sooner, in the usual case: a dead process's session closes, and with it
the lock that says it lives (``liveness.py``), so its claims pass on within
seconds, and a replica restarted after a crash finds its old work at once. A
replica stopping normally hands its unfinished claims back at once.

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
from .liveness import Liveness
from .notices import Notices
from .worker import Dispatcher

log = logging.getLogger("flywheel.claims")

POLL_SECONDS = 0.5  # for a retry falling due, or a lane another replica just freed
GONE_EVERY_SECONDS = 0.5  # how often to look for replicas whose session is gone
# A claimer seen without a session for this long is dead (a moment's reconnect is not)...
GONE_GRACE_SECONDS = 2.0
# ... unless the server restarted since it claimed: that ends every replica's session at once,
# and each live one takes its lock again within a second or two of the server's return.
SERVER_RESTART_GRACE_SECONDS = 10.0


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
        gone_grace: float = GONE_GRACE_SECONDS,
        **options: Any,
    ) -> None:
        super().__init__(journal, process, metrics, **options)
        self.replica, self.lease, self._notices = replica, lease, notices
        self._claims: dict[asyncio.Task[str], str] = {}  # task → the delivery it runs
        self._wake = asyncio.Event()
        self._released_at = self._looked_at = 0.0
        self.liveness = Liveness(journal.dsn, replica)
        self._gone_grace = gone_grace
        self._gone_since: dict[str, float] = {}  # claimers seen without a session, since
        if notices is not None:
            notices.on_delivery.append(self._wake.set)

    @property
    def depth(self) -> int:
        return len(self._inflight)

    async def start(self) -> int:
        if self._workers == 0:
            return 0
        await self.liveness.start()
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
        except Exception as exc:  # the database is gone: our session too, so others take them
            log.warning("could not hand back this replica's claims: %s", exc)
            return
        finally:
            await self.liveness.stop()
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
        if now - self._looked_at >= GONE_EVERY_SECONDS:
            self._looked_at = now
            await self._take_back_from_the_gone(now)
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
        # Idle only if nothing arrived meanwhile: a delivery submitted while the claim above
        # ran (its row committed after the claim's snapshot) woke the loop, and is not done.
        if not claimed and not self._inflight and not self._wake.is_set():
            self._idle.set()

    async def _take_back_from_the_gone(self, now: float) -> None:
        gone, server_up = await self._journal.claimers_gone(self.replica)
        self._gone_since = {name: self._gone_since.get(name, now) for name in gone}
        dead = [
            name
            for name, since in self._gone_since.items()
            if now - since >= self._gone_grace
            and (not gone[name] or server_up >= SERVER_RESTART_GRACE_SECONDS)
        ]
        if dead:
            handed = await self._journal.release_claims_of(dead)
            for name in dead:
                del self._gone_since[name]
            if handed:
                log.warning("took back %d deliveries from %s (its session is gone)", handed,
                            ", ".join(sorted(dead)))  # fmt: skip

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
