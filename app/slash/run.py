"""One comment's commands, run in order against a desired state, answered once.

Commands do not each write to GitHub. They change a desired state (the
issue's labels, assignees, open or closed, board fields) that starts as the
issue is now; at the end one action per kind reconciles GitHub to it. So
``/label x`` then ``/remove-label x`` in one comment ends with no ``x``, as
reading it in order says, although the executor runs actions concurrently.
Every outcome is kept; the comment then gets its reactions and at most one
reply, rendered from ``templates/command-reply.md.j2``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..config.labels import LabelSpec
from ..config.model import Workflow
from ..config.render import renderer_for, trusted
from ..github.permissions import Commenter, PermissionChecker
from ..plan.actions import (
    EnsureLabels,
    EnsureProjectItem,
    IssueRef,
    React,
    SetAssignees,
    SetIssueState,
    UpsertComment,
)
from ..plan.context import HandlerContext
from ..plan.workflow_issue import plan_with_links
from ..workflows import forms, membership
from ..workflows import rules as workflows
from .grammar import Command

REPLY_TEMPLATE = "command-reply.md.j2"
MAX_COMMANDS = 10  # a comment holding more is answered for the first ten only


class CommandError(Exception):
    """The command cannot run as typed: the person is told why, nothing is changed."""

    def __init__(self, kind: str, reason: str, **info: Any) -> None:
        super().__init__(reason)
        self.kind, self.reason, self.info = kind, reason, info


@dataclass
class Outcome:
    command: Command
    kind: str  # done | reply | unknown | usage | refused | setup | not_here | invalid
    reason: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.kind not in ("done", "reply")

    def view(self) -> dict[str, Any]:
        """What the reply template reads; usage lines come from our code, not from people."""
        info = dict(self.info)
        if "usage" in info:
            info["usage"] = trusted(info["usage"])
        return {
            "name": self.command.name,
            "args": " ".join(self.command.args),
            "kind": self.kind,
            "reason": self.reason,
            "level": "",
            "community": "",
            "repo_name": "",
            "suggestion": "",
            "workflow": "",
            **info,
        }


class CommandRun:
    """The state one comment's commands build up, and what it takes to apply it."""

    def __init__(self, ctx: HandlerContext, data: dict[str, Any]) -> None:
        self.ctx = ctx
        self.issue: dict[str, Any] = data["issue"]
        self.comment: dict[str, Any] = data["comment"]
        self.ref = IssueRef(data["repository"]["full_name"], self.issue["number"])
        self.repo_private = bool(data["repository"].get("private"))
        self.settings = ctx.config.settings.commands
        self.workflow: Workflow | None = workflows.match_workflow(ctx.config, self.issue)
        author = (self.issue.get("user") or {}).get("login", "")
        self.commenter = Commenter(
            login=str((self.comment.get("user") or {}).get("login", "")),
            association=str(self.comment.get("author_association") or "NONE"),
            issue_author=str(author),
        )
        self.present_labels = workflows.label_names(self.issue)
        self.labels: dict[str, str] = {n.lower(): n for n in self.present_labels}
        self.new_labels: dict[str, LabelSpec] = {}
        present_assignees = [a.get("login", "") for a in self.issue.get("assignees") or []]
        self.present_assignees = tuple(present_assignees)
        self.assignees: dict[str, str] = {a.lower(): a for a in present_assignees}
        self.state: tuple[str, str | None] | None = None
        self.board_fields: dict[str, str] = {}
        self.outcomes: list[Outcome] = []
        self.long_work = False
        self.rerender_workflow = False  # labels its comment shows changed: re-render it
        self.history: list[membership.Entry] | None = None  # a consortium's, once changed
        # What a family of commands gathers across one comment (slash/links.py's links),
        # by the family's name; its finisher plans the result once, when the comment ends.
        self.gathered: dict[str, object] = {}
        self.finishers: list[Callable[[], Awaitable[None]]] = []  # plan what commands gathered
        self.decided: set[str] = set()  # what this comment's commands settled (overtaken.py)
        self.decided_later: set[str] = set()  # what later comments, already applied, settled

    # -- what commands change --------------------------------------------------------

    def add_label(self, spec: LabelSpec) -> None:
        self.labels[spec.name.lower()] = spec.name
        self.new_labels[spec.name.lower()] = spec

    def remove_label(self, name: str) -> None:
        self.labels.pop(name.lower(), None)
        self.new_labels.pop(name.lower(), None)

    def issue_now(self) -> dict[str, Any]:
        """The issue as the commands so far leave it (labels), for re-planning its workflow."""
        return {**self.issue, "labels": [{"name": name} for name in self.labels.values()]}

    async def require(self, level: str, repo: str | None = None, **info: Any) -> None:
        """Refuse unless the commenter has ``level`` on ``repo`` (this issue's by default)."""
        if self.ctx.gh is None:
            self.ctx.note(f"dry run: {self.commenter.login}'s {level!r} permission not checked")
            return
        checker = self.ctx.permissions or PermissionChecker()
        if not await checker.allows(self.ctx.gh, repo or self.ref.repo, self.commenter, level):
            raise CommandError("refused", "permission", level=level, **info)

    def done(self, command: Command, kind: str = "done", reason: str = "", **info: Any) -> None:
        self.outcomes.append(Outcome(command, kind, reason, info))
        self.ctx.note(f"{command.text()[:80]} by {self.commenter.login}: {kind} {reason}".strip())

    def fail(self, command: Command, error: CommandError) -> None:
        self.done(command, error.kind, error.reason, **error.info)

    # -- the end: one action per kind, reactions, one reply ----------------------------

    async def finish(self) -> None:
        self._plan_state()
        for finisher in self.finishers:
            await finisher()
        if self.workflow is not None and (self.rerender_workflow or self.history is not None):
            # Our own label changes come back as bot events, which are ignored: re-plan now.
            await plan_with_links(
                self.ctx, self.workflow, self.issue_now(), self.ref, history=self.history
            )
        self._plan_feedback()

    def _plan_state(self) -> None:
        present = {n.lower() for n in self.present_labels}
        add = tuple(spec for key, spec in self.new_labels.items() if key not in present)
        remove = tuple(name for name in self.present_labels if name.lower() not in self.labels)
        if add or remove:
            self.ctx.add(EnsureLabels(self.ref, add, remove, tuple(self.present_labels)))
        before = {a.lower() for a in self.present_assignees}
        add_people = tuple(a for key, a in self.assignees.items() if key not in before)
        drop_people = tuple(a for a in self.present_assignees if a.lower() not in self.assignees)
        if add_people or drop_people:
            self.ctx.add(SetAssignees(self.ref, add_people, drop_people, self.present_assignees))
        if self.state is not None:
            self.ctx.add(SetIssueState(self.ref, *self.state))
        board = self.workflow.board if self.workflow else None
        if self.board_fields and board is not None and self.issue.get("node_id"):
            self.ctx.add(
                EnsureProjectItem(
                    self.ref,
                    self.issue["node_id"],
                    board.owner,
                    board.number,
                    tuple(self.board_fields.items()),
                )
            )

    def _plan_feedback(self) -> None:
        comment_id = self.comment.get("id")
        if not isinstance(comment_id, int) or not self.outcomes:
            return
        if any(not o.failed for o in self.outcomes):
            self.ctx.add(React(self.ref, "rocket" if self.long_work else "+1", comment_id))
        if any(o.failed for o in self.outcomes):
            self.ctx.add(React(self.ref, "confused", comment_id))
        shown = [o for o in self.outcomes if o.kind != "done"]
        if not shown:
            return  # success says nothing new: the reaction is the answer
        body = renderer_for(self.ctx.config.settings.templates_dir).render(
            REPLY_TEMPLATE,
            outcomes=[o.view() for o in shown],
            footer=trusted(self.ctx.config.settings.help_footer),
        )
        self.ctx.add(UpsertComment(self.ref, f"reply.{comment_id}", body, once=True))


def community_slug(typed: str) -> str:
    """A community named in a command: its slug exactly, or a refusal suggesting one."""
    slug = forms.slugify(typed)
    if not slug or slug != typed.lower():
        raise CommandError("invalid", "bad_slug", values=[typed], suggestion=slug)
    return slug
