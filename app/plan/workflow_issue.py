"""What a workflow issue should look like on GitHub: its labels, its checklist comment (with the
issues it links to and from), its assignees and its board item. Shared by the workflow handlers
and the commands that change a workflow issue (/initiative, /offboard, /sync).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config.model import Workflow
from ..config.render import renderer_for, trusted
from ..workflows import forms, membership
from ..workflows import rules as workflows
from ..workflows.rules import comment_key
from .actions import EnsureLabels, EnsureProjectItem, IssueRef, SetAssignees, UpsertComment
from .context import HandlerContext


class Missing(str):
    """A required fact's heading, as templates have always listed it, and (``.why``) the
    reason a value given for it was refused, if one was."""

    why: str

    def __new__(cls, heading: str, why: str = "") -> Missing:
        made = super().__new__(cls, heading)
        made.why = why
        return made


def render_comment(
    ctx: HandlerContext,
    workflow: Workflow,
    issue: Mapping[str, Any],
    values: forms.FormValues,
    community: str,
    related: Sequence[Mapping[str, Any]] = (),
    extras: Extras | None = None,
) -> str:
    assert workflow.template is not None
    extras = extras or Extras()
    by_id = {spec.id: spec for spec in workflow.fields}
    return renderer_for(ctx.config.settings.templates_dir).render(
        workflow.template,
        workflow={"id": workflow.id, "title": workflow.title},
        issue={
            "number": issue.get("number"),
            "title": issue.get("title", ""),
            "author": (issue.get("user") or {}).get("login", ""),
        },
        values=values.values,
        fields=[
            {
                "id": s.id,
                "heading": s.heading,
                "value": values.get(s.id),
                "required": s.required,
                "problem": values.problems.get(s.id, ""),
                "typed": values.typed.get(s.id, ""),
            }
            for s in workflow.fields
        ],
        # A required fact whose value was refused is listed once, with the reason.
        missing=[Missing(by_id[f].heading, values.problems.get(f, "")) for f in values.missing],
        problems=[
            (by_id[f].heading, why) for f, why in values.problems.items() if f not in values.missing
        ],
        community=community,
        notify=trusted(" ".join(workflow.notify)),
        related=list(related),
        footer=trusted(ctx.config.settings.help_footer),
        label_groups=workflows.label_groups(workflows.label_names(issue)),
        backlinks=extras.backlinks,
        roles=workflow.roles,
        members=membership.view(extras.history, list(workflow.roles)),
    )


@dataclass
class Extras:
    """What a comment shows beyond the issue itself: issues pointing at it, and its members."""

    backlinks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    history: list[membership.Entry] = field(default_factory=list)  # /join, /roles, /leave


async def existing_marker_data(ctx: HandlerContext, ref: IssueRef, key: str) -> dict[str, Any]:
    """The data in our marked comment on an issue (members live there, visible to all)."""
    if ctx.gh is None:
        return {}
    return await ctx.comments.marker_data(ctx.gh, ref, key) or {}


async def backlinked_issues(
    ctx: HandlerContext, workflow: Workflow, ref: IssueRef
) -> dict[str, list[dict[str, Any]]]:
    """For each backlink: the issues of its workflow, in this repository, whose field points here.

    Same repository only, so a public consortium never lists a private initiative.
    """
    found: dict[str, list[dict[str, Any]]] = {link.name: [] for link in workflow.backlinks}
    if ctx.gh is None:
        return found
    for link in workflow.backlinks:
        source = ctx.config.workflows.get(link.workflow)
        if source is None or not source.match.labels:
            continue
        async for other in ctx.gh.getiter(
            f"/repos/{ref.repo}/issues?state=all&per_page=100&labels={source.match.labels[0]}"
        ):
            if "pull_request" in other or other.get("number") == ref.number:
                continue
            values = forms.read(source, other.get("body"))
            target = forms.resolve_issue_ref(values.get(link.field), ref.repo)
            if target == (ref.repo, ref.number):
                found[link.name].append(link_view(other, source.title))
    for issues in found.values():
        issues.sort(key=lambda i: i["number"])
    return found


async def membership_history(
    ctx: HandlerContext, workflow: Workflow, ref: IssueRef
) -> list[membership.Entry]:
    """The consortium's /join history, as its comment on GitHub holds it."""
    data = await existing_marker_data(ctx, ref, comment_key(workflow))
    return membership.entries(data.get("history"))


async def comment_extras(
    ctx: HandlerContext,
    workflow: Workflow,
    ref: IssueRef,
    history: list[membership.Entry] | None = None,
) -> Extras:
    extras = Extras()
    if workflow.backlinks:
        extras.backlinks = await backlinked_issues(ctx, workflow, ref)
    if workflow.roles:
        extras.history = (
            history if history is not None else await membership_history(ctx, workflow, ref)
        )
    return extras


