"""Runs one delivery: every matching handler adds to one plan, then the plan is applied.

Handlers are run together from ``router.fetch`` rather than through
``router.dispatch``, so that one handler's exception is recorded without
stopping the others (dispatch stops at the first raise), and one handler's
wait for GitHub does not hold up another's work.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from gidgethub import routing, sansio

from ..config.errors import ConfigError
from ..config.model import Config
from ..config.overrides import OVERRIDE_PATH, RepoOverrides
from ..config.render import neutralise
from ..github.app import GitHubApp
from ..github.client import GitHubClient
from ..github.errors import TransientGitHubError, classify
from ..github.permissions import PermissionChecker
from ..linking.index import RequestIndex
from ..plan.actions import DryRunExecutor, IssueRef, PlanApplier, UpsertComment
from ..plan.comments import LABEL_REMOVED, Caches, CommentLists, CommentWrites
from ..plan.context import HandlerContext, ignored_sender
from ..plan.executor import Executor
from ..store.delivery import Delivery
from ..store.facts import Facts, issue_fact
from ..store.journal import Journal
from .freshness import Freshness
from .worker import DeliveryFailed

log = logging.getLogger("flywheel.processor")


OVERRIDABLE_EVENTS = frozenset({"issues", "issue_comment"})


def report_override_problem(ctx: HandlerContext, problem: ConfigError) -> None:
    """Say on the issue that the repository's override was ignored, and why (once, kept current)."""
    ctx.note(f"{OVERRIDE_PATH} ignored: {problem}; the central config was used")
    ref = ctx.issue_ref()
    if ref is None or ignored_sender(ctx):
        return
    ctx.add(
        UpsertComment(
            ref,
            "config-override-error",
            f"⚠️ Flywheel could not use this repository's `{OVERRIDE_PATH}`:\n\n"
            f"> line {problem.line}: {neutralise(problem.reason)}\n\n"
            "The organisation's central configuration was used instead. Fix the file on the "
            "default branch; this comment is updated when it is read again.\n",
            data={"line": problem.line},
        )
    )


def new_issue_without_comments(
    delivery: Delivery, data: dict[str, Any], writes: CommentWrites
) -> IssueRef | None:
    """The issue of an ``opened`` delivery whose payload counts no comments, when nothing of
    ours can have been written there since: then its comment list is known without a read.

    Every comment of ours made since this process started is counted per issue (failed
    writes too); a delivery received before the start, or tried before, is read as usual.
    """
    issue = data.get("issue")
    if (
        delivery.event != "issues"
        or data.get("action") != "opened"
        or delivery.attempts
        or delivery.received_at < writes.since
        or not isinstance(issue, dict)
        or issue.get("comments") != 0
        or delivery.repo is None
        or delivery.issue_number is None
    ):
        return None
    ref = IssueRef(delivery.repo, delivery.issue_number)
    return None if writes.last(ref) else ref


