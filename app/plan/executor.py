"""Plans: the declarative actions handlers return, and the one executor that applies them.

Each action says what should hold on GitHub ("these labels are on the issue",
"this marked comment reads so"), not which call to make. The executor reads
before it writes and skips what already holds, so applying a plan twice —
a redelivery, a retry after a crash — changes nothing the second time.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import cachetools

from app.config.labels import LabelSpec
from app.github import projects
from app.github.client import GitHubClient, PermanentGitHubError, TransientGitHubError, classify
from app.workflows import checklists, forms, markers

if TYPE_CHECKING:
    from app.store.facts import Facts

__all__ = ["LabelSpec"]  # re-exported: actions carry label specs

log = logging.getLogger("flywheel.plan")


@dataclass(frozen=True, order=True)
class IssueRef:
    repo: str  # owner/name
    number: int

    def __str__(self) -> str:
        return f"{self.repo}#{self.number}"


class Action(Protocol):
    def describe(self) -> str: ...


@dataclass(frozen=True)
class EnsureLabels:
    """These labels are on the issue and those are not; missing repo labels are created."""

    issue: IssueRef
    add: tuple[LabelSpec, ...] = ()
    remove: tuple[str, ...] = ()
    # Labels the event says the issue has now: lets a no-op cost no call at all.
    present: tuple[str, ...] | None = None

    def describe(self) -> str:
        parts = []
        if self.add:
            parts.append("add " + ", ".join(repr(label.name) for label in self.add))
        if self.remove:
            parts.append("remove " + ", ".join(repr(name) for name in self.remove))
        return f"labels on {self.issue}: " + "; ".join(parts)


@dataclass(frozen=True)
class UpsertComment:
    """One comment on the issue carries this marker key and reads exactly this body.

    ``once``: write it if no comment has the key yet, never edit it (replies).
    """

    issue: IssueRef
    key: str
    body: str
    data: dict[str, Any] | None = None
    once: bool = False
    keep_ticks: bool = False  # people tick boxes in our checklists: carry them over

    def describe(self) -> str:
        verb = "reply" if self.once else "comment"
        first_line = self.body.strip().splitlines()[0] if self.body.strip() else ""
        return f"{verb} [{self.key}] on {self.issue}: {first_line[:80]}"

    def text(self) -> str:
        return self.body.rstrip() + "\n\n" + markers.render(self.key, self.data) + "\n"


@dataclass(frozen=True)
class React:
    issue: IssueRef
    content: str  # +1, confused, rocket, eyes…
    comment_id: int | None = None  # None: react to the issue itself

    def describe(self) -> str:
        target = f"comment {self.comment_id}" if self.comment_id else "the issue"
        return f"react {self.content} to {target} on {self.issue}"


@dataclass(frozen=True)
class EnsureProjectItem:
    """The issue is on the board and these fields (by name) hold these values."""

    issue: IssueRef
    content_id: str  # the issue's node id
    owner: str
    number: int
    fields: tuple[tuple[str, Any], ...] = ()
    # Only fill fields that are empty: the team's later choices (a moved Status) stay.
    initial: bool = False

    def describe(self) -> str:
        values = ", ".join(f"{name}={value!r}" for name, value in self.fields)
        return f"board {self.owner}/{self.number}: {self.issue}" + (
            f" with {values}" if values else ""
        )


@dataclass(frozen=True)
class OpenIssue:
    """An issue whose body carries ``key`` exists in the repository (found by its label)."""

    repo: str
    key: str
    title: str
    body: str
    labels: tuple[LabelSpec, ...] = ()

    def describe(self) -> str:
        return f"open issue [{self.key}] in {self.repo}: {self.title[:80]}"


@dataclass(frozen=True)
class SetIssueState:
    issue: IssueRef
    state: str  # open | closed
    reason: str | None = None  # completed | not_planned | reopened

    def describe(self) -> str:
        return f"{self.state} {self.issue}" + (f" as {self.reason}" if self.reason else "")


@dataclass(frozen=True)
class SetIssueSection:
    """The issue's ``### heading`` section reads ``value`` (the rest of the body is kept)."""

    issue: IssueRef
    heading: str
    value: str

    def describe(self) -> str:
        return f"section {self.heading!r} of {self.issue}: {self.value[:80]}"


@dataclass(frozen=True)
class SetAssignees:
    issue: IssueRef
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    present: tuple[str, ...] | None = None

    def describe(self) -> str:
        return f"assignees on {self.issue}: +{list(self.add)} -{list(self.remove)}"


