"""Issues and installations → the request index kept current, and related requests linked.

Every ``issues`` event updates the index (our own label changes too, so it
matches GitHub), but only a person's action makes Flywheel write: the issue's
"Related requests" comment, and the comments of the requests it is (or was)
related to, so each side shows the other. A need that enough communities
share is labelled and put on the roadmap board.
"""

from __future__ import annotations

from gidgethub import sansio
from gidgethub.routing import Router

from ..linking import reindex
from ..linking.linker import Linker
from ..linking.requests import request_of
from ..linking.scoring import Request, same_for_linking
from ..plan.actions import IssueRef
from ..plan.context import HandlerContext, ignored_sender

router = Router()

# Actions after which the issue's own comment may be written for the first time.
_CREATES = frozenset({"opened", "reopened", "edited", "labeled", "unlabeled"})
# Actions that change what other issues show of this one (its title, state, existence).
_SEEN_ELSEWHERE = frozenset({"opened", "reopened", "closed", "deleted", "transferred"})


def _installation(ctx: HandlerContext) -> int:
    return int((ctx.data.get("installation") or {}).get("id") or 0)


@router.register("issues", action="opened")
@router.register("issues", action="edited")
@router.register("issues", action="closed")
@router.register("issues", action="reopened")
@router.register("issues", action="labeled")
@router.register("issues", action="unlabeled")
@router.register("issues", action="transferred")
@router.register("issues", action="deleted")
async def on_issue(event: sansio.Event, ctx: HandlerContext) -> None:
    """Any issues event → the index; a person's → the related requests on both sides."""
    index = ctx.index
    if index is None or not ctx.config.settings.linking.enabled:
        return
    action = str(event.data.get("action"))
    changes = event.data.get("changes") or {}
    if action == "edited" and not ({"title", "body"} & set(changes)):
        return
    installation = _installation(ctx)
    repository, issue = event.data["repository"], event.data["issue"]
    ref = IssueRef(repository["full_name"], issue["number"])
    before = index.get(installation, ref.repo, ref.number)
    after = None
    if action not in ("deleted", "transferred"):
        after = request_of(ctx.config, installation, repository, issue)
    if after is None:
        index.delete(installation, ref.repo, ref.number)
    else:
        index.upsert_many([after])
        if index.meaning is not None:  # its vector, in a thread (~40 ms): off the event loop
            await index.meaning.ensure([after])
    if ignored_sender(ctx) or (before is None and after is None):
        return
    unchanged = before is not None and after is not None and same_for_linking(before, after)
    # A retry finds the index already updated by the attempt that failed: not "unchanged".
    if unchanged and action not in _SEEN_ELSEWHERE and not ctx.retry:
        return  # e.g. an edit of words linking ignores: nothing to say, nothing to read
    linker = Linker(ctx)
    linker.remember_issue(ref, issue, bool(repository.get("private", True)))
    # An issue transferred here is "opened" with our comment carried along: not fresh.
    fresh = action == "opened" and "old_issue" not in changes
    await relink(linker, ref, before, after, action, fresh=fresh)


async def relink(
    linker: Linker,
    ref: IssueRef,
    before: Request | None,
    after: Request | None,
    action: str,
    *,
    fresh: bool = False,
) -> None:
    """Plan this issue's comment and those of the requests it joins, leaves or shows anew.

    ``fresh``: just opened, so nothing was shown yet and nothing needs reading.
    """
    # Other sides show this issue's title, state, labels and the words both share, so any
    # change linking sees is shown there too. Every side before and after is refreshed, not
    # only the ones this comment shows: an issue may show this one among its best links
    # while this one's comment has better ones for itself.
    earlier = {r.ref for r in linker.neighbours(before)} if before is not None else set()
    if after is not None:
        if not fresh:
            earlier |= {r.ref for r in await linker.shown_before(ref)}
        wide = linker.neighbours(after)
        shown = await linker.plan_comment(
            ref, after, include=wide, create=action in _CREATES, fresh=fresh
        )
        now = {r.request.ref for r in shown.links} | {r.ref for r in wide}
        linker.plan_shared_need(after, shown.links)
    else:
        # Gone (deleted, transferred) or no longer a community's request: the index said
        # whom it was related to (``earlier``); a comment left behind is read too.
        if action not in ("deleted", "transferred"):
            earlier |= {r.ref for r in await linker.shown_before(ref)}
        now = set()
    others = earlier | now
    await linker.refresh(others, include=[after] if after is not None else [])
    if others:
        linker.ctx.note(f"related requests refreshed on {len(others)} other issue(s)")


@router.register("installation", action="created")
@router.register("installation_repositories", action="added")
async def on_repositories_added(event: sansio.Event, ctx: HandlerContext) -> None:
    """New repositories → their requests indexed (no comments: old issues stay quiet)."""
    if ctx.index is None or ctx.gh is None or not ctx.config.settings.linking.enabled:
        return
    repositories = event.data.get("repositories") or event.data.get("repositories_added") or []
    described = [
        {"full_name": r["full_name"], "private": bool(r.get("private", True))}
        for r in repositories
        if isinstance(r, dict) and r.get("full_name")
    ]
    count = await reindex.rebuild(ctx.gh, ctx.index, ctx.config, _installation(ctx), described)
    if ctx.index.meaning is not None:
        added = {repo["full_name"] for repo in described}
        mine = ctx.index.all(_installation(ctx))
        await ctx.index.meaning.ensure([r for r in mine if r.repo in added])
    ctx.note(f"indexed {count} request(s) from {len(described)} repositories")


@router.register("installation", action="deleted")
@router.register("installation_repositories", action="removed")
async def on_repositories_removed(event: sansio.Event, ctx: HandlerContext) -> None:
    """Repositories Flywheel can no longer see → their requests leave the index."""
    if ctx.index is None:
        return
    if event.data.get("action") == "deleted":
        ctx.index.delete_repos(_installation(ctx))
        ctx.note("installation removed: its requests left the index")
        return
    names = [r.get("full_name", "") for r in event.data.get("repositories_removed") or []]
    ctx.index.delete_repos(_installation(ctx), names)
    ctx.note(f"{len(names)} repositories removed: their requests left the index")


@router.register("repository", action="privatized")
@router.register("repository", action="publicized")
async def on_visibility(event: sansio.Event, ctx: HandlerContext) -> None:
    """A repository turned private (or public) → what other repositories may show of it."""
    if ctx.index is None:
        return
    repo = event.data.get("repository") or {}
    name, private = str(repo.get("full_name", "")), event.data.get("action") == "privatized"
    ctx.index.set_private(_installation(ctx), name, private)
    ctx.note(f"{name} is now {'private' if private else 'public'}")
    if not private:
        return
    # Comments elsewhere may show its titles: each public one is rewritten to hide them.
    linker = Linker(ctx)
    neighbours = {
        r.request.ref
        for request in ctx.index.all(_installation(ctx), private_only=True)
        if request.repo == name
        for r in ctx.index.related(request, linker.scoring)
        if not r.request.private
    }
    await linker.refresh(neighbours, create=False)