async def run_handlers(
    callbacks: list[Any], event: sansio.Event, ctx: HandlerContext, delivery_id: str
) -> list[str]:
    """Every handler at once, each planning into its own list; the plans are then joined in
    the handlers' order, so the plan is the same as one by one. (A workflow's reads of GitHub
    and linking's embedding of the text overlap instead of waiting for each other.)

    A handler's failure is reported without stopping the others; a transient one (GitHub
    unavailable) is raised once all have finished, and the delivery is retried.
    """
    own = [replace(ctx, plan=[], notes=[]) for _ in callbacks]
    outcomes = await asyncio.gather(
        *(callback(event, mine) for callback, mine in zip(callbacks, own, strict=True)),
        return_exceptions=True,
    )
    errors: list[str] = []
    transient: BaseException | None = None
    for callback, mine, outcome in zip(callbacks, own, outcomes, strict=True):
        ctx.plan.extend(mine.plan)
        ctx.notes.extend(mine.notes)
        if mine.decided is not None:
            ctx.decided = mine.decided
        if not isinstance(outcome, BaseException):
            continue
        if not isinstance(outcome, Exception):
            raise outcome  # cancelled: the delivery stops here
        error = classify(outcome)
        if isinstance(error, TransientGitHubError):
            transient = transient or error
            continue
        name = f"{callback.__module__.rsplit('.', 1)[-1]}.{callback.__name__}"
        errors.append(f"{name}: {type(outcome).__name__}: {outcome}")
        log.error("handler %s failed", name, exc_info=outcome, extra={"delivery": delivery_id})
    if transient is not None:
        raise transient
    return errors


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
        index: RequestIndex | None = None,
        facts: Facts | None = None,
        link_key: bytes = b"",
        full_plans: bool = False,
    ) -> None:
        self.router = router
        self.link_key = link_key
        self.full_plans = full_plans  # dry run: print comment bodies whole (replay)
        self._app_login: str | None = None  # asked of GitHub once per process
        self.facts = facts
        self._config = config
        self.journal = journal
        self.github = github
        self.caches = caches
        self.index = index
        self.overrides = RepoOverrides()
        self.permissions = PermissionChecker()
        self.freshness = Freshness(journal)
        self._emit = emit or (lambda line: log.info(line))

    def _note_facts(self, event: sansio.Event, config: Config) -> None:
        """The workflow issue as this delivery saw it, for the dashboard (facts.py)."""
        issue, repository = event.data.get("issue"), event.data.get("repository")
        if self.facts is None or not isinstance(issue, dict) or not isinstance(repository, dict):
            return
        if event.event == "issues" and event.data.get("action") in ("deleted", "transferred"):
            self.facts.forget([(str(repository.get("full_name")), issue.get("number"))])
            return
        fact = issue_fact(config, repository, issue)
        if fact is not None:
            # A comment's copy of the issue dates from the comment: it may not overwrite
            # what an `issues` event noted (a title edited, a close), only fill a gap.
            self.facts.workflow_issue(fact, replace=event.event == "issues")

    async def _note_payload(self, delivery: Delivery, data: dict[str, Any]) -> None:
        """What the payload tells the caches: the issue's GitHub id (for batched writes), and
        a label someone took off (so that our record of having added it is forgotten, here
        and, with replicas, by the others before they run this issue's next delivery)."""
        issue = data.get("issue")
        if delivery.repo is None or delivery.issue_number is None or not isinstance(issue, dict):
            return
        ref = IssueRef(delivery.repo, delivery.issue_number)
        self.caches.note_node_id(ref, issue.get("node_id"))
        if delivery.event == "issues" and data.get("action") == "unlabeled":
            name = str((data.get("label") or {}).get("name", ""))
            self.caches.label_removed(ref, name)
            if self.caches.announce is not None:
                body = {"repo": ref.repo, "number": ref.number, "name": name}
                await self.caches.announce(LABEL_REMOVED, body)

    async def app_login(self) -> str:
        if self._app_login is None:
            self._app_login = await self.github.bot_login() if self.github is not None else ""
        return self._app_login

    async def client_for(self, delivery: Delivery) -> GitHubClient | None:
        if self.github is None or delivery.installation_id is None:
            return None
        return await self.github.for_installation(delivery.installation_id, delivery.id)

    async def __call__(self, delivery: Delivery) -> dict[str, Any]:
        gh = await self.client_for(delivery)
        refreshed = await self.freshness.refresh(event_from_delivery(delivery), gh)
        event = refreshed.event
        if refreshed.moot:
            return {"handlers": [], "notes": [refreshed.note], "actions": [], "dry_run": gh is None}
        config, override_problem = self._config(), None
        if gh is not None and delivery.repo and delivery.event in OVERRIDABLE_EVENTS:
            config, override_problem = await self.overrides.config_for(gh, delivery.repo, config)
        ctx = HandlerContext(
            delivery_id=delivery.id,
            event=event,
            config=config,
            journal=self.journal,
            gh=gh,
            caches=self.caches,
            permissions=self.permissions,
            index=self.index,
            comments=CommentLists(self.caches.comment_writes),
            retry=delivery.attempts > 0,
            link_key=self.link_key,
            app_login=await self.app_login(),
        )
        await self._note_payload(delivery, event.data)
        fresh = new_issue_without_comments(delivery, event.data, self.caches.comment_writes)
        if fresh is not None:
            ctx.comments.known_empty(fresh)
        if refreshed.note:
            ctx.note(refreshed.note)
        if override_problem is not None:
            report_override_problem(ctx, override_problem)
        callbacks = sorted(self.router.fetch(event), key=lambda cb: cb.__qualname__)
        handler_errors = await run_handlers(callbacks, event, ctx, delivery.id)
        executor: PlanApplier = (
            Executor(gh, self.caches, ctx.comments, self.facts)
            if gh is not None
            else DryRunExecutor(self._emit, full=True)
            if self.full_plans
            else DryRunExecutor(lambda line: self._emit(f"[{delivery.id}] {line}"))
        )
        results = await executor.apply(ctx.plan)
        outcome = {
            "handlers": [cb.__qualname__ for cb in callbacks],
            "notes": ctx.notes,
            "actions": [r.as_dict() for r in results],
            "dry_run": gh is None,
        }
        if ctx.decided:
            outcome["decided"] = ctx.decided
        self._note_facts(event, config)
        self.freshness.handled(event)
        if handler_errors:
            outcome["errors"] = handler_errors
            raise DeliveryFailed("; ".join(handler_errors), outcome)
        failed = [r for r in results if r.status == "failed"]
        if failed:
            raise DeliveryFailed("; ".join(f"{r.action}: {r.detail}" for r in failed), outcome)
        return outcome