@dataclass
class ActionResult:
    action: str
    status: str  # applied | unchanged | planned | failed
    detail: str = ""
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "status": self.status}
        if self.detail:
            out["detail"] = self.detail
        if self.warnings:
            out["warnings"] = self.warnings
        return out


def latest_only(plan: Sequence[Action]) -> tuple[list[Action], list[Action]]:
    """(actions to run, actions superseded): of two comments with one key, the later wins.

    The executor runs actions concurrently, so two versions of one comment
    (a command's re-render after /sync's) could both find no comment and both
    create one. Handlers add in reading order, so the later version is the one meant.
    """
    last: dict[tuple[IssueRef, str], int] = {}
    for index, action in enumerate(plan):
        if isinstance(action, UpsertComment):
            last[(action.issue, action.key)] = index
    keep, dropped = [], []
    for index, action in enumerate(plan):
        superseded = isinstance(action, UpsertComment) and last[(action.issue, action.key)] != index
        (dropped if superseded else keep).append(action)
    return keep, dropped


class PlanApplier(Protocol):
    async def apply(self, plan: Sequence[Action]) -> list[ActionResult]: ...


class DryRunExecutor:
    """Applies nothing: says what would be done, for dry-run mode and `flywheel replay`."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit

    async def apply(self, plan: Sequence[Action]) -> list[ActionResult]:
        results = []
        for action in latest_only(plan)[0]:
            self._emit(f"would {action.describe()}")
            results.append(ActionResult(action.describe(), "planned"))
        return results


class Caches:
    """What stays true for minutes across deliveries: board and field ids, labels a repo has.

    Kept per process; losing them costs a read, never a wrong write.
    """

    def __init__(self, ttl: float = 600.0) -> None:
        self._boards: cachetools.TTLCache[tuple[str, int], projects.Board] = cachetools.TTLCache(
            maxsize=256, ttl=ttl
        )
        self.repo_labels: cachetools.TTLCache[str, set[str]] = cachetools.TTLCache(
            maxsize=1024, ttl=ttl
        )
        # registry repo → community → logins that speak for it; a minute, as people change
        self.representatives: cachetools.TTLCache[str, Mapping[str, frozenset[str]]] = (
            cachetools.TTLCache(maxsize=256, ttl=60)
        )
        self.reported: set[str] = set()
        self.comment_writes = CommentWrites()

    async def board(self, gh: GitHubClient, owner: str, number: int) -> projects.Board:
        key = (owner.lower(), number)
        board = self._boards.get(key)
        if board is None:
            data = await gh.graphql_data(projects.PROJECT_FIELDS, owner=owner, number=number)
            board = projects.parse_board(owner, number, data)
            if board is None:
                raise PermanentGitHubError(
                    f"board {owner}/{number} not found, or the App cannot see it "
                    "(it needs the Organization projects permission)"
                )
            self._boards[key] = board
        return board

    def report_once(self, problem: str) -> bool:
        """True the first time a problem is seen in this process, so it is logged once."""
        if problem in self.reported:
            return False
        self.reported.add(problem)
        return True


class CommentConflict(TransientGitHubError):
    """Another delivery wrote on an issue after this one read it: run this one again.

    A race among our own deliveries, not trouble at GitHub: it is run again at
    once (a short jittered pause), however many times it raced before.
    """

    escalates = False


class CommentWrites:
    """Per-issue locks and write counts, shared by every delivery of the process.

    Deliveries about one issue run one at a time, but linking and consortia
    write comments on *other* issues too: two deliveries could both list a
    third issue's comments, find no comment of ours, and both create one, or
    one could overwrite what the other just wrote. A comment is therefore
    written under its issue's lock, and a delivery whose list predates another
    delivery's write there runs again (``CommentLists.current``).
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[IssueRef, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._writes: cachetools.LRUCache[IssueRef, int] = cachetools.LRUCache(maxsize=65536)

    def lock(self, issue: IssueRef) -> asyncio.Lock:
        lock = self._locks.get(issue)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[issue] = lock
        return lock

    def count(self, issue: IssueRef) -> int:
        return self._writes.get(issue, 0)

    def wrote(self, issue: IssueRef) -> None:
        self._writes[issue] = self.count(issue) + 1


class CommentLists:
    """An issue's comments, listed once per delivery and shared by whoever needs them.

    Handlers read our marked comments' data (members) and the executor then
    finds the same comments to edit: one list serves both, and the executor's
    own writes are appended so later actions in the plan see them.
    """

    def __init__(self, writes: CommentWrites | None = None) -> None:
        self._lists: dict[IssueRef, asyncio.Task[list[dict[str, Any]]]] = {}
        self._writes = writes or CommentWrites()
        self._listed_at: dict[IssueRef, int] = {}

    async def get(self, gh: GitHubClient, issue: IssueRef) -> list[dict[str, Any]]:
        task = self._lists.get(issue)
        if task is None:
            self._listed_at[issue] = self._writes.count(issue)
            task = asyncio.ensure_future(self._list(gh, issue))
            self._lists[issue] = task
        return await task

    def wrote(self, issue: IssueRef) -> None:
        """This delivery wrote there (and updated its list): the list stays current."""
        self._writes.wrote(issue)
        if issue in self._listed_at:
            self._listed_at[issue] = self._writes.count(issue)

    def may_have_written(self, issue: IssueRef) -> None:
        """A write there failed without an answer: no list read before it is current."""
        self._writes.wrote(issue)

    async def current(self, gh: GitHubClient, issue: IssueRef) -> list[dict[str, Any]]:
        """The list, if no other delivery wrote on the issue since this one read it.

        Call it holding the issue's lock from ``CommentWrites``. When another
        delivery wrote there meanwhile, what this delivery planned may rest on
        the comment as it was (a pin, a member, a link): writing it would undo
        the other write. ``CommentConflict`` makes the worker run the delivery
        again, and its handlers then read the comment as it is.
        """
        listed = await self.get(gh, issue)
        if self._listed_at.get(issue) != self._writes.count(issue):
            raise CommentConflict(f"{issue} was written by another delivery meanwhile")
        return listed

    async def marker_data(
        self, gh: GitHubClient, issue: IssueRef, key: str
    ) -> dict[str, Any] | None:
        """The data of our comment marked ``key``, or None when the issue has no such comment."""
        for comment in await self.get(gh, issue):
            found = markers.bot_markers(comment)
            if key in found:
                return found[key]
        return None

    @staticmethod
    async def _list(gh: GitHubClient, issue: IssueRef) -> list[dict[str, Any]]:
        url = f"/repos/{issue.repo}/issues/{issue.number}/comments?per_page=100"
        return [c async for c in gh.getiter(url)]


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
        self._repo_labels: dict[str, asyncio.Task[dict[str, dict[str, Any]]]] = {}

    async def apply(self, plan: Sequence[Action]) -> list[ActionResult]:
        """Run independent actions concurrently; a transient failure is raised after all ran.

        Permanent failures are recorded on their action and the rest of the plan
        still runs. A transient one makes the worker retry the whole plan later,
        which is safe because every action checks before it writes.
        """
        plan, superseded = latest_only(plan)
        # Labels first: a comment elsewhere that names this issue (a backlink, a related
        # request) must not be seen before the labels that make the issue findable.
        labels = [a for a in plan if isinstance(a, EnsureLabels)]
        rest = [a for a in plan if not isinstance(a, EnsureLabels)]
        plan = labels + rest
        outcomes = await self._apply_chained(labels) + await self._apply_chained(rest)
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

    async def _apply_chained(self, actions: Sequence[Action]) -> list[Any]:
        """Run actions concurrently, except those on one board item: those in plan order.

        Two placements of one issue on one board (its workflow's and a shared
        need's) would otherwise race to set its first Status.
        """
        chains: dict[Any, list[int]] = {}
        for index, action in enumerate(actions):
            key = (
                (action.content_id, action.owner, action.number)
                if isinstance(action, EnsureProjectItem)
                else index
            )
            chains.setdefault(key, []).append(index)
        outcomes: list[Any] = [None] * len(actions)

        async def run(indexes: list[int]) -> None:
            for index in indexes:
                try:
                    outcomes[index] = await self._apply_one(actions[index])
                except Exception as exc:  # recorded like gather's return_exceptions
                    outcomes[index] = exc

        await asyncio.gather(*(run(indexes) for indexes in chains.values()))
        return outcomes

    async def _apply_one(self, action: Action) -> ActionResult:
        handler: Callable[[Any], Awaitable[ActionResult]] = {
            EnsureLabels: self._labels,
            UpsertComment: self._comment,
            React: self._react,
            EnsureProjectItem: self._project_item,
            OpenIssue: self._open_issue,
            SetIssueState: self._issue_state,
            SetAssignees: self._assignees,
            SetIssueSection: self._issue_section,
        }[type(action)]
        return await handler(action)

    # -- labels --------------------------------------------------------------------

    async def _labels(self, action: EnsureLabels) -> ActionResult:
        described = action.describe()
        if action.present is not None:
            present = {name.lower() for name in action.present}
            to_add = [lab for lab in action.add if lab.name.lower() not in present]
            to_remove = [name for name in action.remove if name.lower() in present]
        else:
            to_add, to_remove = list(action.add), list(action.remove)
        if not to_add and not to_remove:
            return ActionResult(described, "unchanged")
        issue_url = f"/repos/{action.issue.repo}/issues/{action.issue.number}/labels"
        if to_add:
            await self._ensure_repo_labels(action.issue.repo, to_add)
            await self.gh.post(issue_url, data={"labels": [lab.name for lab in to_add]})
        for name in to_remove:
            try:
                await self.gh.delete(issue_url + "/{name}", {"name": name})
            except Exception as exc:  # already gone is what we wanted
                error = classify(exc)
                if not (isinstance(error, PermanentGitHubError) and error.status == 404):
                    raise
        return ActionResult(described, "applied")

    async def _ensure_repo_labels(self, repo: str, wanted: list[LabelSpec]) -> None:
        known = self.caches.repo_labels.get(repo)
        if known is not None and all(label.name.lower() in known for label in wanted):
            return
        task = self._repo_labels.get(repo)
        if task is None:
            task = asyncio.ensure_future(self._list_repo_labels(repo))
            self._repo_labels[repo] = task
        existing = await task
        for label in wanted:
            if label.name.lower() in existing:
                continue
            try:
                await self.gh.post(
                    f"/repos/{repo}/labels",
                    data={
                        "name": label.name,
                        "color": label.color.lstrip("#"),
                        "description": label.description[:100],
                    },
                )
            except Exception as exc:  # created meanwhile by someone else: fine
                error = classify(exc)
                if not (isinstance(error, PermanentGitHubError) and error.status == 422):
                    raise
            existing[label.name.lower()] = {"name": label.name}
        self.caches.repo_labels[repo] = set(existing)

    async def _list_repo_labels(self, repo: str) -> dict[str, dict[str, Any]]:
        labels: dict[str, dict[str, Any]] = {}
        async for label in self.gh.getiter(f"/repos/{repo}/labels?per_page=100"):
            labels[label["name"].lower()] = label
        return labels

    # -- comments ------------------------------------------------------------------

    async def comments(self, issue: IssueRef) -> list[dict[str, Any]]:
        return await self._comments.get(self.gh, issue)

    async def _comment(self, action: UpsertComment) -> ActionResult:
        async with self.caches.comment_writes.lock(action.issue):
            try:
                result = await self._upsert_comment(action)
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

    async def _upsert_comment(self, action: UpsertComment) -> ActionResult:
        described = action.describe()
        text = action.text()
        for comment in await self._comments.current(self.gh, action.issue):
            if action.key not in markers.bot_markers(comment):
                continue
            if action.keep_ticks:
                text = checklists.carry_ticks(comment.get("body"), text)
            if action.once or comment.get("body") == text:
                return ActionResult(described, "unchanged")
            await self.gh.patch(
                f"/repos/{action.issue.repo}/issues/comments/{comment['id']}", data={"body": text}
            )
            comment["body"] = text
            return ActionResult(described, "applied", f"edited comment {comment['id']}")
        created = await self.gh.post(
            f"/repos/{action.issue.repo}/issues/{action.issue.number}/comments", data={"body": text}
        )
        (await self.comments(action.issue)).append(created)
        return ActionResult(described, "applied", f"created comment {created.get('id')}")

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

    async def _open_issue(self, action: OpenIssue) -> ActionResult:
        query = "?state=all&per_page=100"
        if action.labels:
            query += "&labels=" + action.labels[0].name
        async for issue in self.gh.getiter(f"/repos/{action.repo}/issues{query}"):
            if action.key in markers.find(issue.get("body")):
                return ActionResult(action.describe(), "unchanged", f"#{issue['number']}")
        if action.labels:
            await self._ensure_repo_labels(action.repo, list(action.labels))
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
        added = await self.gh.graphql_data(
            projects.ADD_ITEM, projectId=board.id, contentId=action.content_id
        )
        item = (added.get("addProjectV2ItemById") or {}).get("item") or {}
        if not item.get("id"):
            raise PermanentGitHubError(f"board {board.title!r} did not accept {action.issue}")
        present = projects.current_values(item)
        if action.initial:
            wanted = {fid: v for fid, v in wanted.items() if fid not in present}
        updates = [(fid, v) for fid, v in wanted.items() if v is not None and present.get(fid) != v]
        clears = [fid for fid, v in wanted.items() if v is None and fid in present]
        if self._facts is not None:
            after = {**present, **dict(updates)}
            for fid in clears:
                after.pop(fid, None)
            status = projects.option_name(board.field(STATUS_FIELD), after)
            self._facts.board_status(action.issue.repo, action.issue.number, board.title, status)
        if not updates and not clears:
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
        return ActionResult(described, "applied", warnings=warnings)
