"""Workflow issues (onboarding, offboarding, initiatives, consortia) → labels, checklist, board."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gidgethub import sansio
from gidgethub.routing import Router

from .. import forms, markers, workflows
from ..config import Workflow
from ..context import HandlerContext, is_from_bot
from ..plan import EnsureLabels, EnsureProjectItem, IssueRef, SetAssignees, UpsertComment
from ..render import renderer_for, trusted

router = Router()


def comment_key(workflow: Workflow) -> str:
    return f"workflow.{workflow.id}"


def _issue_ref(event: sansio.Event) -> IssueRef:
    return IssueRef(event.data["repository"]["full_name"], event.data["issue"]["number"])


def render_comment(
    ctx: HandlerContext,
    workflow: Workflow,
    issue: Mapping[str, Any],
    values: forms.FormValues,
    community: str,
    related: Sequence[Mapping[str, Any]] = (),
) -> str:
    assert workflow.template is not None
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
            }
            for s in workflow.fields
        ],
        missing=[by_id[f].heading for f in values.missing],
        problems=[(by_id[f].heading, why) for f, why in values.problems.items()],
        community=community,
        notify=trusted(" ".join(workflow.notify)),
        related=list(related),
        footer=trusted(ctx.config.settings.help_footer),
    )


def checklist_comment(
    ctx: HandlerContext,
    workflow: Workflow,
    issue: Mapping[str, Any],
    ref: IssueRef,
    community: str,
    related: Sequence[Mapping[str, Any]],
) -> UpsertComment:
    """The workflow's one marked comment, rendered from the issue as it is now."""
    values = forms.read(workflow, issue.get("body"))
    return UpsertComment(
        ref,
        comment_key(workflow),
        render_comment(ctx, workflow, issue, values, community, related),
        data={"workflow": workflow.id, "community": community},
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
        ctx.add(checklist_comment(ctx, workflow, issue, ref, community, related))
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
    """Issues of the linked workflows (e.g. onboarding for offboarding) for the same community."""
    if not (workflow.links_to and community and ctx.gh is not None):
        return []
    found = []
    label = f"community: {community}"
    async for other in ctx.gh.getiter(
        f"/repos/{ref.repo}/issues?state=all&per_page=100&labels={label}"
    ):
        if other.get("number") == ref.number or "pull_request" in other:
            continue
        other_workflow = workflows.match_workflow(ctx.config, other)
        if other_workflow is not None and other_workflow.id in workflow.links_to:
            found.append((other, other_workflow))
    return found


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
) -> None:
    """The workflow's plan, plus the linked workflows' comments updated to point back here."""
    values = forms.read(workflow, issue.get("body"))
    community = workflows.community_of(workflow, values, workflows.label_names(issue))
    others = await related_workflow_issues(ctx, workflow, ref, community)
    related = [link_view(other, other_workflow.title) for other, other_workflow in others]
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
    )
    back_link = [link_view(issue, workflow.title)]
    for other, other_workflow in others:
        if other_workflow.template is None:
            continue
        other_ref = IssueRef(ref.repo, other["number"])
        ctx.add(checklist_comment(ctx, other_workflow, other, other_ref, community, back_link))
        ctx.note(f"linked {ref} with {other_workflow.id} issue #{other['number']} ({community})")


@router.register("issues", action="opened")
@router.register("issues", action="reopened")
async def on_opened(event: sansio.Event, ctx: HandlerContext) -> None:
    """issues.opened/reopened → labels, checklist comment, board item with open/reopen values."""
    issue = event.data["issue"]
    workflow = workflows.match_workflow(ctx.config, issue)
    if workflow is None:
        ctx.note("no workflow matches this issue")
        return
    opened = event.data["action"] == "opened"
    board = workflow.board
    values = (board.on_open if opened else board.on_reopen) if board else ()
    ctx.note(f"matched workflow {workflow.id} ({workflow.source})")
    await plan_with_links(
        ctx, workflow, issue, _issue_ref(event), board_values=values, assign=opened
    )


