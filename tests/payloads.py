"""Webhook payloads in the shape GitHub sends them, built from the fake's state.

The shapes follow GitHub's documented examples (the `@octokit/webhooks-examples`
package): `test_payload_shapes.py` checks our builders carry every top-level,
issue, comment, repository and sender key those examples carry.
"""

from __future__ import annotations

from typing import Any

from tests.fakegithub import FakeGitHub, Issue


def user(login: str, *, bot: bool = False, uid: int = 21031067) -> dict[str, Any]:
    return {
        "login": login,
        "id": uid,
        "node_id": "MDQ6VXNlcjIxMDMxMDY3",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
        "gravatar_id": "",
        "url": f"https://api.github.com/users/{login}",
        "html_url": f"https://github.com/{login}",
        "followers_url": f"https://api.github.com/users/{login}/followers",
        "following_url": f"https://api.github.com/users/{login}/following{{/other_user}}",
        "gists_url": f"https://api.github.com/users/{login}/gists{{/gist_id}}",
        "starred_url": f"https://api.github.com/users/{login}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"https://api.github.com/users/{login}/subscriptions",
        "organizations_url": f"https://api.github.com/users/{login}/orgs",
        "repos_url": f"https://api.github.com/users/{login}/repos",
        "events_url": f"https://api.github.com/users/{login}/events{{/privacy}}",
        "received_events_url": f"https://api.github.com/users/{login}/received_events",
        "type": "Bot" if bot else "User",
        "site_admin": False,
    }


def repository(fake: FakeGitHub, full_name: str) -> dict[str, Any]:
    owner, name = full_name.split("/")
    api = f"https://api.github.com/repos/{full_name}"
    return {
        "id": fake.repos[full_name]["id"],
        "node_id": "MDEwOlJlcG9zaXRvcnkxODYxMDcwNzk=",
        "name": name,
        "full_name": full_name,
        "private": fake.repos[full_name]["private"],
        "owner": {**user(owner), "type": "Organization"},
        "html_url": f"https://github.com/{full_name}",
        "description": None,
        "fork": False,
        "url": api,
        "issues_url": api + "/issues{/number}",
        "labels_url": api + "/labels{/name}",
        "comments_url": api + "/comments{/number}",
        "created_at": "2026-01-15T15:20:17Z",
        "updated_at": "2026-11-01T10:00:00Z",
        "pushed_at": "2026-11-01T10:00:00Z",
        "default_branch": "main",
        "visibility": "private" if fake.repos[full_name]["private"] else "public",
        "has_issues": True,
        "archived": False,
        "open_issues_count": 1,
        **_repository_details(full_name),
    }


# The rest of a repository object as GitHub sends it: hypermedia URLs and counters
# Flywheel never reads, present so that handlers see the real shape.
_REPO_URLS = (
    "archive_url /{archive_format}{/ref}", "assignees_url /assignees{/user}",
    "blobs_url /git/blobs{/sha}", "branches_url /branches{/branch}",
    "collaborators_url /collaborators{/collaborator}", "commits_url /commits{/sha}",
    "compare_url /compare/{base}...{head}", "contents_url /contents/{+path}",
    "contributors_url /contributors", "deployments_url /deployments",
    "downloads_url /downloads", "events_url /events", "forks_url /forks",
    "git_commits_url /git/commits{/sha}", "git_refs_url /git/refs{/sha}",
    "git_tags_url /git/tags{/sha}", "hooks_url /hooks",
    "issue_comment_url /issues/comments{/number}", "issue_events_url /issues/events{/number}",
    "keys_url /keys{/key_id}", "languages_url /languages", "merges_url /merges",
    "milestones_url /milestones{/number}",
    "notifications_url /notifications{?since,all,participating}", "pulls_url /pulls{/number}",
    "releases_url /releases{/id}", "stargazers_url /stargazers", "statuses_url /statuses/{sha}",
    "subscribers_url /subscribers", "subscription_url /subscription", "tags_url /tags",
    "teams_url /teams", "trees_url /git/trees{/sha}",
)  # fmt: skip


