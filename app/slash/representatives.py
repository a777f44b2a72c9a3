"""Who speaks for a community: the people its own workflow issues name, and its team.

A community's onboarding issue lists its representatives ("people who may
authorise changes for the community"); its author speaks for it too. Those
issues are on GitHub already, so nothing is registered twice. Optionally the
organisation keeps a team per community (``representatives_team`` in config).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..plan.context import HandlerContext
from ..workflows import forms
from ..workflows import rules as workflows


def registry_repo(ctx: HandlerContext, repo: str) -> str:
    return ctx.config.settings.commands.registry_repo or repo


async def registry(ctx: HandlerContext, repo: str) -> Mapping[str, frozenset[str]]:
    """community → logins (lower case) that represent it, from the workflow issues in ``repo``."""
    if ctx.gh is None:
        return {}
    cache = ctx.caches.representatives if ctx.caches is not None else {}
    key = repo.lower()
    cached = cache.get(key)
    if cached is not None:
        return cached
    field_id = ctx.config.settings.commands.representatives_field
    found: dict[str, set[str]] = {}
    for workflow in ctx.config.enabled():
        if workflow.field(field_id) is None or not workflow.match.labels:
            continue
        url = f"/repos/{repo}/issues?state=all&per_page=100&labels={workflow.match.labels[0]}"
        async for issue in ctx.gh.getiter(url):
            values = forms.read(workflow, issue.get("body"))
            community = workflows.community_of(workflow, values, workflows.label_names(issue))
            if not community:
                continue
            people = found.setdefault(community, set())
            # A handles field reads "ada, grace" once forms has normalised it.
            people.update(h.lower() for h in values.get(field_id).split(", ") if h)
            author = (issue.get("user") or {}).get("login")
            if author and (issue.get("user") or {}).get("type") != "Bot":
                people.add(str(author).lower())
    result = {community: frozenset(people) for community, people in found.items()}
    cache[key] = result
    return result


async def communities_of(ctx: HandlerContext, repo: str, login: str) -> list[str]:
    """The communities this person speaks for, by the workflow issues in the registry."""
    people = await registry(ctx, registry_repo(ctx, repo))
    return sorted(c for c, logins in people.items() if login.lower() in logins)


async def represents(ctx: HandlerContext, repo: str, community: str, login: str) -> bool:
    people = await registry(ctx, registry_repo(ctx, repo))
    if login.lower() in people.get(community, frozenset()):
        return True
    team = ctx.config.settings.commands.representatives_team
    if team and ctx.gh is not None and ctx.permissions is not None:
        slug = team.replace("{community}", community)
        return await ctx.permissions.in_team(ctx.gh, repo.split("/")[0], slug, login)
    return False
