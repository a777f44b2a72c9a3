"""Late commands: an older comment's command must not undo what a newer one decided.

Deliveries about one issue run in the order they arrive, but one GitHub could
not hand over (Flywheel was down) comes back through redelivery after the
comments written after it. Running its ``/assign @maria`` then would undo the
``/unassign`` written later. Each comment's commands therefore record what
they *decided* (the issue's state, an assignee, a label, the board status…)
in the journal, and a command is *overtaken* when a later comment on the same
issue (GitHub's comment ids grow with time) already decided the same thing:
it is acknowledged and not run, which is where running it in order would have
left the issue.
"""

from __future__ import annotations

from ..plan.context import HandlerContext
from .basic import joined_labels
from .grammar import Command

# Commands whose effect a later command can undo, and what they decide.
_WHOLE = {"close": "state", "reopen": "state", "status": "status", "community": "community"}


def decides(command: Command, commenter: str) -> set[str]:
    """What running ``command`` settles on its issue (empty: nothing a later one can undo)."""
    name = command.name
    if name in _WHOLE:
        return {_WHOLE[name]}
    if name in ("assign", "unassign"):
        logins = [a.lstrip("@") for a in command.args] or [commenter]
        return {f"assignee:{login.lower()}" for login in logins}
    if name in ("label", "remove-label"):
        return {f"label:{label.lower()}" for label in joined_labels(command.args)}
    if name in ("link", "unlink"):
        return {f"link:{ref.lower()}" for ref in command.args}
    return set()


async def decided_later(ctx: HandlerContext, comment_id: object) -> set[str]:
    """What comments written after this one, already applied, decided on the issue."""
    ref = ctx.issue_ref()
    if ref is None or not isinstance(comment_id, int) or comment_id <= 0:
        return set()
    return await ctx.journal.decided_after(ref.repo, ref.number, comment_id)
