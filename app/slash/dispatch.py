"""Slash commands: each comment's commands checked for permission and run in order.

The grammar is ``grammar.py``, the table of commands ``app/config/commands.py``; the state the
commands build and the one
reply are ``run.py``; each module here implements a few commands.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from ..config import commands
from ..github.errors import PermanentGitHubError
from ..github.permissions import SetupError
from ..plan.actions import IssueRef
from ..plan.context import HandlerContext
from ..workflows.rules import match_workflow
from . import basic, consortium, grammar, links, overtaken, workflow
from .grammar import Command
from .run import MAX_COMMANDS, CommandError, CommandRun

Implementation = Callable[[CommandRun, Command], Awaitable[None]]

IMPLEMENTATIONS: dict[str, Implementation] = {
    "help": basic.help_,
    "label": basic.label,
    "remove-label": basic.remove_label,
    "status": basic.status,
    "assign": basic.assign,
    "unassign": basic.unassign,
    "community": basic.community,
    "close": basic.close,
    "reopen": basic.reopen,
    "why": basic.why,
    "link": links.link,
    "unlink": links.unlink,
    "join": consortium.join,
    "roles": consortium.roles,
    "leave": consortium.leave,
    "initiative": workflow.initiative,
    "offboard": workflow.offboard,
    "sync": workflow.sync,
}
assert set(IMPLEMENTATIONS) == set(commands.SPEC_BY_NAME), "every command needs its code"


async def run_comment(ctx: HandlerContext, data: dict[str, Any]) -> None:
    """Run the comment's commands in order, then plan the state, reactions and one reply."""
    parsed = grammar.parse((data.get("comment") or {}).get("body"))[:MAX_COMMANDS]
    passive = READ_ONLY | set(ctx.config.settings.commands.ignore)
    if ctx.gh is not None and any(c.name not in passive for c in parsed):
        reads: list[Awaitable[Any]] = [current_issue(ctx, data)]
        if reads_comments(ctx, data, parsed):  # both reads at once
            ref = IssueRef(data["repository"]["full_name"], data["issue"]["number"])
            reads.append(ctx.comments.get(ctx.gh, ref))
        data = {**data, "issue": (await asyncio.gather(*reads))[0]}
    run = CommandRun(ctx, data)
    comment_id = run.comment.get("id")
    if any(overtaken.decides(c, run.commenter.login) for c in parsed):
        run.decided_later = await overtaken.decided_later(ctx, comment_id)
    for command in parsed:
        await execute(run, command)
    if run.decided and isinstance(comment_id, int):
        ctx.decided = {"comment": comment_id, "keys": sorted(run.decided)}
    await run.finish()


READ_ONLY = {"help", "why"}  # they change nothing: the payload's copy of the issue will do
# Commands that read the issue's own comments (members, links, the workflow's checklist).
READS_COMMENTS = {"join", "roles", "leave", "link", "unlink", "sync"}


def reads_comments(ctx: HandlerContext, data: dict[str, Any], parsed: list[Command]) -> bool:
    """Whether the commands will list the issue's comments: those above, and any change on a
    workflow issue (its checklist comment is written again)."""
    names = {ctx.config.settings.commands.resolve(c.name) for c in parsed}
    return bool(names & READS_COMMENTS) or match_workflow(ctx.config, data["issue"]) is not None


async def current_issue(ctx: HandlerContext, data: dict[str, Any]) -> dict[str, Any]:
    """The issue as it is now: the payload's copy dates from when the comment was written.

    Two commands written a second apart both carry the issue as it was
    before either ran; the second would then work out its changes (which
    labels to remove, whom to unassign) from a state the first has changed.
    Read with the ETag cache, this is usually a free 304.
    """
    assert ctx.gh is not None
    issue = data["issue"]
    url = f"/repos/{data['repository']['full_name']}/issues/{issue['number']}"
    fresh = await ctx.gh.getitem(url)
    return fresh if isinstance(fresh, dict) else issue


async def execute(run: CommandRun, command: Command) -> None:
    settings = run.settings
    if command.name in settings.ignore:
        return
    name = settings.resolve(command.name)
    if name is None:
        suggestion = grammar.closest(command.name, settings.known_names())
        run.done(command, "unknown", suggestion=suggestion or "")
        return
    spec = commands.SPEC_BY_NAME[name]
    if not grammar.arity_ok(spec, command):
        run.done(command, "usage", usage=spec.usage)
        return
    level = settings.levels[name]
    try:
        if level != "representative":  # the command knows the community, and checks it
            await run.require(level)
        settles = overtaken.decides(replace(command, name=name), run.commenter.login)
        if settles and settles <= run.decided_later:
            run.done(command, "done", "overtaken by a later comment, already applied")
            return
        await IMPLEMENTATIONS[name](run, command)
        if run.outcomes and run.outcomes[-1].kind == "done":
            run.decided |= settles
    except CommandError as error:
        run.fail(command, error)
    except SetupError as error:
        run.ctx.note(f"permission lookup refused (403): {error}")
        run.done(command, "setup", "lookup")
    except PermanentGitHubError as error:  # e.g. the board is gone: say so, run the rest
        run.done(command, "error", "github", detail=str(error)[:300])