def _repository_details(full_name: str) -> dict[str, Any]:
    api = f"https://api.github.com/repos/{full_name}"
    details: dict[str, Any] = {
        key: api + suffix for key, suffix in (entry.split(" ") for entry in _REPO_URLS)
    }
    details.update(
        git_url=f"git://github.com/{full_name}.git",
        ssh_url=f"git@github.com:{full_name}.git",
        clone_url=f"https://github.com/{full_name}.git",
        svn_url=f"https://github.com/{full_name}",
        mirror_url=None, homepage=None, language=None, license=None, topics=[],
        size=0, forks=0, forks_count=0, open_issues=1, watchers=0, watchers_count=0,
        stargazers_count=0, has_downloads=True, has_pages=False, has_projects=True,
        has_wiki=True, disabled=False, is_template=False, web_commit_signoff_required=False,
        custom_properties={},
    )  # fmt: skip
    return details


def organization(login: str) -> dict[str, Any]:
    api = f"https://api.github.com/orgs/{login}"
    return {
        "login": login,
        "id": 33435682,
        "node_id": "MDEyOk9yZ2FuaXphdGlvbjMzNDM1Njgy",
        "url": api,
        "repos_url": api + "/repos",
        "events_url": api + "/events",
        "hooks_url": api + "/hooks",
        "issues_url": api + "/issues",
        "members_url": api + "/members{/member}",
        "public_members_url": api + "/public_members{/member}",
        "avatar_url": "https://avatars.githubusercontent.com/u/33435682?v=4",
        "description": None,
    }


def issue_object(fake: FakeGitHub, issue: Issue) -> dict[str, Any]:
    base = fake.issue_json(issue)
    api = f"https://api.github.com/repos/{issue.repo}/issues/{issue.number}"
    return {
        "url": api,
        "repository_url": f"https://api.github.com/repos/{issue.repo}",
        "labels_url": api + "/labels{/name}",
        "comments_url": api + "/comments",
        "events_url": api + "/events",
        "html_url": base["html_url"],
        "id": base["id"],
        "node_id": issue.node_id,
        "number": issue.number,
        "title": issue.title,
        "user": user(issue.user, bot=issue.user.endswith("[bot]")),
        "labels": [
            {
                "id": label["id"],
                "node_id": "MDU6TGFiZWwxMzYyOTM0Mzg5",
                "url": f"https://api.github.com/repos/{issue.repo}/labels/{label['name']}",
                "name": label["name"],
                "color": label["color"],
                "default": False,
                "description": label["description"],
            }
            for label in base["labels"]
        ],
        "state": issue.state,
        "locked": False,
        "assignee": user(issue.assignees[0]) if issue.assignees else None,
        "assignees": [user(a) for a in issue.assignees],
        "milestone": None,
        "comments": base["comments"],
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "closed_at": None if issue.state == "open" else issue.updated_at,
        "author_association": issue.author_association,
        "active_lock_reason": None,
        "body": issue.body,
        "reactions": {
            "url": api + "/reactions",
            "total_count": 0,
            "+1": 0,
            "-1": 0,
            "laugh": 0,
            "hooray": 0,
            "confused": 0,
            "heart": 0,
            "rocket": 0,
            "eyes": 0,
        },
        "timeline_url": api + "/timeline",
        "performed_via_github_app": None,
        "state_reason": issue.state_reason,
        "draft": False,
    }


def installation(fake: FakeGitHub, installation_id: int = 1) -> dict[str, Any]:
    return {"id": installation_id, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}


