"""A stateful fake of the GitHub REST and GraphQL endpoints Flywheel uses, served over real HTTP.

It holds installations, repositories, issues (with node ids), labels,
comments, reactions, collaborator permissions, files and org Projects (v2)
boards with fields and items; it records every request and can inject faults
(5xx, secondary rate limits with Retry-After, slow answers). A route it does
not know answers 404 and is recorded in ``unhandled``, which the test
fixtures assert is empty, so a new call can never pass unnoticed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web

BODY = web.RequestKey("body", bytes)


@dataclass
class Call:
    method: str
    path: str
    status: int
    kind: str  # rest | graphql
    operation: str = ""
    rate_limited: bool = True  # 304s do not count against the primary limit

    def __repr__(self) -> str:
        op = f" {self.operation}" if self.operation else ""
        return f"{self.method} {self.path}{op} -> {self.status}"


@dataclass
class Fault:
    kind: str  # status | secondary | slow
    status: int = 502
    retry_after: int = 1
    delay: float = 0.0
    match: str = ""
    remaining: int = 1


@dataclass
class Issue:
    repo: str
    number: int
    title: str
    body: str
    user: str
    node_id: str
    state: str = "open"
    state_reason: str | None = None
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    created_at: str = "2026-11-01T10:00:00Z"
    updated_at: str = "2026-11-01T10:00:00Z"
    author_association: str = "MEMBER"


@dataclass
class Board:
    id: str
    owner: str
    number: int
    title: str
    fields: list[dict[str, Any]]
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # item id → {content, values}


class FakeGitHub:
    def __init__(self) -> None:
        self.calls: list[Call] = []  # recorded when answered
        self.arrived: list[str] = []  # "METHOD path", recorded when a request comes in
        self.unhandled: list[str] = []
        self.faults: list[Fault] = []
        self.random_fault_rate = 0.0
        self.random_faults: random.Random = random.Random(0)
        self.latency = 0.0
        self.tokens: dict[str, int] = {}
        self.tokens_issued = 0
        self.credentials_seen: set[str] = set()
        self.installations: dict[int, str] = {}
        self.repos: dict[str, dict[str, Any]] = {}
        self.issues: dict[tuple[str, int], Issue] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.reactions: list[dict[str, Any]] = []
        self.boards: dict[tuple[str, int], Board] = {}
        self.permissions: dict[tuple[str, str], str] = {}  # (repo, login) → role name
        self.org_members: set[tuple[str, str]] = set()
        self.manifest_codes: set[str] = set()  # codes GitHub would hand to /setup/callback
        self.pulls: dict[tuple[str, int], dict[str, Any]] = {}  # head sha, changed files
        self.trees: dict[tuple[str, str], dict[str, str]] = {}  # (repo, sha) → path → text
        self.check_runs: list[dict[str, Any]] = []
        self.spent_after: int | None = None  # from this many calls on, remaining reads 0
        self.rate_limit = 5000  # an installation's hourly allowance (the soak packs hours in)
        self.manifest_pem = ""  # (org, login), lower case
        self.teams: dict[tuple[str, str], set[str]] = {}  # (org, slug) → logins, lower case
        self.forbid_people_lookups = False  # the App lacks Members: read → 403
        self.hook_deliveries: list[dict[str, Any]] = []
        # Told of every change a request made, as GitHub turns each into a webhook delivery
        # (tests/echoes.py sends those to the App): what happened, and to what.
        self.write_listeners: list[Callable[[str, dict[str, Any]], None]] = []
        # Every change to an issue, by REST or GraphQL: ("labeled", "owner/repo#1"), …
        self.changes: list[tuple[str, str]] = []
        self.mutation_faults: list[Fault] = []
        self.mutations: Counter[str] = Counter()  # GraphQL writes run, batched or alone
        # Run after an answer is made and before it is sent: what happens on GitHub meanwhile.
        self.before_reply: Callable[[web.Request], Awaitable[None]] | None = None
        self.redelivered: list[int] = []
        # Set by a test to the way GitHub would send a delivery again: guid → answer's status.
        self.resend: Callable[[str], Awaitable[int]] | None = None
        self._resending: set[asyncio.Future[None]] = set()
        self.faults_injected: Counter[str] = Counter()
        self.random_fault_mix = {"status": 0.6, "secondary": 0.25, "slow": 0.15}
        self.slow_delay = 12.0
        self._ids = itertools.count(1000)
        self.app = web.Application(middlewares=[self._middleware])
        self.app.router.add_route("*", "/{tail:.*}", self._route)

    # -- state setup -------------------------------------------------------------------

    def add_installation(self, installation_id: int, account: str) -> None:
        self.installations[installation_id] = account

    def add_repo(self, full_name: str, *, private: bool = False, installation: int = 1) -> None:
        self.repos[full_name] = {
            "labels": {},
            "private": private,
            "installation": installation,
            "files": {},
            "next_number": 1,
            "id": next(self._ids),
        }

    def add_pull(
        self, repo: str, number: int, head_sha: str, changes: dict[str, str | None]
    ) -> None:
        """A pull request whose head is the repository's files with these changes (None:
        the file is deleted)."""
        tree = dict(self.repos[repo]["files"])
        for path, text in changes.items():
            if text is None:
                tree.pop(path, None)
            else:
                tree[path] = text
        self.trees[(repo, head_sha)] = tree
        self.pulls[(repo, number)] = {"head": head_sha, "files": sorted(changes)}

    def add_label(self, repo: str, name: str, color: str = "ededed", description: str = "") -> None:
        self.repos[repo]["labels"][name.lower()] = self._label(name, color, description)

    def add_issue(
        self, repo: str, title: str, body: str, *, user: str = "maria", labels: tuple[str, ...] = ()
    ) -> Issue:
        number = self.repos[repo]["next_number"]
        self.repos[repo]["next_number"] += 1
        # Node ids follow from repository and number, so two runs of one stream agree on them.
        node_id = f"I_kw{self.repos[repo]['id'] * 100_000 + number}"
        issue = Issue(repo, number, title, body, user, node_id)
        for name in labels:
            if name.lower() not in self.repos[repo]["labels"]:
                self.add_label(repo, name)
            issue.labels.append(self.repos[repo]["labels"][name.lower()]["name"])
        self.issues[(repo, number)] = issue
        return issue

    def add_board(self, owner: str, number: int, title: str, fields: dict[str, Any]) -> Board:
        """fields: name → "TEXT" | "NUMBER" | "DATE" | [options] | {"iterations": [...]}."""
        nodes = [{"id": f"PVTF_title{number}", "name": "Title", "dataType": "TITLE"}]
        for name, kind in fields.items():
            fid = f"PVTF_{next(self._ids)}"
            if isinstance(kind, list):
                nodes.append(
                    {
                        "id": fid,
                        "name": name,
                        "dataType": "SINGLE_SELECT",
                        "options": [{"id": f"opt_{next(self._ids)}", "name": o} for o in kind],
                    }
                )
            elif isinstance(kind, dict):
                nodes.append(
                    {
                        "id": fid,
                        "name": name,
                        "dataType": "ITERATION",
                        "configuration": {"iterations": kind["iterations"]},
                    }
                )
            else:
                nodes.append({"id": fid, "name": name, "dataType": kind})
        board = Board(f"PVT_{next(self._ids)}", owner, number, title, nodes)
        self.boards[(owner.lower(), number)] = board
        return board

    # -- inspection helpers for tests ---------------------------------------------------

    def delete_issue(self, repo: str, number: int) -> None:
        """An admin deleted it: gone from every listing, its comments too."""
        del self.issues[(repo, number)]
        self.comments = {
            cid: c for cid, c in self.comments.items() if c["_issue"] != (repo, number)
        }

    @property
    def resending(self) -> bool:
        """Whether a redelivery asked for is still on its way to the app."""
        return bool(self._resending)

    def issue(self, repo: str, number: int) -> Issue:
        return self.issues[(repo, number)]

    def add_comment(self, repo: str, number: int, body: str, *, user: str = "maria") -> int:
        """A person's comment, as it exists on GitHub before the webhook about it arrives."""
        return int(self._new_comment(repo, number, body, user)["id"])

    def _new_comment(self, repo: str, number: int, body: str, user: str) -> dict[str, Any]:
        cid = next(self._ids)
        self.comments[cid] = {
            "id": cid,
            "node_id": f"IC_kw{cid}",
            "body": body,
            "user": {"login": user, "type": "Bot" if user.endswith("[bot]") else "User"},
            "html_url": f"https://github.com/{repo}/issues/{number}#issuecomment-{cid}",
            "_issue": (repo, number),
        }
        return self.comments[cid]

    def _set_comment_body(self, comment: dict[str, Any], body: str) -> None:
        previous, comment["body"] = comment["body"], body
        if previous != body:
            issue = self._issue(*comment["_issue"])
            self._wrote("comment edited", issue=issue, comment=comment, previous=previous)

    def _wrote(self, what: str, **details: Any) -> None:
        issue = details["issue"]
        self.changes.append((what, f"{issue.repo}#{issue.number}"))
        for listener in self.write_listeners:
            listener(what, details)

    def reactions_on(self, comment_id: int) -> list[str]:
        return [r["content"] for r in self.reactions if r["target"] == f"comment:{comment_id}"]

    def bot_comments_on(self, repo: str, number: int) -> list[dict[str, Any]]:
        return [c for c in self.comments_on(repo, number) if c["user"]["type"] == "Bot"]

    def comments_on(self, repo: str, number: int) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["_issue"] == (repo, number)]

    def board_values(self, owner: str, number: int, content_id: str) -> dict[str, Any] | None:
        """Field name → plain value for the item holding this content, or None if absent."""
        board = self.boards[(owner.lower(), number)]
        for item in board.items.values():
            if item["content"] == content_id:
                out = {}
                for f in board.fields:
                    if f["id"] in item["values"]:
                        value = item["values"][f["id"]]
                        if "singleSelectOptionId" in value:
                            value = next(
                                o["name"]
                                for o in f["options"]
                                if o["id"] == value["singleSelectOptionId"]
                            )
                        else:
                            value = next(iter(value.values()))
                        out[f["name"]] = value
                return out
        return None

    def comments_created(self) -> int:
        return sum(1 for what, _ in self.changes if what == "comment created")

    def reset_calls(self) -> None:
        self.calls.clear()
        self.changes.clear()
        self.mutations.clear()

    def fail_next(self, count: int = 1, *, status: int = 502, match: str = "") -> None:
        self.faults.append(Fault("status", status=status, match=match, remaining=count))

    def fail_mutation(self, count: int = 1, *, kind: str = "NOT_FOUND", match: str = "") -> None:
        """The next writes in a batched mutation whose "mutation node-id" contains ``match``
        fail on their own, as GitHub reports one alias's failure beside the others' data."""
        self.mutation_faults.append(Fault(kind, match=match, remaining=count))

    def rate_limit_next(
        self, count: int = 1, *, retry_after: int = 1, status: int = 403, match: str = ""
    ) -> None:
        self.faults.append(
            Fault("secondary", status=status, retry_after=retry_after, match=match, remaining=count)
        )

    def slow_next(self, count: int = 1, *, delay: float = 2.0, match: str = "") -> None:
        self.faults.append(Fault("slow", delay=delay, match=match, remaining=count))

    def snapshot(self) -> dict[str, Any]:
        """Everything a person could see, for comparing two runs (ids and times left out)."""

        def comment_view(c: dict[str, Any]) -> tuple[str, int, str]:
            return (c["_issue"][0], c["_issue"][1], c["body"])

        issue_of_node = {i.node_id: f"{i.repo}#{i.number}" for i in self.issues.values()}

        def reaction_target(target: str) -> str:
            # Comment ids differ between runs: name the comment by its issue and text instead.
            if target.startswith("comment:"):
                comment = self.comments.get(int(target.split(":")[1]))
                if comment is not None:
                    repo, number = comment["_issue"]
                    return f"comment on {repo}#{number}: {comment['body']}"
            return target

        boards = {}
        for key, board in self.boards.items():
            names = {f["id"]: f["name"] for f in board.fields}
            boards[f"{key[0]}/{key[1]}"] = sorted(
                (
                    issue_of_node.get(item["content"], item["content"]),
                    json.dumps({names[k]: v for k, v in item["values"].items()}, sort_keys=True),
                )
                for item in board.items.values()
            )
        return {
            "issues": {
                f"{i.repo}#{i.number}": (
                    i.state,
                    sorted(i.labels),
                    sorted(i.assignees),
                    i.title,
                    i.body,
                )
                for i in self.issues.values()
            },
            "comments": sorted(comment_view(c) for c in self.comments.values()),
            "labels": {r: sorted(v["labels"]) for r, v in self.repos.items()},
            "boards": boards,
            "reactions": sorted(
                (reaction_target(r["target"]), r["content"]) for r in self.reactions
            ),
        }

    # -- plumbing ------------------------------------------------------------------------

    @staticmethod
    def _label(name: str, color: str, description: str) -> dict[str, Any]:
        label_id = int(hashlib.sha1(name.lower().encode()).hexdigest()[:8], 16)
        return {
            "id": label_id,
            "node_id": f"LA_kw{label_id}",
            "name": name,
            "color": color,
            "description": description,
            "default": False,
        }

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        kind = "graphql" if request.path.endswith("/graphql") else "rest"
        operation = ""
        if kind == "graphql":
            try:
                match = re.search(r"(query|mutation)\s+(\w+)", json.loads(body).get("query", ""))
                operation = match.group(2) if match else "anonymous"
            except (ValueError, AttributeError):
                operation = "invalid"
        self.arrived.append(f"{request.method} {request.path}")
        fault = self._take_fault(f"{request.method} {request.path} {operation}")
        if fault is not None:
            self.faults_injected[fault.kind] += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault is not None and fault.kind == "status":
            response: web.StreamResponse = web.json_response(
                {"message": "Server Error (injected)"}, status=fault.status
            )
        elif fault is not None and fault.kind == "secondary":
            response = web.json_response(
                {
                    "message": "You have exceeded a secondary rate limit. "
                    "Please wait a few minutes before you try again."
                },
                status=fault.status,
                headers={"retry-after": str(fault.retry_after), "x-ratelimit-remaining": "4000"},
            )
        else:
            auth = request.headers.get("Authorization", "")
            if not self._authorised(request.path, auth):
                response = web.json_response({"message": "Bad credentials"}, status=401)
            else:
                request[BODY] = body
                try:
                    response = await handler(request)
                except web.HTTPException as exc:
                    response = web.json_response(
                        {"message": exc.text or exc.reason}, status=exc.status
                    )
                if self.before_reply is not None:
                    await self.before_reply(request)
        if fault is not None and fault.kind == "slow":
            # The write is done; only the answer is late (the client may have given up on it).
            await asyncio.sleep(fault.delay)
        etag = None
        if (
            request.method == "GET"
            and response.status == 200
            and isinstance(response, web.Response)
        ):
            etag = '"' + hashlib.sha1(response.body or b"").hexdigest() + '"'  # type: ignore[arg-type]
            if request.headers.get("If-None-Match") == etag:
                response = web.Response(status=304)
            response.headers["ETag"] = etag
        response.headers.setdefault("x-ratelimit-limit", str(self.rate_limit))
        if self.spent_after is not None and len(self.calls) >= self.spent_after:
            response.headers["x-ratelimit-remaining"] = "0"  # the allowance is spent
        remaining = max(0, self.rate_limit - len(self.calls))
        response.headers.setdefault("x-ratelimit-remaining", str(remaining))
        response.headers.setdefault("x-ratelimit-reset", str(int(time.time()) + 3600))
        self.calls.append(
            Call(
                request.method,
                request.path_qs,
                response.status,
                kind,
                operation,
                rate_limited=response.status != 304,
            )
        )
        return response

    def _take_fault(self, target: str) -> Fault | None:
        for fault in self.faults:
            if fault.remaining > 0 and fault.match in target:
                fault.remaining -= 1
                return fault
        self.faults = [f for f in self.faults if f.remaining > 0]
        if self.random_fault_rate and self.random_faults.random() < self.random_fault_rate:
            roll = self.random_faults.random()
            status_share = self.random_fault_mix["status"]
            if roll < status_share:
                return Fault("status", status=self.random_faults.choice((500, 502, 503)))
            if roll < status_share + self.random_fault_mix["secondary"]:
                status = self.random_faults.choice((403, 429))
                return Fault("secondary", status=status, retry_after=1)
            return Fault("slow", delay=self.slow_delay)
        return None

    def _authorised(self, path: str, auth: str) -> bool:
        scheme, _, credential = auth.partition(" ")
        if credential:
            self.credentials_seen.add(credential)  # JWTs and tokens: tests grep logs for them
        if path.startswith("/app-manifests/"):
            return True  # the manifest flow's code is the credential; no token exists yet
        if path.startswith("/app") or re.fullmatch(r"/orgs/[^/]+/installation", path):
            return scheme.lower() == "bearer" and credential.count(".") == 2
        if scheme.lower() in {"token", "bearer"}:
            return credential in self.tokens
        return False

    async def _route(self, request: web.Request) -> web.Response:
        path = unquote(request.path)
        body = request[BODY]
        data = json.loads(body) if body else {}
        for method, pattern, handler in self._routes():
            if method == request.method:
                match = re.fullmatch(pattern, path)
                if match:
                    return await handler(request, data, **match.groupdict())
        self.unhandled.append(f"{request.method} {path}")
        return web.json_response(
            {"message": f"fakegithub: no route for {request.method} {path}"}, status=404
        )

    def _routes(self) -> list[tuple[str, str, Any]]:
        repo = r"/repos/(?P<repo>[^/]+/[^/]+)"
        return [
            ("POST", r"/app/installations/(?P<iid>\d+)/access_tokens", self._token),
            ("GET", r"/app/hook/deliveries", self._list_deliveries),
            ("GET", r"/app", self._app),
            ("POST", r"/app-manifests/(?P<code>[^/]+)/conversions", self._convert_manifest),
            ("GET", r"/app/installations", self._list_installations),
            ("GET", r"/orgs/(?P<org>[^/]+)/installation", self._org_installation),
            ("GET", r"/installation/repositories", self._installation_repos),
            ("POST", r"/app/hook/deliveries/(?P<did>\d+)/attempts", self._redeliver),
            ("POST", r"/graphql", self._graphql),
            ("POST", r"/api/graphql", self._graphql),
            ("GET", repo + r"/labels", self._list_labels),
            ("POST", repo + r"/labels", self._create_label),
            ("GET", repo + r"/issues", self._list_issues),
            ("POST", repo + r"/issues", self._create_issue),
            ("GET", repo + r"/issues/(?P<number>\d+)", self._get_issue),
            ("PATCH", repo + r"/issues/(?P<number>\d+)", self._patch_issue),
            ("GET", repo + r"/issues/(?P<number>\d+)/labels", self._issue_labels),
            ("POST", repo + r"/issues/(?P<number>\d+)/labels", self._add_labels),
            ("DELETE", repo + r"/issues/(?P<number>\d+)/labels/(?P<name>.+)", self._remove_label),
            ("GET", repo + r"/issues/(?P<number>\d+)/comments", self._list_comments),
            ("POST", repo + r"/issues/(?P<number>\d+)/comments", self._create_comment),
            ("PATCH", repo + r"/issues/comments/(?P<cid>\d+)", self._edit_comment),
            ("POST", repo + r"/issues/comments/(?P<cid>\d+)/reactions", self._react),
            ("POST", repo + r"/issues/(?P<number>\d+)/reactions", self._react),
            ("POST", repo + r"/issues/(?P<number>\d+)/assignees", self._add_assignees),
            ("DELETE", repo + r"/issues/(?P<number>\d+)/assignees", self._remove_assignees),
            ("GET", repo + r"/collaborators/(?P<user>[^/]+)/permission", self._permission),
            ("GET", r"/orgs/(?P<org>[^/]+)/members/(?P<user>[^/]+)", self._org_member),
            (
                "GET",
                r"/orgs/(?P<org>[^/]+)/teams/(?P<team>[^/]+)/memberships/(?P<user>[^/]+)",
                self._team_membership,
            ),
            ("GET", repo + r"/contents/(?P<path>.+)", self._contents),
            ("GET", repo + r"/pulls/(?P<number>\d+)/files", self._pull_files),
            ("POST", repo + r"/check-runs", self._create_check_run),
            ("GET", repo + r"/commits/(?P<sha>[^/]+)/check-runs", self._list_check_runs),
            ("GET", repo, self._get_repo),
        ]

    # -- REST handlers -----------------------------------------------------------------------

    def _repo(self, repo: str) -> dict[str, Any]:
        if repo not in self.repos:
            raise web.HTTPNotFound(text="Not Found")
        return self.repos[repo]

    def _issue(self, repo: str, number: str) -> Issue:
        issue = self.issues.get((repo, int(number)))
        if issue is None:
            raise web.HTTPNotFound(text="Not Found")
        return issue

    def _paginate(self, request: web.Request, items: list[Any]) -> web.Response:
        per_page = min(100, int(request.query.get("per_page", "30")))
        page = int(request.query.get("page", "1"))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            query = dict(request.query)
            query["page"] = str(page + 1)
            next_url = request.url.with_query(query)
            headers["Link"] = f'<{next_url}>; rel="next"'
        return web.json_response(chunk, headers=headers)

    def issue_json(self, issue: Issue) -> dict[str, Any]:
        repo = self.repos[issue.repo]
        return {
            "id": int(issue.node_id.split("kw")[-1]),
            "node_id": issue.node_id,
            "number": issue.number,
            "title": issue.title,
            "body": issue.body,
            "state": issue.state,
            "state_reason": issue.state_reason,
            "user": {"login": issue.user, "type": "User"},
            "labels": [
                repo["labels"].get(n.lower(), self._label(n, "ededed", "")) for n in issue.labels
            ],
            "assignees": [{"login": a} for a in issue.assignees],
            "html_url": f"https://github.com/{issue.repo}/issues/{issue.number}",
            "created_at": issue.created_at,
            "updated_at": issue.updated_at,
            "closed_at": None if issue.state == "open" else issue.updated_at,
            "author_association": issue.author_association,
            "comments": len(self.comments_on(issue.repo, issue.number)),
        }

    async def _token(self, request: web.Request, data: Any, iid: str) -> web.Response:
        if int(iid) not in self.installations:
            raise web.HTTPNotFound(text="installation not found")
        self.tokens_issued += 1
        token = f"ghs_fake{self.tokens_issued:04d}"
        self.tokens[token] = int(iid)
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        return web.json_response({"token": token, "expires_at": expires}, status=201)

    async def _convert_manifest(self, request: web.Request, data: Any, code: str) -> web.Response:
        """The manifest flow's last step: a code (valid once, for an hour) for the new App."""
        if code not in self.manifest_codes:
            return web.json_response({"message": "Not Found"}, status=404)
        self.manifest_codes.discard(code)
        return web.json_response(
            {"id": 424242, "slug": "flywheel-acme", "name": "Flywheel (acme)",
             "html_url": "https://github.com/apps/flywheel-acme", "owner": {"login": "acme"},
             "client_id": "Iv1.abc", "client_secret": "cs-123", "webhook_secret": "wh-456",
             "pem": self.manifest_pem},
            status=201,
        )  # fmt: skip

    async def _app(self, request: web.Request, data: Any) -> web.Response:
        """GET /app, as GitHub answers the App's own JWT (the bot is ``slug[bot]``)."""
        return web.json_response(
            {"id": 12345, "slug": "flywheel", "name": "Flywheel", "owner": {"login": "example-org"},
             "permissions": {"issues": "write"}, "events": ["issues", "issue_comment"]}
        )  # fmt: skip

    async def _list_installations(self, request: web.Request, data: Any) -> web.Response:
        return self._paginate(
            request,
            [{"id": i, "account": {"login": a}} for i, a in sorted(self.installations.items())],
        )

    async def _org_installation(self, request: web.Request, data: Any, org: str) -> web.Response:
        for iid, account in self.installations.items():
            if account.lower() == org.lower():
                return web.json_response({"id": iid, "account": {"login": account}})
        raise web.HTTPNotFound(text="Not Found")

    async def _installation_repos(self, request: web.Request, data: Any) -> web.Response:
        auth = request.headers.get("Authorization", "").partition(" ")[2]
        installation = self.tokens.get(auth)
        repos = [
            {"full_name": name, "private": r["private"], "archived": False}
            for name, r in sorted(self.repos.items())
            if r["installation"] == installation
        ]
        per_page = min(100, int(request.query.get("per_page", "30")))
        page = int(request.query.get("page", "1"))
        return web.json_response(
            {
                "total_count": len(repos),
                "repositories": repos[(page - 1) * per_page : page * per_page],
            }
        )

    async def _get_repo(self, request: web.Request, data: Any, repo: str) -> web.Response:
        r = self._repo(repo)
        return web.json_response(
            {"id": r["id"], "full_name": repo, "private": r["private"], "default_branch": "main"}
        )

    async def _list_labels(self, request: web.Request, data: Any, repo: str) -> web.Response:
        return self._paginate(request, list(self._repo(repo)["labels"].values()))

    async def _create_label(self, request: web.Request, data: Any, repo: str) -> web.Response:
        labels = self._repo(repo)["labels"]
        if not re.fullmatch(r"[0-9a-fA-F]{6}", str(data.get("color", "ededed"))):
            return web.json_response(
                {"message": "Validation Failed", "errors": [{"field": "color", "code": "invalid"}]},
                status=422,
            )
        if data["name"].lower() in labels:
            return web.json_response(
                {"message": "Validation Failed", "errors": [{"code": "already_exists"}]}, status=422
            )
        labels[data["name"].lower()] = self._label(
            data["name"], data.get("color", "ededed"), data.get("description", "")
        )
        return web.json_response(labels[data["name"].lower()], status=201)

    async def _list_issues(self, request: web.Request, data: Any, repo: str) -> web.Response:
        self._repo(repo)
        state = request.query.get("state", "open")
        since = request.query.get("since", "")
        wanted = [w for w in request.query.get("labels", "").split(",") if w]
        found = [
            self.issue_json(i)
            for i in self.issues.values()
            if i.repo == repo
            and (state == "all" or i.state == state)
            and i.updated_at >= since
            and all(w.lower() in [n.lower() for n in i.labels] for w in wanted)
        ]
        return self._paginate(request, sorted(found, key=lambda i: -i["number"]))

    async def _create_issue(self, request: web.Request, data: Any, repo: str) -> web.Response:
        self._repo(repo)
        issue = self.add_issue(
            repo,
            data["title"],
            data.get("body", ""),
            user="flywheel[bot]",
            labels=tuple(data.get("labels", [])),
        )
        self._wrote("opened", issue=issue)
        for name in issue.labels:
            self._wrote("labeled", issue=issue, label=name)
        return web.json_response(self.issue_json(issue), status=201)

    async def _get_issue(
        self, request: web.Request, data: Any, repo: str, number: str
    ) -> web.Response:
        return web.json_response(self.issue_json(self._issue(repo, number)))

    async def _patch_issue(
        self, request: web.Request, data: Any, repo: str, number: str
    ) -> web.Response:
        issue = self._issue(repo, number)
        before = {key: getattr(issue, key) for key in ("title", "body", "state")}
        for key in ("title", "body", "state", "state_reason"):
            if key in data:
                setattr(issue, key, data[key])
        changes = {
            key: {"from": before[key]}
            for key in ("title", "body")
            if getattr(issue, key) != before[key]
        }
        if changes:
            self._wrote("edited", issue=issue, changes=changes)
        if issue.state != before["state"]:
            self._wrote("closed" if issue.state == "closed" else "reopened", issue=issue)
        return web.json_response(self.issue_json(issue))

    async def _issue_labels(
        self, request: web.Request, data: Any, repo: str, number: str
    ) -> web.Response:
        return web.json_response(self.issue_json(self._issue(repo, number))["labels"])

    async def _add_labels(
        self, request: web.Request, data: Any, repo: str, number: str
    ) -> web.Response:
        issue = self._issue(repo, number)
        labels = self._repo(repo)["labels"]
        for name in data.get("labels", []):
            if name.lower() not in labels:
                self.add_label(repo, name)  # GitHub creates unknown labels with a default colour
            canonical = labels[name.lower()]["name"]
            if canonical not in issue.labels:
                issue.labels.append(canonical)
                self._wrote("labeled", issue=issue, label=canonical)
        return web.json_response(self.issue_json(issue)["labels"])

    async def _remove_label(
        self, request: web.Request, data: Any, repo: str, number: str, name: str
    ) -> web.Response:
        issue = self._issue(repo, number)
        present = [n for n in issue.labels if n.lower() == name.lower()]
        if not present:
            raise web.HTTPNotFound(text="Label does not exist")
        issue.labels.remove(present[0])
        self._wrote("unlabeled", issue=issue, label=present[0])
        return web.json_response(self.issue_json(issue)["labels"])

    async def _list_comments(
        self, request: web.Request, data: Any, repo: str, number: str
    ) -> web.Response:
        self._issue(repo, number)
        items = [
            {k: v for k, v in c.items() if not k.startswith("_")}
            for c in self.comments_on(repo, int(number))
        ]
        return self._paginate(request, sorted(items, key=lambda c: c["id"]))

    async def _create_comment(
        self, request: web.Request, data: Any, repo: str, number: str
    ) -> web.Response:
        issue = self._issue(repo, number)
        comment = self._new_comment(repo, int(number), data["body"], "flywheel[bot]")
        self._wrote("comment created", issue=issue, comment=comment)
        return web.json_response(
            {k: v for k, v in comment.items() if not k.startswith("_")}, status=201
        )

    async def _edit_comment(
        self, request: web.Request, data: Any, repo: str, cid: str
    ) -> web.Response:
        comment = self.comments.get(int(cid))
        if comment is None:
            raise web.HTTPNotFound(text="Not Found")
        self._set_comment_body(comment, data["body"])
        return web.json_response({k: v for k, v in comment.items() if not k.startswith("_")})

    async def _react(
        self,
        request: web.Request,
        data: Any,
        repo: str,
        number: str | None = None,
        cid: str | None = None,
    ) -> web.Response:
        target = f"comment:{cid}" if cid else f"{repo}#{number}"
        existing = [
            r for r in self.reactions if r["target"] == target and r["content"] == data["content"]
        ]
        if existing:
            return web.json_response(existing[0], status=200)
        reaction = {"id": next(self._ids), "target": target, "content": data["content"]}
        self.reactions.append(reaction)
        return web.json_response(reaction, status=201)

    async def _add_assignees(
        self, request: web.Request, data: Any, repo: str, number: str
    ) -> web.Response:
        issue = self._issue(repo, number)
        for login in data.get("assignees", []):
            if login not in issue.assignees:
                issue.assignees.append(login)
                self._wrote("assigned", issue=issue, assignee=login)
        return web.json_response(self.issue_json(issue), status=201)

    async def _remove_assignees(
        self, request: web.Request, data: Any, repo: str, number: str
    ) -> web.Response:
        issue = self._issue(repo, number)
        issue.assignees = [a for a in issue.assignees if a not in data.get("assignees", [])]
        return web.json_response(self.issue_json(issue))

    async def _permission(
        self, request: web.Request, data: Any, repo: str, user: str
    ) -> web.Response:
        self._repo(repo)
        self._forbidden()
        role = self.permissions.get((repo, user.lower()), "none")
        permission = {"triage": "read", "maintain": "write"}.get(role, role)
        return web.json_response(
            {"permission": permission, "role_name": role, "user": {"login": user}}
        )

    def _forbidden(self) -> None:
        if self.forbid_people_lookups:
            raise web.HTTPForbidden(
                text=json.dumps({"message": "Resource not accessible by integration"}),
                content_type="application/json",
            )

    async def _org_member(
        self, request: web.Request, data: Any, org: str, user: str
    ) -> web.Response:
        self._forbidden()
        if (org.lower(), user.lower()) in self.org_members:
            return web.Response(status=204)
        raise web.HTTPNotFound(text="Not Found")

    async def _team_membership(
        self, request: web.Request, data: Any, org: str, team: str, user: str
    ) -> web.Response:
        self._forbidden()
        if user.lower() in self.teams.get((org.lower(), team.lower()), set()):
            return web.json_response({"state": "active", "role": "member"})
        raise web.HTTPNotFound(text="Not Found")

    async def _contents(
        self, request: web.Request, data: Any, repo: str, path: str
    ) -> web.Response:
        ref = request.query.get("ref")
        files = self.trees[(repo, ref)] if ref else self._repo(repo)["files"]
        inside = sorted(p for p in files if p.startswith(path.rstrip("/") + "/"))
        if path not in files and inside:  # a folder: its entries, as GitHub lists them
            names = sorted({p[len(path.rstrip("/")) + 1 :].split("/")[0] for p in inside})
            base = path.rstrip("/")
            return web.json_response(
                [{"type": "dir" if f"{base}/{n}" not in files else "file", "name": n,
                  "path": f"{base}/{n}"} for n in names]
            )  # fmt: skip
        if path not in files:
            raise web.HTTPNotFound(text="Not Found")
        content = base64.b64encode(files[path].encode()).decode()
        return web.json_response(
            {"type": "file", "path": path, "encoding": "base64", "content": content}
        )

    async def _pull_files(
        self, request: web.Request, data: Any, repo: str, number: str
    ) -> web.Response:
        pull = self.pulls[(repo, int(number))]
        return self._paginate(
            request, [{"filename": f, "status": "modified"} for f in pull["files"]]
        )

    async def _create_check_run(self, request: web.Request, data: Any, repo: str) -> web.Response:
        run = {**data, "id": 9000 + len(self.check_runs), "repo": repo}
        self.check_runs.append(run)
        return web.json_response(run, status=201)

    async def _list_check_runs(
        self, request: web.Request, data: Any, repo: str, sha: str
    ) -> web.Response:
        runs = [r for r in self.check_runs if r["repo"] == repo and r["head_sha"] == sha]
        name = request.query.get("check_name")
        runs = [r for r in runs if not name or r["name"] == name]
        return web.json_response({"total_count": len(runs), "check_runs": runs})

    def record_delivery(
        self,
        guid: str,
        event: str,
        action: str | None,
        status_code: int,
        *,
        redelivery: bool = False,
        at: float | None = None,
    ) -> dict[str, Any]:
        """GitHub's record of one attempt to deliver a webhook (the App's Advanced tab)."""
        attempt = {
            "id": next(self._ids),
            "guid": guid,
            "delivered_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at or time.time())),
            "redelivery": redelivery,
            "duration": 0.1,
            "status": {0: "Timed out", 202: "Accepted", 200: "OK"}.get(status_code, "Error"),
            "status_code": status_code,
            "event": event,
            "action": action,
            "installation_id": 1,
            "repository_id": None,
        }
        self.hook_deliveries.append(attempt)
        return attempt

    async def _list_deliveries(self, request: web.Request, data: Any) -> web.Response:
        """Newest first, cursor-paginated through the Link header, as GitHub does."""
        newest_first = sorted(
            self.hook_deliveries, key=lambda a: (a["delivered_at"], a["id"]), reverse=True
        )
        per_page = min(100, int(request.query.get("per_page", "30")))
        start = int(request.query.get("cursor", "0"))
        chunk = newest_first[start : start + per_page]
        headers = {}
        if start + per_page < len(newest_first):
            query = {**request.query, "cursor": str(start + per_page)}
            headers["Link"] = f'<{request.url.with_query(query)}>; rel="next"'
        return web.json_response(chunk, headers=headers)

    async def _redeliver(self, request: web.Request, data: Any, did: str) -> web.Response:
        attempt = next((a for a in self.hook_deliveries if a["id"] == int(did)), None)
        if attempt is None:
            raise web.HTTPNotFound(text="Not Found")
        self.redelivered.append(int(did))
        if self.resend is not None:
            resend = self.resend

            async def send_again() -> None:
                status = await resend(attempt["guid"])
                self.record_delivery(
                    attempt["guid"], attempt["event"], attempt["action"], status, redelivery=True
                )

            task = asyncio.ensure_future(send_again())
            self._resending.add(task)
            task.add_done_callback(self._resending.discard)
        return web.json_response({}, status=202)

    # -- GraphQL ---------------------------------------------------------------------------

    async def _graphql(self, request: web.Request, data: Any) -> web.Response:
        query = data.get("query", "")
        variables = data.get("variables") or {}
        match = re.search(r"(query|mutation)\s+(\w+)", query)
        operation = match.group(2) if match else ""
        if operation == "FlywheelWrites":
            return web.json_response(self._gql_writes(query, variables))
        if operation == "FlywheelAddItem":
            self.mutations["addProjectV2ItemById"] += 1
        handler = {
            "FlywheelProjectFields": self._gql_fields,
            "FlywheelAddItem": self._gql_add_item,
            "FlywheelSetFields": self._gql_set_fields,
            "FlywheelCreateField": self._gql_create_field,
        }.get(operation)
        if handler is None:
            self.unhandled.append(f"graphql {operation or query[:60]}")
            return web.json_response(
                {"errors": [{"message": f"fakegithub: unknown operation {operation!r}"}]}
            )
        try:
            return web.json_response({"data": handler(variables)})
        except LookupError as exc:
            return web.json_response(
                {"data": None, "errors": [{"type": "NOT_FOUND", "message": str(exc)}]}
            )

    def _board_by_id(self, project_id: str) -> Board:
        for board in self.boards.values():
            if board.id == project_id:
                return board
        raise LookupError(f"Could not resolve to a node with the global id of '{project_id}'")

    def _gql_fields(self, v: dict[str, Any]) -> dict[str, Any]:
        board = self.boards.get((v["owner"].lower(), v["number"]))
        if board is None:
            return {"repositoryOwner": {"projectV2": None}}
        nodes = [{"__typename": "ProjectV2Field", **f} for f in board.fields]
        return {
            "repositoryOwner": {
                "projectV2": {"id": board.id, "title": board.title, "fields": {"nodes": nodes}}
            }
        }

    def _item_json(self, board: Board, item_id: str) -> dict[str, Any]:
        item = board.items[item_id]
        nodes = []
        for fid, value in item["values"].items():
            key, val = next(iter(value.items()))
            name = {"singleSelectOptionId": "optionId"}.get(key, key)
            nodes.append({name: val, "field": {"id": fid}})
        return {"id": item_id, "fieldValues": {"nodes": nodes}}

    def _gql_add_item(self, v: dict[str, Any]) -> dict[str, Any]:
        board = self._board_by_id(v["projectId"])
        if not any(i.node_id == v["contentId"] for i in self.issues.values()):
            raise LookupError(
                f"Could not resolve to a node with the global id of '{v['contentId']}'"
            )
        for item_id, item in board.items.items():
            if item["content"] == v["contentId"]:
                return {"addProjectV2ItemById": {"item": self._item_json(board, item_id)}}
        item_id = f"PVTI_{next(self._ids)}"
        board.items[item_id] = {"content": v["contentId"], "values": {}}
        return {"addProjectV2ItemById": {"item": self._item_json(board, item_id)}}

    def _gql_set_fields(self, v: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for alias, spec in sorted(v.items()):
            board = self._board_by_id(spec["projectId"])
            item = board.items.get(spec["itemId"])
            if item is None:
                raise LookupError(f"item {spec['itemId']} not found")
            if alias.startswith("u"):
                value = spec["value"]
                assert len(value) == 1, f"one value kind per update, got {value}"
                item["values"][spec["fieldId"]] = value
            else:
                item["values"].pop(spec["fieldId"], None)
            out[alias] = {"projectV2Item": {"id": spec["itemId"]}}
        return out

    def _gql_create_field(self, v: dict[str, Any]) -> dict[str, Any]:
        spec = v["input"]
        board = self._board_by_id(spec["projectId"])
        fid = f"PVTF_{next(self._ids)}"
        node: dict[str, Any] = {"id": fid, "name": spec["name"], "dataType": spec["dataType"]}
        if spec["dataType"] == "SINGLE_SELECT":
            node["options"] = [
                {"id": f"opt_{next(self._ids)}", "name": o["name"]}
                for o in spec.get("singleSelectOptions", [])
            ]
        board.fields.append(node)
        return {"createProjectV2Field": {"projectV2Field": {"id": fid, "name": spec["name"]}}}

    # -- batched writes: one mutation document, each alias a write of its own ---------------

    def _gql_writes(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Every alias runs; those that fail are null in ``data`` with an error naming them."""
        handlers = {
            "addLabelsToLabelable": self._gql_add_labels,
            "removeLabelsFromLabelable": self._gql_remove_labels,
            "addComment": self._gql_add_comment,
            "updateIssueComment": self._gql_update_comment,
            "addProjectV2ItemById": lambda v: self._gql_add_item(v)["addProjectV2ItemById"],
        }
        data: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for alias, mutation, var in re.findall(r"(\w+): (\w+)\(input: \$(\w+)\)", query):
            handler = handlers.get(mutation)
            if handler is None:
                self.unhandled.append(f"graphql mutation {mutation}")
                data[alias] = None
                errors.append({"path": [alias], "message": f"unknown mutation {mutation}"})
                continue
            target = f"{mutation} " + " ".join(
                str(v) for k, v in variables[var].items() if k.endswith(("Id", "id"))
            )
            faults = (f for f in self.mutation_faults if f.remaining and f.match in target)
            fault = next(faults, None)
            if fault is not None:
                fault.remaining -= 1
                self.faults_injected[f"mutation {fault.kind}"] += 1
                data[alias] = None
                errors.append({"type": fault.kind, "path": [alias], "message": "injected"})
                continue
            self.mutations[mutation] += 1
            try:
                data[alias] = handler(variables[var])
            except LookupError as exc:
                data[alias] = None
                errors.append({"type": "NOT_FOUND", "path": [alias], "message": str(exc)})
        return {"data": data, **({"errors": errors} if errors else {})}

    def _issue_by_node(self, node_id: str) -> Issue:
        for issue in self.issues.values():
            if issue.node_id == node_id:
                return issue
        raise LookupError(f"Could not resolve to a node with the global id of '{node_id}'")

    def _label_names(self, issue: Issue, label_ids: list[str]) -> list[str]:
        by_id = {lab["node_id"]: lab["name"] for lab in self.repos[issue.repo]["labels"].values()}
        missing = [i for i in label_ids if i not in by_id]
        if missing:
            raise LookupError(f"Could not resolve to a node with the global id of '{missing[0]}'")
        return [by_id[i] for i in label_ids]

    def _gql_add_labels(self, v: dict[str, Any]) -> dict[str, Any]:
        issue = self._issue_by_node(v["labelableId"])
        for name in self._label_names(issue, v["labelIds"]):
            if name not in issue.labels:
                issue.labels.append(name)
                self._wrote("labeled", issue=issue, label=name)
        return {"clientMutationId": None}

    def _gql_remove_labels(self, v: dict[str, Any]) -> dict[str, Any]:
        issue = self._issue_by_node(v["labelableId"])
        for name in self._label_names(issue, v["labelIds"]):
            if name in issue.labels:
                issue.labels.remove(name)
                self._wrote("unlabeled", issue=issue, label=name)
        return {"clientMutationId": None}

    def _gql_add_comment(self, v: dict[str, Any]) -> dict[str, Any]:
        issue = self._issue_by_node(v["subjectId"])
        comment = self._new_comment(issue.repo, issue.number, v["body"], "flywheel[bot]")
        self._wrote("comment created", issue=issue, comment=comment)
        node = {"id": comment["node_id"], "fullDatabaseId": str(comment["id"]), "body": v["body"],
                "url": comment["html_url"]}  # fmt: skip
        return {"commentEdge": {"node": node}}

    def _gql_update_comment(self, v: dict[str, Any]) -> dict[str, Any]:
        comment = next((c for c in self.comments.values() if c["node_id"] == v["id"]), None)
        if comment is None:
            raise LookupError(f"Could not resolve to a node with the global id of '{v['id']}'")
        self._set_comment_body(comment, v["body"])
        return {"issueComment": {"id": comment["node_id"]}}
