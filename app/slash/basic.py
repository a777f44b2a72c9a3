"""The everyday commands: help, labels, board status, assignees, community, close, why."""

from __future__ import annotations

import fnmatch
import re
import time
from typing import Any

from ..config import commands
from ..config.labels import LabelSpec
from ..config.model import fill
from ..config.render import trusted
from .grammar import Command
from .run import CommandError, CommandRun, community_slug

_LOGIN = re.compile(r"^@?([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))$")
CLOSE_REASONS = {"completed": "completed", "not-planned": "not_planned", "duplicate": "duplicate"}
COMMUNITY_LABEL = LabelSpec("community: {community}", "c5def5", "Requests from {community}")
MAX_ASSIGNEES = 10  # GitHub's own limit per issue


async def help_(run: CommandRun, command: Command) -> None:
    """/help → the commands that apply to this issue, and who may run each."""
    rows = []
    aliases = run.settings.aliases
    for spec in commands.SPECS:
        if spec.name in run.settings.disabled or not applies(run, spec.name):
            continue
        rows.append(
            {
                "usage": trusted(spec.usage),
                "level": run.settings.levels[spec.name],
                "aliases": sorted(a for a, target in aliases.items() if target == spec.name),
            }
        )
    run.done(
        command, "reply", "help", rows=rows, workflow=run.workflow.title if run.workflow else ""
    )


def applies(run: CommandRun, name: str) -> bool:
    """Whether a command makes sense on this issue (so /help does not list the others)."""
    workflow = run.workflow
    if name in ("join", "leave", "roles"):
        return workflow is not None and bool(workflow.roles)
    if name == "status":
        return workflow is not None and workflow.board is not None
    if name == "initiative":
        target = run.settings.initiative_workflow
        return target in run.ctx.config.workflows and (workflow is None or workflow.id != target)
    if name == "offboard":
        return run.settings.offboard_workflow in run.ctx.config.workflows
    return True


def joined_labels(args: tuple[str, ...]) -> list[str]:
    """``interested: hypatia`` typed without quotes is one label, not two."""
    names: list[str] = []
    for arg in args:
        if names and names[-1].endswith(":"):
            names[-1] = f"{names[-1]} {arg}"
        else:
            names.append(arg)
    return names


def allowed_patterns(run: CommandRun) -> list[str]:
    extra = list(run.workflow.command_labels) if run.workflow else []
    return [*run.settings.labels, *extra]


def _check_labels(run: CommandRun, names: list[str]) -> tuple[list[str], list[str]]:
    patterns = [p.lower() for p in allowed_patterns(run)]
    ok, refused = [], []
    for name in names:
        allowed = any(fnmatch.fnmatchcase(name.lower(), p) for p in patterns)
        (ok if allowed and len(name) <= 50 else refused).append(name)
    return ok, refused


def _refuse_labels(run: CommandRun, refused: list[str]) -> None:
    if refused:
        raise CommandError(
            "invalid", "labels_not_allowed", values=refused, allowed=allowed_patterns(run)
        )


async def label(run: CommandRun, command: Command) -> None:
    """/label NAME… → the allowed ones are added; the others are refused, with the list."""
    ok, refused = _check_labels(run, joined_labels(command.args))
    for name in ok:
        run.add_label(LabelSpec(name))
    run.rerender_workflow |= bool(ok)
    _refuse_labels(run, refused)
    run.done(command)


async def remove_label(run: CommandRun, command: Command) -> None:
    ok, refused = _check_labels(run, joined_labels(command.args))
    for name in ok:
        run.remove_label(name)
    run.rerender_workflow |= bool(ok)
    _refuse_labels(run, refused)
    run.done(command)


