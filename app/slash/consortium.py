"""/join, /roles and /leave on a consortium issue: a community's membership and roles.

A command speaks for one community: the one named with ``for SLUG``, or the
only one the commenter represents. Representatives are found from the
communities' own workflow issues (``app/representatives.py``); staff may act
for any community. Each change is added to the history in the consortium
comment's marker data, and the members table is recomputed from it.
"""

from __future__ import annotations

from ..plan.workflow_issue import membership_history
from ..workflows import membership
from . import representatives
from .grammar import Command, split_for
from .run import CommandError, CommandRun, community_slug


async def join(run: CommandRun, command: Command) -> None:
    """/join ROLE… [for COMMUNITY] → the community is a member with (also) these roles."""
    await _record(run, command, "join")


async def roles(run: CommandRun, command: Command) -> None:
    """/roles ROLE… [for COMMUNITY] → the community's roles are exactly these."""
    await _record(run, command, "roles")


async def leave(run: CommandRun, command: Command) -> None:
    """/leave [for COMMUNITY] → the community is no longer a member."""
    await _record(run, command, "leave")


async def _record(run: CommandRun, command: Command, op: str) -> None:
    """Check the roles, the community and who speaks for it; add the change to the history."""
    workflow = run.workflow
    if workflow is None or not workflow.roles:
        raise CommandError("not_here", "not_consortium")
    typed_roles, named = split_for(command.args)
    if op == "leave" and typed_roles:
        raise CommandError("usage", "", usage="/leave [for COMMUNITY]")
    if op != "leave" and not typed_roles:
        raise CommandError("usage", "", usage=f"/{op} ROLE… [for COMMUNITY]")
    wanted = [r.lower() for r in typed_roles]
    unknown = [r for r in wanted if r not in workflow.roles]
    if unknown:
        raise CommandError("invalid", "roles_unknown", values=unknown, allowed=list(workflow.roles))
    community = await _community(run, named)
    if run.settings.levels[op] == "representative" and not await representatives.represents(
        run.ctx, run.ref.repo, community, run.commenter.login
    ):
        await run.require("representative", community=community)
    if run.history is None:
        run.history = await membership_history(run.ctx, workflow, run.ref)
    comment_id = run.comment.get("id")
    entry = membership.Entry(
        op=op,
        community=community,
        roles=tuple(dict.fromkeys(wanted)),
        by=run.commenter.login,
        at=str(run.comment.get("created_at") or "")[:10],
        comment=comment_id if isinstance(comment_id, int) else 0,
    )
    run.history = membership.record(run.history, entry)
    run.done(command, community=community)


async def _community(run: CommandRun, named: str | None) -> str:
    if named is not None:
        return community_slug(named)
    mine = await representatives.communities_of(run.ctx, run.ref.repo, run.commenter.login)
    if len(mine) == 1:
        return mine[0]
    if not mine:
        raise CommandError("invalid", "no_community")
    raise CommandError("invalid", "several_communities", allowed=mine)
