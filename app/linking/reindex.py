"""Filling the request index from GitHub: a new installation, new repositories, a rebuild.

The index is a cache of what GitHub holds, so it can always be rebuilt:
every open issue of each repository, and the issues closed within the
window linking still offers them (``linking.closed_within_days``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ..config.model import Config
from ..github.app import installation_repository_objects
from ..github.client import GitHubClient
from .index import RequestIndex
from .requests import request_of
from .scoring import Request


async def fetch_requests(
    gh: GitHubClient,
    config: Config,
    installation: int,
    repositories: Sequence[Mapping[str, Any]],
    *,
    now: datetime | None = None,
) -> list[Request]:
    """Every community request in these repositories (``full_name`` and ``private`` each)."""
    days = config.settings.linking.closed_within_days
    since = ((now or datetime.now(UTC)) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    found: list[Request] = []
    for repository in repositories:
        name = repository["full_name"]
        for query in ("state=open", f"state=closed&since={since}"):
            async for issue in gh.getiter(f"/repos/{name}/issues?{query}&per_page=100"):
                request = request_of(config, installation, repository, issue)
                if request is not None:
                    found.append(request)
    return found


async def rebuild(
    gh: GitHubClient,
    index: RequestIndex,
    config: Config,
    installation: int,
    repositories: Sequence[Mapping[str, Any]] | None = None,
) -> int:
    """Replace the installation's requests (or those of ``repositories``) with GitHub's."""
    names = None if repositories is None else [repo["full_name"] for repo in repositories]
    if repositories is None:
        repositories = await installation_repository_objects(gh)
    requests = await fetch_requests(gh, config, installation, repositories)
    return index.replace_installation(installation, requests, repos=names)
