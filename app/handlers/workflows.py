"""Workflow issues (onboarding, offboarding, initiatives, consortia) → labels, checklist, board."""

from __future__ import annotations

from gidgethub import sansio
from gidgethub.routing import Router

from ..plan.actions import EnsureProjectItem, IssueRef
from ..plan.context import HandlerContext, ignored_sender
from ..plan.workflow_issue import plan_with_links, show_state_elsewhere
from ..workflows import forms, markers
from ..workflows import rules as workflows

router = Router()


def _issue_ref(event: sansio.Event) -> IssueRef:
    return IssueRef(event.data["repository"]["full_name"], event.data["issue"]["number"])


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
@router.register("issues", action="unlabeled")
async def on_labeled(event: sansio.Event, ctx: HandlerContext) -> None:
    """A person changes labels: a workflow's own label → the issue joins that workflow;
    a ``prefix: value`` label (``interested: hypatia``) → the comment shows it."""
    if ignored_sender(ctx):
        return  # our own label changes
    label = str((event.data.get("label") or {}).get("name", "")).lower()
    issue = event.data["issue"]
    workflow = workflows.match_workflow(ctx.config, issue)
    if workflow is None:
        return
    joins = event.data["action"] == "labeled" and label in {
        m.lower() for m in workflow.match.labels
    }
    if joins:
        ctx.note(f"label {label!r} added by hand: applying workflow {workflow.id}")
        values = workflow.board.on_open if workflow.board else ()
        await plan_with_links(ctx, workflow, issue, _issue_ref(event), board_values=values)
    elif ":" in label and workflow.template:
        ctx.note(f"{workflow.id}: label {label!r} {event.data['action']}: comment refreshed")
        await plan_with_links(ctx, workflow, issue, _issue_ref(event))


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
    if workflow is None:
        return
    await show_state_elsewhere(ctx, workflow, issue, _issue_ref(event))
    if workflow.board is None or not issue.get("node_id"):
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
    if ignored_sender(ctx):
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
