"""Who may run a command: permission levels, and how each is proven against GitHub.

Levels climb: ``anyone`` < ``author`` < ``member`` < ``triage`` < ``write`` <
``maintain`` < ``admin``; a level admits everyone above it, so staff may do
what an issue's author may. ``team:SLUG`` admits that team's members (and
admins); ``representative`` admits the people who speak for the issue's
community (checked by the caller, who knows the community) and members.

The payload's ``author_association`` may prove a level but never disprove
one: a private organisation member shows as CONTRIBUTOR or NONE. Then the
collaborator-permission, organisation-membership or team-membership endpoint
answers; answers are cached for a minute. A 403 from those endpoints means the
App lacks a permission: that is a setup problem to report, never a "no".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import cachetools

from .client import GitHubClient
from .errors import PermanentGitHubError, classify

LADDER = ("anyone", "author", "member", "triage", "write", "maintain", "admin")
REPO_ROLES = ("none", "read", "triage", "write", "maintain", "admin")  # in rank order
TEAM = re.compile(r"^team:[A-Za-z0-9][A-Za-z0-9_.-]*$")
SPECIAL = ("representative",)


def valid_level(level: str) -> bool:
    return level in LADDER or level in SPECIAL or TEAM.match(level) is not None


class SetupError(Exception):
    """GitHub refused to tell us (403): the App's installation lacks a permission."""


@dataclass(frozen=True)
class Commenter:
    login: str
    association: str  # author_association of the comment
    issue_author: str


class PermissionChecker:
    """Answers "may this person act at this level here?", caching GitHub's answers briefly."""

    def __init__(self, ttl: float = 60.0) -> None:
        self._roles: cachetools.TTLCache[tuple[str, str], str] = cachetools.TTLCache(4096, ttl)
        self._members: cachetools.TTLCache[tuple[str, str], bool] = cachetools.TTLCache(4096, ttl)
        self._teams: cachetools.TTLCache[tuple[str, str, str], bool] = cachetools.TTLCache(
            4096, ttl
        )

    async def allows(self, gh: GitHubClient | None, repo: str, who: Commenter, level: str) -> bool:
        association = who.association.upper()
        if level == "anyone" or association == "OWNER":
            return True
        if level == "author" and who.login.lower() == who.issue_author.lower():
            return True
        if level in ("author", "member", "representative"):
            # Below triage on the ladder: an organisation member passes, and so does every
            # higher repository role, an outside collaborator's included.
            if association == "MEMBER":
                return True
            if gh is None:
                return False
            if await self.is_member(gh, repo.split("/")[0], who.login):
                return True
            role = await self.repo_role(gh, repo, who.login)
            return REPO_ROLES.index(role) >= REPO_ROLES.index("triage")
        if gh is None:
            return False  # dry-run: nothing is changed anyway, and nothing can be proven
        if level.startswith("team:"):
            org = repo.split("/")[0]
            if await self.in_team(gh, org, level.split(":", 1)[1], who.login):
                return True
            return await self.repo_role(gh, repo, who.login) == "admin"
        if level in REPO_ROLES:
            role = await self.repo_role(gh, repo, who.login)
            return REPO_ROLES.index(role) >= REPO_ROLES.index(level)
        return False

    async def repo_role(self, gh: GitHubClient, repo: str, login: str) -> str:
        """none, read, triage, write, maintain or admin (custom roles count as their base)."""
        key = (repo.lower(), login.lower())
        if key not in self._roles:
            answer = await _lookup(gh, f"/repos/{repo}/collaborators/{login}/permission")
            self._roles[key] = _role_of(answer) if answer is not None else "none"
        return self._roles[key]

    async def is_member(self, gh: GitHubClient, org: str, login: str) -> bool:
        key = (org.lower(), login.lower())
        if key not in self._members:
            # 204 (gidgethub gives None) when a member, 404 when not.
            self._members[key] = await _exists(gh, f"/orgs/{org}/members/{login}")
        return self._members[key]

    async def in_team(self, gh: GitHubClient, org: str, team: str, login: str) -> bool:
        key = (org.lower(), team.lower(), login.lower())
        if key not in self._teams:
            answer = await _lookup(gh, f"/orgs/{org}/teams/{team}/memberships/{login}")
            self._teams[key] = bool(answer) and answer.get("state") == "active"
        return self._teams[key]


def _role_of(answer: dict[str, Any]) -> str:
    role = str(answer.get("role_name") or "")
    if role in REPO_ROLES:
        return role
    # A custom role: its base permission is what we can rely on.
    base = str(answer.get("permission") or "none")
    return base if base in REPO_ROLES else "read"


async def _lookup(gh: GitHubClient, url: str) -> dict[str, Any] | None:
    """The answer, None for a 404 (not a collaborator / member), SetupError for a 403."""
    try:
        answer = await gh.getitem(url)
    except Exception as exc:
        error = classify(exc)
        if isinstance(error, PermanentGitHubError) and error.status == 404:
            return None
        if isinstance(error, PermanentGitHubError) and error.status == 403:
            raise SetupError(url) from None
        raise error from exc
    return answer if isinstance(answer, dict) else {}


async def _exists(gh: GitHubClient, url: str) -> bool:
    return await _lookup(gh, url) is not None