def checklist_comment(
    ctx: HandlerContext,
    workflow: Workflow,
    issue: Mapping[str, Any],
    ref: IssueRef,
    community: str,
    related: Sequence[Mapping[str, Any]],
    extras: Extras | None = None,
) -> UpsertComment:
    """The workflow's one marked comment, rendered from the issue as it is now."""
    values = forms.read(workflow, issue.get("body"))
    data: dict[str, Any] = {"workflow": workflow.id, "community": community}
    if extras is not None and workflow.roles:
        data["history"] = [entry.as_data() for entry in extras.history]
    return UpsertComment(
        ref,
        comment_key(workflow),
        render_comment(ctx, workflow, issue, values, community, related, extras),
        data=data,
        keep_ticks=True,
    )


def plan_workflow(
    ctx: HandlerContext,
    workflow: Workflow,
    issue: Mapping[str, Any],
    ref: IssueRef,
    values: forms.FormValues,
    community: str,
    *,
    board_values: Sequence[tuple[str, str]] = (),
    assign: bool = False,
    related: Sequence[Mapping[str, Any]] = (),
    extras: Extras | None = None,
) -> None:
    """Labels, checklist comment and board item for one workflow issue."""
    present = workflows.label_names(issue)
    filled = workflows.template_values(workflow, values, community)
    missing = workflows.missing_label_change(workflow, values, present)
    ctx.add(
        EnsureLabels(
            ref,
            add=tuple(workflow.label_specs(filled)) + missing.add,
            remove=missing.remove,
            present=tuple(present),
        )
    )
    if workflow.template:
        ctx.add(checklist_comment(ctx, workflow, issue, ref, community, related, extras))
    if workflow.board is not None and board_values and issue.get("node_id"):
        ctx.add(
            EnsureProjectItem(
                ref,
                issue["node_id"],
                workflow.board.owner,
                workflow.board.number,
                workflows.board_fields(board_values, filled),
            )
        )
    if assign and workflow.assignees:
        current = tuple(a.get("login", "") for a in issue.get("assignees") or [])
        ctx.add(SetAssignees(ref, add=workflow.assignees, present=current))
    if values.missing:
        ctx.note(f"{workflow.id}: required facts missing: {', '.join(values.missing)}")


async def related_workflow_issues(
    ctx: HandlerContext, workflow: Workflow, ref: IssueRef, community: str
) -> list[tuple[dict[str, Any], Workflow]]:
    """Issues of the linked workflows (e.g. onboarding for offboarding) for the same community.

    Found by the linked workflow's own label, which the issue form applies when the issue is
    opened, and the community its form states, rather than by the ``community:`` label: that
    one is our own write, and two deliveries planned at the same moment (an onboarding and its
    offboarding) would each miss the other while neither label had landed (the soak saw it).
    """
    if not (workflow.links_to and community and ctx.gh is not None):
        return []
    since = ctx.comments.now()  # before the list: its copies of the issues date from here
    found: dict[int, tuple[dict[str, Any], Workflow]] = {}
    for other_id in workflow.links_to:
        linked = ctx.config.workflows.get(other_id)
        if linked is None:
            continue
        label = linked.match.labels[0] if linked.match.labels else f"community: {community}"
        async for other in ctx.gh.getiter(
            f"/repos/{ref.repo}/issues?state=all&per_page=100&labels={label}"
        ):
            number = int(other.get("number", 0))
            if number == ref.number or number in found or "pull_request" in other:
                continue
            matched = workflows.match_workflow(ctx.config, other)
            if matched is None or matched.id != linked.id:
                continue
            values = forms.read(linked, other.get("body"))
            if workflows.community_of(linked, values, workflows.label_names(other)) != community:
                continue
            found[number] = (dict(other), linked)
            note_node_id(ctx, IssueRef(ref.repo, number), other)
    numbers = sorted(found)
    await asyncio.gather(
        *(ctx.comments.get(ctx.gh, IssueRef(ref.repo, n), since=since) for n in numbers)
    )
    return [found[number] for number in numbers]


async def issue_to_render(ctx: HandlerContext, ref: IssueRef) -> dict[str, Any]:
    """Another issue, read to re-render its comment from this delivery (not its own lane).

    Its comment list counts from before this read: should its own lane write its comment
    after it (an edit of its facts), the write here is then a conflict and this delivery
    runs again, instead of putting the facts it read back. (An issue found in a list of
    issues needs no read: its comment list counts from before the list.)
    """
    assert ctx.gh is not None
    since = ctx.comments.now()  # both reads at once, the list counting from before either
    _, issue = await asyncio.gather(
        ctx.comments.get(ctx.gh, ref, since=since),
        ctx.gh.getitem(f"/repos/{ref.repo}/issues/{ref.number}"),
    )
    note_node_id(ctx, ref, issue)
    return dict(issue)