def issues_event(
    fake: FakeGitHub,
    issue: Issue,
    action: str,
    *,
    sender: str | None = None,
    changes: dict[str, Any] | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "action": action,
        "issue": issue_object(fake, issue),
        "repository": repository(fake, issue.repo),
        "sender": user(sender or issue.user, bot=(sender or issue.user).endswith("[bot]")),
        "organization": organization(issue.repo.split("/")[0]),
        "installation": installation(fake, fake.repos[issue.repo]["installation"]),
    }
    if changes is not None:
        payload["changes"] = changes
    if label is not None:
        lab = fake.repos[issue.repo]["labels"].get(label.lower()) or {
            "id": 1,
            "name": label,
            "color": "ededed",
            "description": "",
        }
        payload["label"] = {**lab, "node_id": "LA_x", "url": "", "default": False}
    return payload


def comment_event(
    fake: FakeGitHub,
    issue: Issue,
    body: str,
    *,
    author: str = "maria",
    association: str = "MEMBER",
    bot: bool = False,
    comment_id: int | None = None,
    action: str = "created",
    previous: str = "",
) -> dict[str, Any]:
    """``previous``: for ``edited``, the body before (GitHub sends it under ``changes``)."""
    cid = comment_id or 5_000_000 + len(fake.calls) + len(fake.comments)
    api = f"https://api.github.com/repos/{issue.repo}/issues/comments/{cid}"
    return {
        "action": action,
        "issue": issue_object(fake, issue),
        "comment": {
            "url": api,
            "html_url": f"https://github.com/{issue.repo}/issues/{issue.number}#issuecomment-{cid}",
            "issue_url": f"https://api.github.com/repos/{issue.repo}/issues/{issue.number}",
            "id": cid,
            "node_id": "MDEyOklzc3VlQ29tbWVudDQ5MjcwMDQwMA==",
            "user": user(author, bot=bot),
            "created_at": "2026-11-02T10:00:00Z",
            "updated_at": "2026-11-02T10:00:00Z",
            "author_association": association,
            "body": body,
            "reactions": {"url": api + "/reactions", "total_count": 0},
            "performed_via_github_app": None,
        },
        "repository": repository(fake, issue.repo),
        "sender": user(author, bot=bot),
        "organization": organization(issue.repo.split("/")[0]),
        "installation": installation(fake, fake.repos[issue.repo]["installation"]),
        **({"changes": {"body": {"from": previous}}} if action == "edited" else {}),
    }


def installation_event(
    fake: FakeGitHub, action: str, account: str, repos: list[str]
) -> dict[str, Any]:
    return {
        "action": action,
        "installation": {
            "id": 1,
            "account": {**user(account), "type": "Organization"},
            "repository_selection": "selected",
            "app_id": 12345,
            "target_type": "Organization",
            "permissions": {
                "issues": "write",
                "metadata": "read",
                "organization_projects": "write",
                "members": "read",
            },
            "events": ["issues", "issue_comment", "projects_v2_item", "label"],
        },
        "repositories": [
            {
                "id": fake.repos[r]["id"],
                "node_id": "R_x",
                "name": r.split("/")[1],
                "full_name": r,
                "private": fake.repos[r]["private"],
            }
            for r in repos
        ],
        "requester": None,
        "sender": user("maria"),
    }


def pull_request_event(
    fake: FakeGitHub, repo: str, number: int, action: str = "opened", author: str = "ada"
) -> dict[str, Any]:
    """A pull_request delivery: the keys the config check reads, in GitHub's shape."""
    head = fake.pulls[(repo, number)]["head"]
    api = f"https://api.github.com/repos/{repo}/pulls/{number}"
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "url": api,
            "id": 70000 + number,
            "number": number,
            "state": "open",
            "title": "Change the workflows",
            "user": user(author),
            "head": {"sha": head, "ref": "config-change", "repo": repository(fake, repo)},
            "base": {"sha": "0" * 40, "ref": "main", "repo": repository(fake, repo)},
            "html_url": f"https://github.com/{repo}/pull/{number}",
        },
        "repository": repository(fake, repo),
        "sender": user(author),
        "organization": organization(repo.split("/")[0]),
        "installation": installation(fake, fake.repos[repo]["installation"]),
    }
