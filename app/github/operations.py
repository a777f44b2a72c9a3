"""A GitHub call's route without its names and numbers: the label of its latency histogram.

``GET /repos/acme/hub/issues/12/comments`` and ``GET /repos/lab/x/issues/7/comments`` are
the same operation; keeping owners, repositories, numbers and label names out of the label
keeps the metric's series few, and keeps private repositories' names off ``/metrics``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

# The words of GitHub's routes that Flywheel calls; any other segment is a name or a number.
ROUTE_WORDS = frozenset(
    [
        "app",
        "installation",
        "installations",
        "access_tokens",
        "hook",
        "deliveries",
        "attempts",
        "repositories",
        "repos",
        "issues",
        "comments",
        "labels",
        "assignees",
        "reactions",
        "contents",
        "collaborators",
        "permission",
        "orgs",
        "members",
        "teams",
        "memberships",
        "users",
        "app-manifests",
        "conversions",
        "check-runs",
        "pulls",
        "commits",
        "files",
        "events",
        "timeline",
    ]
)


def operation_of(method: str, url: str) -> str:
    """``GET /repos/{}/{}/issues/{}/comments``; GraphQL is one operation, ``graphql``.

    >>> operation_of("GET", "https://api.github.com/repos/acme/hub/issues/12/comments?per_page=100")
    'GET /repos/{}/{}/issues/{}/comments'
    >>> operation_of("POST", "https://ghe.example/api/graphql")
    'graphql'
    """
    path = urlsplit(url).path
    if path.endswith("/graphql"):
        return "graphql"
    if path.startswith("/api/v3/"):
        path = path[len("/api/v3") :]
    parts = [p for p in path.split("/") if p]
    out: list[str] = []
    for part in parts:
        if part == "contents":  # the rest is a file's path
            out += [part, "{}"]
            break
        out.append(part if part in ROUTE_WORDS else "{}")
    return f"{method.upper()} /{'/'.join(out)}"
