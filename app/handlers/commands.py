"""Slash commands in new comments → each checked for permission and run, one answer per comment."""

from __future__ import annotations

from gidgethub import sansio
from gidgethub.routing import Router

from app.plan.context import HandlerContext, is_from_bot
from app.slash import dispatch as slash

router = Router()


@router.register("issue_comment", action="created")
async def on_comment_created(event: sansio.Event, ctx: HandlerContext) -> None:
    """issue_comment.created by a person → its commands, in order (an edit never replays them)."""
    comment = event.data.get("comment") or {}
    author = comment.get("user") or {}
    if is_from_bot(event.data) or author.get("type") == "Bot":
        return  # bots, ourselves included, never command us
    if "/" not in str(comment.get("body") or ""):
        return
    await slash.run_comment(ctx, event.data)
