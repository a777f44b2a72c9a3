"""Installation events → a log line an operator can act on (later: index the new repositories)."""

from __future__ import annotations

import logging

from gidgethub import sansio
from gidgethub.routing import Router

from ..plan.context import HandlerContext

router = Router()
log = logging.getLogger("flywheel.installations")


@router.register("installation", action="created")
@router.register("installation", action="deleted")
@router.register("installation", action="suspend")
@router.register("installation", action="unsuspend")
@router.register("installation_repositories", action="added")
@router.register("installation_repositories", action="removed")
async def note_installation(event: sansio.Event, ctx: HandlerContext) -> None:
    """installation.* → note which account and repositories changed."""
    installation = event.data.get("installation") or {}
    account = (installation.get("account") or {}).get("login", "?")
    repos = event.data.get("repositories") or event.data.get("repositories_added") or []
    names = ", ".join(r.get("full_name", "?") for r in repos[:20])
    ctx.note(
        f"installation {installation.get('id')} on {account} {event.data.get('action')}: {names}"
    )
    log.info(
        "installation %s on %s %s (%d repositories)",
        installation.get("id"),
        account,
        event.data.get("action"),
        len(repos),
        extra={"delivery": ctx.delivery_id},
    )
