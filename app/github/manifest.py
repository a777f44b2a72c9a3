"""What the GitHub App must be allowed and subscribed to: one table, read by README's check,
``flywheel setup`` and (later) the App-manifest flow, so they cannot drift from the code.

Each entry says why: which code calls need the permission, which handler takes the event.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Permission:
    name: str  # GitHub's key in an App manifest's default_permissions
    access: str  # read | write
    title: str  # as GitHub's App settings page names it
    scope: str  # Repository | Organization
    why: str


PERMISSIONS: tuple[Permission, ...] = (
    Permission("issues", "write", "Issues", "Repository",
               "labels, comments, assignees, opening and closing issues"),
    Permission("metadata", "read", "Metadata", "Repository",
               "every App has it; listing the installation's repositories"),
    Permission("contents", "read", "Contents", "Repository",
               "reading a repository's .github/flywheel.yml override"),
    Permission("organization_projects", "write", "Projects", "Organization",
               "placing issues on Projects boards and setting their fields"),
    Permission("members", "read", "Members", "Organization",
               "checking organisation and team membership for command permissions"),
    Permission("checks", "write", "Checks", "Repository",
               "the 'Flywheel config' check run on pull requests that change its config"),
    Permission("pull_requests", "read", "Pull requests", "Repository",
               "listing the files a pull request changes"),
)  # fmt: skip

# Events (as a manifest's default_events names them) and the handler modules that take them.
EVENTS: dict[str, str] = {
    "issues": "handlers/workflows.py, handlers/linking.py",
    "issue_comment": "handlers/commands.py, handlers/workflows.py (checklist ticks)",
    "installation_repositories": "handlers/linking.py (the request index)",
    "repository": "handlers/linking.py (a repository turned private or public)",
    "pull_request": "handlers/config_check.py (config changes get a check run)",
}
# Delivered to every App without subscribing (GitHub's App settings offer no box for it).
ALWAYS_DELIVERED = ("installation",)


def app_manifest(
    public_url: str, *, name: str = "Flywheel", public: bool = False
) -> dict[str, object]:
    """The App as GitHub's manifest flow creates it: GitHub's documented fields, filled from the
    tables above (and the same dict ``app.yml`` holds)."""
    base = public_url.rstrip("/")
    return {
        "name": name,
        "url": base,
        "hook_attributes": {"url": f"{base}/webhook", "active": True},
        "redirect_url": f"{base}/setup/callback",
        "description": "Runs a community-relations team's workflows on GitHub issues and boards.",
        "public": public,
        "default_permissions": {p.name: p.access for p in PERMISSIONS},
        "default_events": sorted(EVENTS),
    }
