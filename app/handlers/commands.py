"""Slash commands in new comments → each checked for permission and run, one answer per comment."""

from __future__ import annotations

from gidgethub import sansio
from gidgethub.routing import Router

from ..plan.context import HandlerContext, ignored_sender
from ..slash import dispatch as slash

router = Router()


@router.register("issue_comment", action="created")
async def on_comment_created(event: sansio.Event, ctx: HandlerContext) -> None:
    """issue_comment.created by a person → its commands, in order (an edit never replays them)."""
    comment = event.data.get("comment") or {}
    author = comment.get("user") or {}
    own = ctx.app_login and str(author.get("login", "")).lower() == ctx.app_login.lower()
    if ignored_sender(ctx) or own or (author.get("type") == "Bot" and not ctx.app_login):
        return  # we never command ourselves; other bots only when ignore_bots is false
    if "/" not in str(comment.get("body") or ""):
        return
    await slash.run_comment(ctx, event.data)