@router.register("issues", action="labeled")
async def on_labeled(event: sansio.Event, ctx: HandlerContext) -> None:
    """issues.labeled with a workflow's label, by a person → the issue joins that workflow."""
    if is_from_bot(event.data):
        return  # our own label changes
    label = str((event.data.get("label") or {}).get("name", "")).lower()
    issue = event.data["issue"]
    workflow = workflows.match_workflow(ctx.config, issue)
    if workflow is None or label not in {m.lower() for m in workflow.match.labels}:
        return
    ctx.note(f"label {label!r} added by hand: applying workflow {workflow.id}")
    values = workflow.board.on_open if workflow.board else ()
    await plan_with_links(ctx, workflow, issue, _issue_ref(event), board_values=values)


@router.register("issues", action="edited")
async def on_edited(event: sansio.Event, ctx: HandlerContext) -> None:
    """issues.edited (title/body) → re-render only when a field the workflow uses changed."""
    changes = event.data.get("changes") or {}
    if "body" not in changes and "title" not in changes:
        return
    issue = event.data["issue"]
    workflow = workflows.match_workflow(ctx.config, issue)
    if workflow is None:
        return
    old_issue = {
        **issue,
        "body": (changes.get("body") or {}).get("from", issue.get("body")),
        "title": (changes.get("title") or {}).get("from", issue.get("title")),
    }
    old_state = workflows.relevant_state(workflow, old_issue, old_issue["body"])
    new_state = workflows.relevant_state(workflow, issue, issue.get("body"))
    if workflows.match_workflow(ctx.config, old_issue) == workflow and old_state == new_state:
        ctx.note(f"{workflow.id}: the edit changes nothing the workflow uses")
        return
    boxes_changed = workflows.checklist(old_issue["body"]) != workflows.checklist(issue.get("body"))
    progress = workflows.progress_fields(workflow, workflows.checklist(issue.get("body")))
    await plan_with_links(
        ctx, workflow, issue, _issue_ref(event), board_values=progress if boxes_changed else ()
    )


@router.register("issues", action="closed")
async def on_closed(event: sansio.Event, ctx: HandlerContext) -> None:
    """issues.closed → board values for done, or for not planned."""
    issue = event.data["issue"]
    workflow = workflows.match_workflow(ctx.config, issue)
    if workflow is None or workflow.board is None or not issue.get("node_id"):
        return
    board = workflow.board
    not_planned = issue.get("state_reason") == "not_planned"
    pairs = (
        board.on_close_not_planned if not_planned and board.on_close_not_planned else board.on_close
    )
    values = forms.read(workflow, issue.get("body"))
    community = workflows.community_of(workflow, values, workflows.label_names(issue))
    filled = workflows.template_values(workflow, values, community)
    ctx.note(f"{workflow.id}: closed{' as not planned' if not_planned else ''}")
    ctx.add(
        EnsureProjectItem(
            _issue_ref(event),
            issue["node_id"],
            board.owner,
            board.number,
            workflows.board_fields(pairs, filled),
        )
    )


@router.register("issue_comment", action="edited")
async def on_checklist_ticked(event: sansio.Event, ctx: HandlerContext) -> None:
    """Ticks in our checklist comment → board Status follows the progress rules."""
    if is_from_bot(event.data):
        return
    comment = event.data.get("comment") or {}
    found = markers.find(comment.get("body"))
    keys = [k for k in found if k.startswith("workflow.")]
    if not keys or (comment.get("user") or {}).get("type") != "Bot":
        return
    workflow = ctx.config.workflows.get(keys[0].split(".", 1)[1])
    old_body = ((event.data.get("changes") or {}).get("body") or {}).get("from")
    new_boxes = workflows.checklist(comment.get("body"))
    if workflow is None or workflow.board is None or workflows.checklist(old_body) == new_boxes:
        return
    issue = event.data["issue"]
    pairs = workflows.progress_fields(workflow, new_boxes)
    done = sum(1 for ticked, _ in new_boxes if ticked)
    ctx.note(f"{workflow.id}: checklist {done}/{len(new_boxes)} ticked")
    if pairs and issue.get("node_id"):
        ctx.add(
            EnsureProjectItem(
                _issue_ref(event),
                issue["node_id"],
                workflow.board.owner,
                workflow.board.number,
                pairs,
            )
        )
