"""Commands that move an issue between workflows: /initiative, /offboard, /sync."""

from __future__ import annotations

from typing import Any

from ..config.model import Workflow
from ..config.render import renderer_for, trusted
from ..plan.actions import IssueRef, OpenIssue, SetIssueSection
from ..plan.workflow_issue import plan_with_links
from ..workflows import forms, markers
from ..workflows import rules as workflows
from ..workflows.rules import comment_key
from .grammar import Command
from .run import CommandError, CommandRun

OFFBOARD_TEMPLATE = "offboard-issue.md.j2"


def _workflow(run: CommandRun, workflow_id: str) -> Workflow:
    workflow = run.ctx.config.workflows.get(workflow_id)
    if workflow is None or not workflow.enabled:
        raise CommandError("not_here", "no_workflow", workflow=workflow_id)
    return workflow


async def initiative(run: CommandRun, command: Command) -> None:
    """/initiative [CONSORTIUM-REF] → the issue becomes an initiative (labels, comment, board),
    optionally under a consortium's narrative (its Consortium section names it)."""
    target = _workflow(run, run.settings.initiative_workflow)
    if run.workflow is target and not command.args:
        raise CommandError("not_here", "already", workflow=target.title)
    if command.args:
        heading, value = await _consortium_section(run, target, command.args[0])
        run.issue = {**run.issue, "body": forms.with_section(run.issue.get("body"), heading, value)}
        run.ctx.add(SetIssueSection(run.ref, heading, value))
    values = forms.read(target, run.issue.get("body"))
    community = workflows.community_of(target, values, list(run.labels.values()))
    filled = workflows.template_values(target, values, community)
    for spec in target.label_specs(filled):
        run.add_label(spec)
    if target.board is not None:
        for name, value in workflows.board_fields(target.board.on_open, filled):
            run.board_fields.setdefault(name, value)
    run.workflow = target
    run.rerender_workflow = True
    run.long_work = True
    run.done(command)


async def _consortium_section(run: CommandRun, target: Workflow, typed: str) -> tuple[str, str]:
    """The initiative's ref field that a consortium backlinks, and the value naming it."""
    found = forms.resolve_issue_ref(forms.parse_issue_ref(typed), run.ref.repo)
    if found is None or IssueRef(*found) == run.ref:
        raise CommandError("invalid", "bad_ref", values=[typed])
    other: dict[str, Any] = {}
    if run.ctx.gh is not None:
        try:
            other = await run.ctx.gh.getitem(f"/repos/{found[0]}/issues/{found[1]}")
        except Exception:
            raise CommandError("invalid", "ref_not_found", values=[typed]) from None
    narrative = workflows.match_workflow(run.ctx.config, other) if other else None
    for backlink in narrative.backlinks if narrative else ():
        spec = target.field(backlink.field)
        if backlink.workflow == target.id and spec is not None:
            same_repo = found[0].lower() == run.ref.repo.lower()
            return spec.heading, f"#{found[1]}" if same_repo else f"{found[0]}#{found[1]}"
    if run.ctx.gh is None:  # dry run: cannot look, take the first ref field
        spec = next((f for f in target.fields if f.type == "ref"), None)
        if spec is not None:
            return spec.heading, f"{found[0]}#{found[1]}"
    raise CommandError("invalid", "not_a_consortium", values=[typed])


async def offboard(run: CommandRun, command: Command) -> None:
    """/offboard → an offboarding issue for this issue's community, filled from this one."""
    target = _workflow(run, run.settings.offboard_workflow)
    source = run.workflow or target  # a plain issue: only its community label counts
    values = forms.read(source, run.issue.get("body") if run.workflow else "")
    community = workflows.community_of(source, values, list(run.labels.values()))
    if not community:
        raise CommandError("invalid", "no_community")
    already = await _open_offboarding(run, target, community)
    if already is not None:
        raise CommandError("not_here", "offboarding_open", number=already, community=community)
    known = {**values.values, "community": community}
    sections = [
        {"heading": trusted(spec.heading), "value": known.get(spec.id, "")}
        for spec in target.fields
    ]
    name = known.get("community_name") or community
    body = renderer_for(run.ctx.config.settings.templates_dir).render(
        OFFBOARD_TEMPLATE, sections=sections, source=run.ref.number, community=community
    )
    title = f"{target.match.title_prefix or target.title}".strip() + f" {name}"
    labels = tuple(target.label_specs({**known, "community": community}))
    run.ctx.add(OpenIssue(run.ref.repo, f"offboard.{community}", title, body, labels))
    run.long_work = True
    run.done(command, community=community)


async def _open_offboarding(run: CommandRun, target: Workflow, community: str) -> int | None:
    """An open issue of the offboarding workflow for this community, whoever opened it (from
    the form, or an earlier /offboard): one community leaves once."""
    gh = run.ctx.gh
    if gh is None or not target.match.labels:
        return None
    label = target.match.labels[0]
    async for issue in gh.getiter(
        f"/repos/{run.ref.repo}/issues?state=open&per_page=100&labels={label}"
    ):
        if "pull_request" in issue or workflows.match_workflow(run.ctx.config, issue) != target:
            continue
        values = forms.read(target, issue.get("body"))
        if workflows.community_of(target, values, workflows.label_names(issue)) == community:
            return int(issue["number"])
    return None


async def sync(run: CommandRun, command: Command) -> None:
    """/sync → the workflow's plan recomputed from the issue as it is now, what differs applied."""
    ctx = run.ctx
    issue = run.issue
    if ctx.gh is not None:
        issue = await ctx.gh.getitem(f"/repos/{run.ref.repo}/issues/{run.ref.number}")
    workflow = workflows.match_workflow(ctx.config, issue)
    if workflow is None:
        raise CommandError("not_here", "no_workflow_matches")
    await plan_with_links(
        ctx, workflow, issue, run.ref, board_values=await _board_now(run, workflow, issue)
    )
    run.long_work = True
    run.done(command)


async def _board_now(
    run: CommandRun, workflow: Workflow, issue: dict[str, Any]
) -> tuple[tuple[str, str], ...]:
    """The board values the issue's state calls for: closed, ticked progress, or just opened."""
    board = workflow.board
    if board is None:
        return ()
    if issue.get("state") == "closed":
        not_planned = issue.get("state_reason") == "not_planned"
        return (
            board.on_close_not_planned
            if not_planned and board.on_close_not_planned
            else (board.on_close)
        )
    ticks: list[tuple[bool, str]] = []
    if run.ctx.gh is not None:
        for comment in await run.ctx.comments.get(run.ctx.gh, run.ref):
            if comment_key(workflow) in markers.bot_markers(comment):
                ticks = workflows.checklist(comment.get("body"))
    progress = workflows.progress_fields(workflow, ticks)
    names = {name.lower() for name, _ in progress}
    return tuple((n, v) for n, v in board.on_open if n.lower() not in names) + tuple(progress)
