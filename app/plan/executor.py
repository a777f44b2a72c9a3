"""Plans: the declarative actions handlers return, and the one executor that applies them.

Each action says what should hold on GitHub ("these labels are on the issue",
"this marked comment reads so"), not which call to make. The executor reads
before it writes and skips what already holds, so applying a plan twice —
a redelivery, a retry after a crash — changes nothing the second time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..github import projects
from ..github.batch import MutationBatch
from ..github.client import GitHubClient
from ..github.errors import PermanentGitHubError, TransientGitHubError, classify
from ..workflows import checklists, forms, markers
from .actions import (
    Action,
    ActionResult,
    CheckRun,
    EnsureLabels,
    EnsureProjectItem,
    IssueRef,
    OpenIssue,
    React,
    SetAssignees,
    SetIssueSection,
    SetIssueState,
    UpsertComment,
    latest_only,
)
from .comments import Caches, CommentConflict, CommentLists
from .labels import LabelWriter
from .schedule import run_in_order

if TYPE_CHECKING:
    from ..store.facts import Facts

log = logging.getLogger("flywheel.plan")


STATUS_FIELD = "Status"  # GitHub's own single-select on every board: what the dashboard shows


class Executor:
    """Applies a plan through one installation's client, reading before writing."""

    def __init__(
        self,
        gh: GitHubClient,
        caches: Caches,
        comments: CommentLists | None = None,
        facts: Facts | None = None,
    ) -> None:
        self.gh = gh
        self.caches = caches
        self._comments = comments or CommentLists(caches.comment_writes)
        self._facts = facts  # what the dashboard shows: noted as plans are applied
        self._batch = MutationBatch(gh)  # the writes started together go as one request
        self._label_writer = LabelWriter(gh, caches, self._batch)

    async def apply(self, plan: Sequence[Action]) -> list[ActionResult]:
        """Run independent actions concurrently; a transient failure is raised after all ran.

        Permanent failures are recorded on their action and the rest of the plan
        still runs. A transient one makes the worker retry the whole plan later,
        which is safe because every action checks before it writes.
        """
        plan, superseded = latest_only(plan)
        outcomes = await run_in_order(plan, self._apply_one)
        results = [
            ActionResult(a.describe(), "unchanged", "superseded later in the plan")
            for a in superseded
        ]
        transient: TransientGitHubError | None = None
        for action, outcome in zip(plan, outcomes, strict=True):
            if isinstance(outcome, ActionResult):
                results.append(outcome)
                continue
            error = classify(outcome) if isinstance(outcome, BaseException) else outcome
            if isinstance(error, TransientGitHubError):
                transient = transient or error
                results.append(ActionResult(action.describe(), "failed", f"will retry: {error}"))
            elif isinstance(error, PermanentGitHubError):
                results.append(ActionResult(action.describe(), "failed", str(error)))
            else:
                raise error  # a bug: let the worker record it with its traceback
        if transient is not None:
            raise transient
        return results

    async def _apply_one(self, action: Action) -> ActionResult:
        handler: Callable[[Any], Awaitable[ActionResult]] = {
            EnsureLabels: self._label_writer.apply,
            UpsertComment: self._comment,
            React: self._react,
            EnsureProjectItem: self._project_item,
            OpenIssue: self._open_issue,
            SetIssueState: self._issue_state,
            SetAssignees: self._assignees,
            SetIssueSection: self._issue_section,
            CheckRun: self._check_run,
        }[type(action)]
        return await handler(action)

    # -- comments ------------------------------------------------------------------

    async def comments(self, issue: IssueRef) -> list[dict[str, Any]]:
        return await self._comments.get(self.gh, issue)

    async def _comment(self, action: UpsertComment) -> ActionResult:
        # Taking the lock may cost a round trip (replicas share it): the plan's batch of
        # writes holds for this comment meanwhile, so they still go as one request.
        joined = self._batch.announce()
        try:
            async with self.caches.comment_writes.lock(action.issue):
                return await self._comment_locked(action, joined)
        finally:
            joined()

    async def _comment_locked(
        self, action: UpsertComment, joined: Callable[[], None]
    ) -> ActionResult:
        try:
            result = await self._upsert_comment(action, joined)
        except CommentConflict:
            raise
        except Exception:
            # A write whose answer never came may still have landed (a late
            # answer, a dropped connection): every list read before it,
            # this delivery's included, may now be missing a comment.
            self._comments.may_have_written(action.issue)
            raise
        if result.status == "applied":
            self._comments.wrote(action.issue)
        if self._facts is not None:
            self._facts.comment(action.issue.repo, action.issue.number, action.key, action.data)
        return result

    async def _upsert_comment(
        self, action: UpsertComment, joined: Callable[[], None]
    ) -> ActionResult:
        described = action.describe()
        text = action.text()
        for comment in await self._comments.current(self.gh, action.issue):
            if action.key not in markers.bot_markers(comment):
                continue
            if action.keep_ticks:
                text = checklists.carry_ticks(comment.get("body"), text)
            if action.once or comment.get("body") == text:
                return ActionResult(described, "unchanged")
            await self.caches.comment_writes.intend(action.issue)
            if comment.get("node_id"):
                await self._batch.run(
                    "updateIssueComment", {"id": comment["node_id"], "body": text}, announced=joined
                )
            else:
                await self.gh.patch(
                    f"/repos/{action.issue.repo}/issues/comments/{comment['id']}",
                    data={"body": text},
                )
            comment["body"] = text
            return ActionResult(described, "applied", f"edited comment {comment['id']}")
        await self.caches.comment_writes.intend(action.issue)
        created = await self._create_comment(action.issue, text, joined)
        (await self.comments(action.issue)).append(created)
        return ActionResult(described, "applied", f"created comment {created.get('id')}")

    async def _create_comment(
        self, issue: IssueRef, text: str, joined: Callable[[], None]
    ) -> dict[str, Any]:
        """The new comment as a list of the issue's comments would show it."""
        node_id = self.caches.node_ids.get(issue)
        if not node_id:
            url = f"/repos/{issue.repo}/issues/{issue.number}/comments"
            return dict(await self.gh.post(url, data={"body": text}))
        answer = await self._batch.run(
            "addComment", {"subjectId": node_id, "body": text}, announced=joined
        )
        node = ((answer.get("commentEdge") or {}).get("node")) or {}
        return {
            "id": int(node.get("fullDatabaseId") or 0),
            "node_id": node.get("id", ""),
            "body": node.get("body", text),
            "html_url": node.get("url", ""),
            "user": {"type": "Bot"},  # ours: what finding our markers in it asks
        }

    # -- reactions, state, assignees -------------------------------------------------

    async def _react(self, action: React) -> ActionResult:
        base = f"/repos/{action.issue.repo}/issues"
        url = (
            f"{base}/comments/{action.comment_id}/reactions"
            if action.comment_id
            else f"{base}/{action.issue.number}/reactions"
        )
        # GitHub answers 200 instead of 201 when the reaction is already there.
        await self.gh.post(url, data={"content": action.content})
        return ActionResult(action.describe(), "applied")

    async def _issue_state(self, action: SetIssueState) -> ActionResult:
        url = f"/repos/{action.issue.repo}/issues/{action.issue.number}"
        issue = await self.gh.getitem(url)
        if issue.get("state") == action.state:
            return ActionResult(action.describe(), "unchanged")
        data: dict[str, Any] = {"state": action.state}
        if action.reason:
            data["state_reason"] = action.reason
        await self.gh.patch(url, data=data)
        return ActionResult(action.describe(), "applied")

    async def _issue_section(self, action: SetIssueSection) -> ActionResult:
        url = f"/repos/{action.issue.repo}/issues/{action.issue.number}"
        issue = await self.gh.getitem(url)
        body = forms.with_section(issue.get("body"), action.heading, action.value)
        if forms.sections(body) == forms.sections(issue.get("body")):
            return ActionResult(action.describe(), "unchanged")
        await self.gh.patch(url, data={"body": body})
        return ActionResult(action.describe(), "applied")

    async def _assignees(self, action: SetAssignees) -> ActionResult:
        url = f"/repos/{action.issue.repo}/issues/{action.issue.number}/assignees"
        present = {a.lower() for a in action.present} if action.present is not None else None
        add = [a for a in action.add if present is None or a.lower() not in present]
        remove = [a for a in action.remove if present is None or a.lower() in present]
        if not add and not remove:
            return ActionResult(action.describe(), "unchanged")
        if add:
            await self.gh.post(url, data={"assignees": add})
        if remove:
            await self.gh.delete(url, data={"assignees": remove})
        return ActionResult(action.describe(), "applied")

    # -- issues ----------------------------------------------------------------------

    async def _check_run(self, action: CheckRun) -> ActionResult:
        """Read first: a redelivered pull_request event finds its run and adds none."""
        found = await self.gh.getitem(
            f"/repos/{action.repo}/commits/{action.head_sha}/check-runs?check_name={action.name}"
        )
        for run in found.get("check_runs", []):
            output = run.get("output") or {}
            if (
                run.get("conclusion") == action.conclusion
                and output.get("summary") == action.summary
            ):
                return ActionResult(action.describe(), "unchanged")
        annotations = list(action.annotations)
        created = await self.gh.post(
            f"/repos/{action.repo}/check-runs",
            data={
                "name": action.name,
                "head_sha": action.head_sha,
                "status": "completed",
                "conclusion": action.conclusion,
                "output": {
                    "title": action.title,
                    "summary": action.summary,
                    "annotations": annotations[:50],  # GitHub takes 50 a request
                },
            },
        )
        return ActionResult(action.describe(), "applied", f"check run {created.get('id')}")

    async def _open_issue(self, action: OpenIssue) -> ActionResult:
        query = "?state=all&per_page=100"
        if action.labels:
            query += "&labels=" + action.labels[0].name
        async for issue in self.gh.getiter(f"/repos/{action.repo}/issues{query}"):
            if action.key in markers.find(issue.get("body")):
                return ActionResult(action.describe(), "unchanged", f"#{issue['number']}")
        if action.labels:
            await self._label_writer.ensure_repo_labels(action.repo, list(action.labels))
        body = action.body.rstrip() + "\n\n" + markers.render(action.key) + "\n"
        created = await self.gh.post(
            f"/repos/{action.repo}/issues",
            data={
                "title": action.title,
                "body": body,
                "labels": [lab.name for lab in action.labels],
            },
        )
        return ActionResult(action.describe(), "applied", f"#{created.get('number')}")

    # -- boards ----------------------------------------------------------------------

    async def _project_item(self, action: EnsureProjectItem) -> ActionResult:
        described = action.describe()
        board = await self.caches.board(self.gh, action.owner, action.number)
        warnings: list[str] = []
        wanted: dict[str, dict[str, Any] | None] = {}
        for name, value in action.fields:
            board_field = board.field(name)
            if board_field is None:
                warnings.append(f"board {board.title!r} has no field {name!r}")
                continue
            if value is None or str(value).strip() == "":
                wanted[board_field.id] = None
                continue
            try:
                wanted[board_field.id] = projects.field_input(board_field, value)
            except projects.FieldValueError as exc:
                warnings.append(f"board {board.title!r}: {exc}")
        for warning in warnings:
            if self.caches.report_once(warning):
                log.warning("%s (fix the board or the workflow config)", warning)
        known = self.caches.board_items.get((board.id, action.content_id))
        if action.initial and known is not None and set(wanted) <= known:
            return ActionResult(described, "unchanged", "on the board with these fields filled")
        added = await self._batch.run(
            "addProjectV2ItemById", {"projectId": board.id, "contentId": action.content_id}
        )
        item = added.get("item") or {}
        if not item.get("id"):
            raise PermanentGitHubError(f"board {board.title!r} did not accept {action.issue}")
        present = projects.current_values(item)
        if action.initial:
            wanted = {fid: v for fid, v in wanted.items() if fid not in present}
        updates = [(fid, v) for fid, v in wanted.items() if v is not None and present.get(fid) != v]
        clears = [fid for fid, v in wanted.items() if v is None and fid in present]
        after = {**present, **dict(updates)}
        for fid in clears:
            after.pop(fid, None)
        if self._facts is not None:
            status = projects.option_name(board.field(STATUS_FIELD), after)
            self._facts.board_status(action.issue.repo, action.issue.number, board.title, status)
        placed = (board.id, action.content_id)  # noted once the fields are set, not before
        if not updates and not clears:
            self.caches.board_items[placed] = frozenset(after)
            return ActionResult(described, "unchanged", warnings=warnings)
        variables: dict[str, Any] = {}
        for i, (fid, value) in enumerate(updates):
            variables[f"u{i}"] = {
                "projectId": board.id,
                "itemId": item["id"],
                "fieldId": fid,
                "value": value,
            }
        for i, fid in enumerate(clears):
            variables[f"c{i}"] = {"projectId": board.id, "itemId": item["id"], "fieldId": fid}
        await self.gh.graphql_data(
            projects.set_fields_document(len(updates), len(clears)), **variables
        )
        self.caches.board_items[placed] = frozenset(after)
        return ActionResult(described, "applied", warnings=warnings)
