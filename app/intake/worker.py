"""Takes journaled deliveries and runs them: in order per issue, concurrently across issues.

Deliveries about one issue share a *lane*; a lane runs one delivery at a
time, in arrival order, and a delivery waiting for a retry holds its lane so
that a later edit can never overtake an earlier opening. Lanes run
concurrently up to the worker count.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import traceback
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from ..github.errors import PermanentGitHubError, TransientGitHubError, classify
from ..observe import logs
from ..observe.metrics import Metrics
from ..store.delivery import DONE, FAILED, Delivery
from ..store.journal import Journal

log = logging.getLogger("flywheel.worker")

ProcessFn = Callable[[Delivery], Awaitable[dict[str, Any]]]


class DeliveryFailed(Exception):
    """Processing finished, but some handler failed: recorded as failed with this reason."""

    def __init__(self, reason: str, outcome: dict[str, Any]) -> None:
        super().__init__(reason)
        self.outcome = outcome


def backoff_delay(
    attempt: int, retry_after: float | None, *, base: float = 2.0, cap: float = 900.0
) -> float:
    """Exponential back-off with jitter, never shorter than what GitHub asked for.

    >>> 1.0 <= backoff_delay(1, None) <= 2.0
    True
    >>> backoff_delay(1, 60.0) >= 60.0
    True
    """
    exponential = min(cap, base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
    return max(exponential, retry_after or 0.0)


class Dispatcher:
    def __init__(
        self,
        journal: Journal,
        process: ProcessFn,
        metrics: Metrics,
        *,
        workers: int = 8,
        max_attempts: int = 200,
        retry_base: float = 2.0,
        retry_for: float = 24 * 3600.0,
        retry_max: float = 900.0,
    ) -> None:
        self._journal = journal
        self._process = process
        self._metrics = metrics
        self._workers = workers
        self._max_attempts = max_attempts
        self._retry_base = retry_base
        self._retry_for = retry_for
        self._retry_max = retry_max
        self._lanes: dict[str, deque[Delivery]] = {}
        self._active: set[str] = set()
        self._ready: asyncio.Queue[str] = asyncio.Queue()
        self._not_before: dict[str, float] = {}
        self._attempts: dict[str, int] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._inflight: set[asyncio.Task[str]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._stopping = False
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # -- public ----------------------------------------------------------------------

    @property
    def depth(self) -> int:
        return sum(len(lane) for lane in self._lanes.values())

    async def start(self) -> int:
        """Take up what an earlier process left unfinished, then start the workers."""
        recovered = await self._journal.recover()
        for delivery in recovered:
            self.submit(delivery)
        self._loops = [asyncio.create_task(self._loop(i)) for i in range(self._workers)]
        if recovered:
            log.info("took up %d unfinished deliveries from the journal", len(recovered))
        return len(recovered)

    def submit(self, delivery: Delivery) -> None:
        if self._stopping or self._workers == 0:
            # It is journaled as pending: the next start with workers takes it up.
            # (With no workers, holding it in memory would only grow the heap.)
            return
        self._idle.clear()
        self._attempts.setdefault(delivery.id, delivery.attempts)
        # The journal holds the body; a backlog of waiting deliveries then costs a few
        # hundred bytes each instead of the payload's kilobytes (10,000 of them when
        # GitHub is slow). It is read back when the delivery runs.
        self._lanes.setdefault(delivery.lane, deque()).append(replace(delivery, payload=b""))
        if delivery.lane not in self._active:
            self._active.add(delivery.lane)
            self._ready.put_nowait(delivery.lane)

    async def wait_idle(self, timeout: float | None = None) -> None:
        """For tests and replay: until every submitted delivery is done, failed or waiting."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def stop(self, grace: float) -> None:
        """Stop taking work; let running deliveries finish for `grace` seconds.

        Anything still running after that is cancelled and stays in the journal
        as running, which the next start turns back into pending.
        """
        self._stopping = True
        for timer in self._timers:
            timer.cancel()
        for loop_task in self._loops:
            loop_task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self._inflight:
            _done, pending = await asyncio.wait(self._inflight, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("shutdown: %d deliveries left for the next start", len(pending))
                await asyncio.gather(*pending, return_exceptions=True)

    # -- internals -------------------------------------------------------------------

    async def _loop(self, index: int) -> None:
        while True:
            lane = await self._ready.get()
            queue = self._lanes.get(lane)
            if not queue:
                self._active.discard(lane)
                continue
            delivery = queue[0]
            wait = self._not_before.get(delivery.id, 0.0) - time.time()
            if wait > 0:
                self._wake_later(lane, wait)
                continue
            self._busy += 1
            task = asyncio.create_task(self._run(delivery))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            try:
                verdict = await asyncio.shield(task)
            finally:
                self._busy -= 1
            if verdict == "retry":
                self._wake_later(lane, self._not_before[delivery.id] - time.time())
                continue
            queue.popleft()
            self._not_before.pop(delivery.id, None)
            self._attempts.pop(delivery.id, None)
            if queue:
                self._ready.put_nowait(lane)
            else:
                del self._lanes[lane]
                self._active.discard(lane)
            self._check_idle()

    def _check_idle(self) -> None:
        """Idle: nothing running and every lane's head is waiting for its retry time."""
        now = time.time()
        runnable = any(self._not_before.get(q[0].id, 0.0) <= now for q in self._lanes.values() if q)
        if self._busy == 0 and not runnable:
            self._idle.set()

    def _wake_later(self, lane: str, delay: float) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def wake() -> None:
            if handle is not None:
                self._timers.discard(handle)
            if not self._stopping:
                self._idle.clear()
                self._ready.put_nowait(lane)

        handle = loop.call_later(max(0.0, delay), wake)
        self._timers.add(handle)
        self._check_idle()

    async def _run(self, delivery: Delivery) -> str:
        with logs.delivery_context(
            delivery=delivery.id,
            event=delivery.event_action,
            installation=delivery.installation_id,
            repository=delivery.repo,
            issue=delivery.issue_number,
        ):
            return await self._attempt(delivery)

    async def _begin(self, delivery: Delivery) -> int:
        """Mark the delivery running in the journal; which attempt this is."""
        attempt = self._attempts.get(delivery.id, 0) + 1
        self._attempts[delivery.id] = attempt
        await self._journal.start(delivery.id)
        return attempt

    async def _attempt(self, delivery: Delivery) -> str:
        attempt = await self._begin(delivery)
        started = time.monotonic()
        extra = {"delivery": delivery.id}
        outcome: dict[str, Any] | None = None
        try:
            # The processor sees how many attempts came before: a retry must not trust
            # what an earlier attempt already wrote locally (the request index).
            payload = delivery.payload or await self._journal.payload(delivery.id)
            outcome = await self._process(replace(delivery, attempts=attempt - 1, payload=payload))
        except Exception as exc:
            error = exc.outcome if isinstance(exc, DeliveryFailed) else None
            classified = classify(exc)
            duration = time.monotonic() - started
            # A reason that passes (5xx, rate limit, timeout) is waited out for hours, not for
            # a number of attempts: an incident at GitHub must not lose the delivery.
            young = time.time() - delivery.received_at < self._retry_for
            again = attempt < self._max_attempts and young
            if isinstance(classified, TransientGitHubError) and again:
                delay = (
                    backoff_delay(
                        attempt, classified.retry_after, base=self._retry_base, cap=self._retry_max
                    )
                    if classified.escalates
                    else random.uniform(0.05, 0.5)
                )
                self._not_before[delivery.id] = time.time() + delay
                await self._journal.postpone(
                    delivery.id, at=time.time() + delay, error=str(classified)
                )
                self._metrics.retries.labels(event=delivery.event).inc()
                log.warning(
                    "%s attempt %d: %s; retrying in %.1fs",
                    delivery.event_action,
                    attempt,
                    classified,
                    delay,
                    extra=extra,
                )
                return "retry"
            if isinstance(exc, DeliveryFailed):
                message = str(exc)
            elif isinstance(classified, TransientGitHubError | PermanentGitHubError):
                message = str(classified)
            else:
                message = "".join(traceback.format_exception_only(exc)).strip()
                log.error("%s crashed", delivery.event_action, exc_info=exc, extra=extra)
            await self._journal.finish(
                delivery.id, state=FAILED, duration=duration, outcome=error, error=message
            )
            self._count(delivery, "failed", duration)
            log.error("%s failed: %s", delivery.event_action, message, extra=extra)
            return "failed"
        duration = time.monotonic() - started
        await self._journal.finish(delivery.id, state=DONE, duration=duration, outcome=outcome)
        self._count(delivery, "done", duration)
        return "done"

    def _count(self, delivery: Delivery, outcome: str, duration: float) -> None:
        metrics = self._metrics
        metrics.deliveries.labels(event=delivery.event_action, outcome=outcome).inc()
        metrics.processing_seconds.observe(duration)
        waited = max(0.0, time.time() - delivery.received_at)
        metrics.delivery_seconds.labels(event=delivery.event_action).observe(waited)