def note_node_id(ctx: HandlerContext, ref: IssueRef, issue: Mapping[str, Any]) -> None:
    """GitHub's id of an issue read along the way: what batched writes to it take."""
    if ctx.caches is not None:
        ctx.caches.note_node_id(ref, issue.get("node_id"))


def link_view(issue: Mapping[str, Any], workflow_title: str) -> dict[str, Any]:
    return {
        "number": issue.get("number"),
        "title": issue.get("title", ""),
        "state": issue.get("state", "open"),
        "workflow": workflow_title,
    }


async def plan_with_links(
    ctx: HandlerContext,
    workflow: Workflow,
    issue: Mapping[str, Any],
    ref: IssueRef,
    *,
    board_values: Sequence[tuple[str, str]] = (),
    assign: bool = False,
    history: list[membership.Entry] | None = None,
) -> None:
    """The workflow's plan, plus the linked workflows' comments updated to point back here.

    ``history``: a consortium's membership as a command just changed it.
    """
    values = forms.read(workflow, issue.get("body"))
    community = workflows.community_of(workflow, values, workflows.label_names(issue))
    if ctx.gh is not None:
        # Read our comment before the issues it will name: a write by another delivery
        # after this read is then caught as a conflict, and this delivery runs again.
        await ctx.comments.get(ctx.gh, ref)
    others = await related_workflow_issues(ctx, workflow, ref, community)
    related = [link_view(other, other_workflow.title) for other, other_workflow in others]
    extras = await comment_extras(ctx, workflow, ref, history) if workflow.template else None
    plan_workflow(
        ctx,
        workflow,
        issue,
        ref,
        values,
        community,
        board_values=board_values,
        assign=assign,
        related=related,
        extras=extras,
    )
    await refresh_referenced(ctx, workflow, values, ref)
    point_back(ctx, issue, workflow, ref, community, others)


async def show_state_elsewhere(
    ctx: HandlerContext, workflow: Workflow, issue: Mapping[str, Any], ref: IssueRef
) -> None:
    """The issue closed (or changed state): the comments that name it with its state (an
    offboarding's "Onboarding: #1 (open)", a consortium's initiatives) are written again."""
    values = forms.read(workflow, issue.get("body"))
    community = workflows.community_of(workflow, values, workflows.label_names(issue))
    others = await related_workflow_issues(ctx, workflow, ref, community)
    point_back(ctx, issue, workflow, ref, community, others)
    await refresh_referenced(ctx, workflow, values, ref)


def point_back(
    ctx: HandlerContext,
    issue: Mapping[str, Any],
    workflow: Workflow,
    ref: IssueRef,
    community: str,
    others: Sequence[tuple[Mapping[str, Any], Workflow]],
) -> None:
    """Each linked workflow issue's comment, naming this one as it is now."""
    back_link = [link_view(issue, workflow.title)]
    for other, other_workflow in others:
        if other_workflow.template is None:
            continue
        other_ref = IssueRef(ref.repo, other["number"])
        ctx.add(checklist_comment(ctx, other_workflow, other, other_ref, community, back_link))
        ctx.note(f"linked {ref} with {other_workflow.id} issue #{other['number']} ({community})")


async def refresh_referenced(
    ctx: HandlerContext, workflow: Workflow, values: forms.FormValues, ref: IssueRef
) -> None:
    """An initiative naming a consortium → the consortium's comment lists it (and vice versa)."""
    if ctx.gh is None:
        return
    for spec in workflow.fields:
        if spec.type != "ref" or not values.get(spec.id):
            continue
        target = forms.resolve_issue_ref(values.get(spec.id), ref.repo)
        if target is None or target[0] != ref.repo or target[1] == ref.number:
            continue  # other repositories: linking (not backlinks) connects those
        other = await issue_to_render(ctx, IssueRef(*target))
        other_workflow = workflows.match_workflow(ctx.config, other)
        if other_workflow is None or other_workflow.template is None:
            continue
        if not any(
            b.workflow == workflow.id and b.field == spec.id for b in other_workflow.backlinks
        ):
            continue
        other_ref = IssueRef(*target)
        other_values = forms.read(other_workflow, other.get("body"))
        community = workflows.community_of(
            other_workflow, other_values, workflows.label_names(other)
        )
        extras = await comment_extras(ctx, other_workflow, other_ref)
        ctx.add(checklist_comment(ctx, other_workflow, other, other_ref, community, (), extras))
        ctx.note(f"{workflow.id} {ref} points at {other_workflow.id} {other_ref}: listed there")
