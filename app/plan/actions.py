"""The declarative actions a plan is made of: each says what should hold on GitHub,
not which call to make."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..config.labels import LabelSpec
from ..workflows import markers

if TYPE_CHECKING:
    pass


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

    def changes(self) -> tuple[tuple[LabelSpec, ...], tuple[str, ...]]:
        """What would change, where the event says which labels are there already."""
        if self.present is None:
            return self.add, self.remove
        there = {name.lower() for name in self.present}
        return (
            tuple(label for label in self.add if label.name.lower() not in there),
            tuple(name for name in self.remove if name.lower() in there),
        )

    def describe(self) -> str:
        add, remove = self.changes()
        parts = []
        if add:
            parts.append("add " + ", ".join(repr(label.name) for label in add))
        if remove:
            parts.append("remove " + ", ".join(repr(name) for name in remove))
        return f"labels on {self.issue}: " + ("; ".join(parts) or "already as planned")

    def detail(self) -> str:
        return ""


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

    def detail(self) -> str:
        return self.body.rstrip()


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

    def detail(self) -> str:
        return self.body.rstrip()


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


@dataclass(frozen=True)
class CheckRun:
    """The head commit carries a completed check run of this name saying exactly this."""

    repo: str
    head_sha: str
    name: str
    conclusion: str  # success | failure
    title: str
    summary: str
    annotations: tuple[dict[str, Any], ...] = ()

    def describe(self) -> str:
        return f"check run {self.name!r} on {self.repo}@{self.head_sha[:7]}: {self.conclusion}"

    def detail(self) -> str:
        return self.summary


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

    def __init__(self, emit: Callable[[str], None], *, full: bool = False) -> None:
        self._emit = emit
        self._full = full  # each comment's and new issue's whole text, not its first line

    async def apply(self, plan: Sequence[Action]) -> list[ActionResult]:
        results = []
        for action in latest_only(plan)[0]:
            if isinstance(action, EnsureLabels) and action.changes() == ((), ()):
                continue  # the event shows the labels are already so: nothing would be written
            self._emit(f"would {action.describe()}")
            detail = getattr(action, "detail", lambda: "")()
            if self._full and detail:
                self._emit("\n".join(f"    | {line}" for line in detail.splitlines()))
            results.append(ActionResult(action.describe(), "planned"))
        return results
