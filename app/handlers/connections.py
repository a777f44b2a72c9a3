"""A possible connection the team confirmed on the dashboard → linked on both issues, as
``/link`` would, and kept as a confirmed pair."""

from __future__ import annotations

from gidgethub import sansio
from gidgethub.routing import Router

from ..linking.linker import Linker
from ..linking.refs import parse_ref
from ..plan.context import HandlerContext

router = Router()


@router.register("flywheel_connection", action="confirm")
async def on_confirmed(event: sansio.Event, ctx: HandlerContext) -> None:
    """flywheel_connection.confirm (from the dashboard) → the link on both issues."""
    a, b = parse_ref(str(event.data.get("a", ""))), parse_ref(str(event.data.get("b", "")))
    if a is None or b is None or ctx.index is None:
        ctx.note("a confirmed connection without two issues to link: nothing done")
        return
    linker = Linker(ctx)
    await linker.set_link(a, b, pin=True)
    for ref in (a, b):
        await linker.plan_comment(ref, linker.known(ref))
    score = event.data.get("score")
    ctx.index.decisions.record(
        linker.installation,
        str(a),
        str(b),
        "confirm",
        score=float(score) if isinstance(score, int | float) else None,
        by="dashboard",
    )
    ctx.note(f"linked {a} and {b}, confirmed on the dashboard")