async def status(run: CommandRun, command: Command) -> None:
    """/status VALUE → the board's status field, matched case-insensitively to its options.

    Boards name things differently (``In progress`` / ``In Progress``): the option is
    resolved against the board itself, never against our config.
    """
    workflow = run.workflow
    if workflow is None or workflow.board is None:
        raise CommandError("not_here", "no_board")
    wanted = " ".join(command.args).strip()
    value = wanted
    ctx = run.ctx
    if ctx.gh is not None and ctx.caches is not None:
        board = await ctx.caches.board(ctx.gh, workflow.board.owner, workflow.board.number)
        field = board.field(run.settings.status_field)
        options = list(field.option_names) if field else []
        match = next((o for o in options if o.lower() == wanted.lower()), None)
        if match is None:
            raise CommandError("invalid", "status_unknown", values=[wanted], allowed=options)
        value = match
    run.board_fields[run.settings.status_field] = value
    run.done(command)


def _logins(run: CommandRun, args: tuple[str, ...]) -> list[str]:
    if not args:
        return [run.commenter.login]
    found, bad = [], []
    for arg in args:
        match = _LOGIN.match(arg)
        (found if match else bad).append(match.group(1) if match else arg)
    if bad:
        raise CommandError("invalid", "bad_user", values=bad)
    if len(found) > MAX_ASSIGNEES:
        raise CommandError("invalid", "too_many_users", values=found[MAX_ASSIGNEES:])
    return found


async def assign(run: CommandRun, command: Command) -> None:
    """/assign [@user…] → assignees (the commenter when none is named)."""
    for login in _logins(run, command.args):
        run.assignees[login.lower()] = login
    run.done(command)


async def unassign(run: CommandRun, command: Command) -> None:
    for login in _logins(run, command.args):
        run.assignees.pop(login.lower(), None)
    run.done(command)


async def community(run: CommandRun, command: Command) -> None:
    """/community SLUG → label ``community: SLUG`` (replacing another) and the board field."""
    (typed,) = command.args
    slug = community_slug(typed)
    for name in list(run.labels.values()):
        if name.lower().startswith("community:"):
            run.remove_label(name)
    rule = _community_label_rule(run)
    values = {"community": slug}
    run.add_label(
        LabelSpec(fill(rule.name, values) or "", rule.color, fill(rule.description, values) or "")
    )
    if run.workflow and run.workflow.board:
        for name, value in run.workflow.board.on_open:
            if value == "{community}":
                run.board_fields[name] = slug
    run.rerender_workflow = True
    run.done(command)


def _community_label_rule(run: CommandRun) -> Any:
    """The workflow's own ``community: {community}`` label rule, for its colour and words."""
    for workflow in run.ctx.config.enabled():
        for rule in workflow.labels:
            if rule.name.lower().startswith("community:") and "{community}" in rule.name:
                return rule
    return COMMUNITY_LABEL


async def close(run: CommandRun, command: Command) -> None:
    """/close [completed|not-planned|duplicate] → closed, with GitHub's reason."""
    typed = command.args[0].lower().replace("_", "-") if command.args else "completed"
    if typed not in CLOSE_REASONS:
        raise CommandError("invalid", "close_reason", values=[typed], allowed=list(CLOSE_REASONS))
    run.state = ("closed", CLOSE_REASONS[typed])
    run.done(command)


async def reopen(run: CommandRun, command: Command) -> None:
    run.state = ("open", "reopened")
    run.done(command)


async def why(run: CommandRun, command: Command) -> None:
    """/why → what Flywheel did on this issue lately, and why, from the journal."""
    rows = await run.ctx.journal.for_issue(run.ref.repo, run.ref.number, limit=11)
    deliveries = []
    for row in rows:
        if row["id"] == run.ctx.delivery_id:
            continue
        outcome = row.get("outcome") or {}
        event = row["event"] + (f".{row['action']}" if row.get("action") else "")
        deliveries.append(
            {
                "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(row["received_at"])),
                "event": event,
                "state": row["state"],
                "attempts": row.get("attempts", 0),
                "notes": list(outcome.get("notes") or [])[:6],
                "actions": [
                    {"status": a.get("status", ""), "action": a.get("action", "")}
                    for a in (outcome.get("actions") or [])[:8]
                ],
                "error": row.get("error") or "",
            }
        )
    run.done(command, "reply", "why", deliveries=deliveries[:10])
