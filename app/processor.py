"""Runs one delivery: every matching handler adds to one plan, then the plan is applied.

Handlers are run one by one from ``router.fetch`` rather than through
``router.dispatch``, so that one handler's exception is recorded without
stopping the others (dispatch stops at the first raise).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from gidgethub import routing, sansio

from .config import Config
from .context import HandlerContext
from .github import GitHubApp, GitHubClient, TransientGitHubError, classify
from .journal import Delivery, Journal
from .plan import Caches, DryRunExecutor, Executor, PlanApplier
from .worker import DeliveryFailed

log = logging.getLogger("flywheel.processor")


def event_from_delivery(delivery: Delivery) -> sansio.Event:
    return sansio.Event(json.loads(delivery.payload), event=delivery.event, delivery_id=delivery.id)


class Processor:
    def __init__(
        self,
        *,
        router: routing.Router,
        config: Callable[[], Config],
        journal: Journal,
        github: GitHubApp | None,
        caches: Caches,
        emit: Callable[[str], None] | None = None,
    ) -> None:
        self.router = router
        self._config = config
        self.journal = journal
        self.github = github
        self.caches = caches
        self._emit = emit or (lambda line: log.info(line))

    async def client_for(self, delivery: Delivery) -> GitHubClient | None:
        if self.github is None or delivery.installation_id is None:
            return None
        return await self.github.for_installation(delivery.installation_id, delivery.id)

    async def __call__(self, delivery: Delivery) -> dict[str, Any]:
        event = event_from_delivery(delivery)
        gh = await self.client_for(delivery)
        ctx = HandlerContext(
            delivery_id=delivery.id, event=event, config=self._config(), journal=self.journal, gh=gh
        )
        handler_errors: list[str] = []
        transient: BaseException | None = None
        callbacks = sorted(self.router.fetch(event), key=lambda cb: cb.__qualname__)
        for callback in callbacks:
            name = f"{callback.__module__.rsplit('.', 1)[-1]}.{callback.__name__}"
            try:
                await callback(event, ctx)
            except Exception as exc:
                error = classify(exc)
                if isinstance(error, TransientGitHubError):
                    transient = error
                    break
                handler_errors.append(f"{name}: {type(exc).__name__}: {exc}")
                log.error("handler %s failed", name, exc_info=exc, extra={"delivery": delivery.id})
        if transient is not None:
            raise transient
        executor: PlanApplier = (
            Executor(gh, self.caches)
            if gh is not None
            else DryRunExecutor(lambda line: self._emit(f"[{delivery.id}] {line}"))
        )
        results = await executor.apply(ctx.plan)
        outcome = {
            "handlers": [cb.__qualname__ for cb in callbacks],
            "notes": ctx.notes,
            "actions": [r.as_dict() for r in results],
            "dry_run": gh is None,
        }
        if handler_errors:
            outcome["errors"] = handler_errors
            raise DeliveryFailed("; ".join(handler_errors), outcome)
        failed = [r for r in results if r.status == "failed"]
        if failed:
            raise DeliveryFailed("; ".join(f"{r.action}: {r.detail}" for r in failed), outcome)
        return outcome
