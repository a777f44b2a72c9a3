"""What each dashboard page shows, built from the journal, the request index and the facts.

Pure functions of their inputs, so tests check what a page says without a
browser, and the pages stay fast: one query per source, then Python.
Private repositories' issues are left out unless the config allows them.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config.model import Config
from ..linking.scoring import Request
from ..store.facts import IssueFact, Link, Membership
from ..workflows import forms

OUTCOMES = ("pending", "running", "done", "failed")
_PREFIX = re.compile(r"^\s*\[[^\]]*\]\s*")  # "[Onboarding] " and the like


_PLURALS = {"community": "communities", "tie": "ties", "issue": "issues", "request": "requests"}


def count(number: int, thing: str) -> str:
    """``1 tie``, ``2 ties``, ``1 community``: the page counts everything it shows."""
    return f"{number} {thing if number == 1 else _PLURALS.get(thing, thing + 's')}"


def span(seconds: float) -> str:
    """A duration people read at a glance: "12 s", "5 min", "3 h", "2 d"."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"


def when(timestamp: float | None, now: float | None = None) -> str:
    return f"{span((now or time.time()) - timestamp)} ago" if timestamp else "never"


# -- operations (/) ------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryRow:
    id: str
    received: str  # UTC, to the second
    ago: str
    event: str
    issue: str  # "owner/repo#12", or "" when the delivery is not about an issue
    url: str
    state: str
    duration_ms: float | None
    attempts: int
    error: str


@dataclass(frozen=True)
class RateRow:
    installation: int
    remaining: int | None
    limit: int | None
    resets: str
    low: bool  # under a tenth of the limit: calls will soon wait
    held: str = ""  # GitHub said the allowance is spent: calls wait this long


@dataclass(frozen=True)
class Operations:
    mode: str
    version: str
    uptime: str
    counts: Mapping[str, int]
    depth: int
    deliveries: list[DeliveryRow]
    retrying: list[DeliveryRow]
    rates: list[RateRow]
    repos: list[str]
    outcome: str  # the filters in force ("" = all)
    repo: str


def delivery_row(row: Mapping[str, Any], base: str, shows_private: bool) -> DeliveryRow:
    private = bool(row.get("private")) and not shows_private
    repo, number = row.get("repo"), row.get("issue_number")
    issue = f"{repo}#{number}" if repo and number else (repo or "")
    url = f"{base}/{repo}/issues/{number}" if repo and number else ""
    if private:
        issue, url = "a private repository", ""
    error = error_in_words(str(row.get("error") or ""))
    if private and error:
        error = "(details hidden: private repository)"
    received = float(row.get("received_at") or 0)
    duration = row.get("duration")
    return DeliveryRow(
        id=str(row["id"]),
        received=time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(received)),
        ago=when(received),
        event=f"{row['event']}.{row['action']}" if row.get("action") else str(row["event"]),
        issue=issue,
        url=url,
        state=str(row["state"]),
        duration_ms=float(duration) * 1000 if duration is not None else None,
        attempts=int(row.get("attempts") or 0),
        error=error[:500],
    )


_STATUS_WORDS = {
    "401": "GitHub did not accept the App's token (401): check the App's key and id",
    "403": "GitHub refused (403): the App may lack a permission, or a rate limit was hit",
    "404": "GitHub answered not found (404): the issue, board or repository is gone, or the "
    "App cannot see it",
    "410": "GitHub answered gone (410): the issue was deleted or transferred",
    "422": "GitHub refused the change as invalid (422)",
}


def error_in_words(error: str) -> str:
    """A delivery's error as a person can act on it; the handler and GitHub's words follow."""
    if not error:
        return ""
    for status, words in _STATUS_WORDS.items():
        if f"{status} " in error or f"({status})" in error or error.endswith(status):
            return f"{words}. ({error[:300]})"
    if "Not Found" in error:
        return f"{_STATUS_WORDS['404']}. ({error[:300]})"
    if "Timeout" in error or "timed out" in error:
        return f"GitHub did not answer in time; Flywheel retries. ({error[:300]})"
    return error


def rate_rows(limits: Mapping[int, Any], now: float | None = None) -> list[RateRow]:
    """Each installation's GitHub allowance, as the last answer's headers told it. The App's
    own calls (made with its JWT: ``GET /app``, listing installations) are kept under 0 and
    have an allowance of their own that no installation's work spends: not shown."""
    rows = []
    for installation, state in sorted(limits.items()):
        if installation == 0:
            continue
        limit, remaining, reset = state.limit, state.remaining, state.reset
        rows.append(
            RateRow(
                installation=installation,
                remaining=remaining,
                limit=limit,
                resets=f"in {span(reset - (now or time.time()))}" if reset else "unknown",
                low=bool(limit and remaining is not None and remaining < limit / 10),
                held=span(state.held_for(now or time.time()))
                if state.held_for(now or time.time())
                else "",
            )
        )
    return rows


# -- the network (/communities) ------------------------------------------------------------


@dataclass(frozen=True)
class IssueView:
    repo: str
    number: int
    title: str
    url: str
    workflow: str
    state: str
    status: str  # on its board, "" when not on one (or not known yet)
    community: str


@dataclass(frozen=True)
class SharedNeed:
    other: str  # the other community
    mine: IssueView
    theirs: IssueView


@dataclass(frozen=True)
class ConsortiumView:
    slug: str
    issue: IssueView
    members: list[Membership]
    initiatives: list[IssueView]


@dataclass
class CommunityView:
    slug: str
    workflow_issues: list[IssueView] = field(default_factory=list)  # open ones
    consortia: list[tuple[ConsortiumView, tuple[str, ...]]] = field(default_factory=list)
    shared_needs: list[SharedNeed] = field(default_factory=list)
    requests: int = 0  # open community requests


@dataclass(frozen=True)
class Edge:
    a: str
    b: str
    needs: int  # requests linked across the two communities
    consortia: tuple[str, ...]  # consortia both belong to


@dataclass(frozen=True)
class Network:
    communities: list[CommunityView]
    edges: list[Edge]
    consortia: list[ConsortiumView]
    hidden_private: int  # issues left out because they are private


def consortium_slug(title: str) -> str:
    return forms.slugify(_PREFIX.sub("", title)) or "consortium"


def build_network(
    requests: Iterable[Request],
    workflow_issues: Iterable[IssueFact],
    links: Iterable[Link],
    members: Iterable[Membership],
    statuses: Mapping[tuple[str, int], str],
    config: Config,
    base: str,
) -> Network:
    """Communities, what joins them (shared needs, consortia), and each consortium.

    ``requests`` are the request index's (what linking compares); the
    workflow issues are the facts Flywheel noted as it handled them.
    """
    shows_private = config.settings.dashboard_shows_private
    issues: dict[tuple[str, int], IssueView] = {}
    hidden = 0

    def keep(repo: str, number: int, title: str, workflow: str, state: str, community: str,
             private: bool) -> None:  # fmt: skip
        nonlocal hidden
        if private and not shows_private:
            hidden += 1
            return
        issues[(repo, number)] = IssueView(
            repo=repo,
            number=number,
            title=title,
            url=f"{base}/{repo}/issues/{number}",
            workflow=workflow,
            state=state,
            status=statuses.get((repo, number), ""),
            community=community,
        )

    for r in requests:
        keep(r.repo, r.number, r.title, r.workflow, r.state, r.community, r.private)
    parents: dict[tuple[str, int], str] = {}
    for f in workflow_issues:
        keep(f.repo, f.number, f.title, f.workflow, f.state, f.community, f.private)
        if f.parent:
            parents[(f.repo, f.number)] = f.parent

    communities: dict[str, CommunityView] = {}

    def community(slug: str) -> CommunityView:
        return communities.setdefault(slug, CommunityView(slug))

    for issue in issues.values():
        if not issue.community or issue.state != "open":
            continue
        if issue.workflow and issue.workflow != "consortium":
            community(issue.community).workflow_issues.append(issue)
        elif not issue.workflow:
            community(issue.community).requests += 1

    consortia = _consortia(issues, members, parents)
    pair_consortia: dict[tuple[str, str], set[str]] = defaultdict(set)
    for view in consortia:
        slugs = sorted({m.community for m in view.members})
        for member in view.members:
            community(member.community).consortia.append((view, member.roles))
        for i, a in enumerate(slugs):
            for b in slugs[i + 1 :]:
                pair_consortia[(a, b)].add(view.slug)

    pair_needs: dict[tuple[str, str], int] = defaultdict(int)
    seen: set[tuple[tuple[str, int], tuple[str, int]]] = set()
    for link in links:
        here, there = (link.repo, link.number), (link.other_repo, link.other_number)
        mine, theirs = issues.get(here), issues.get(there)
        if mine is None or theirs is None or not mine.community or not theirs.community:
            continue
        if mine.community == theirs.community or (here, there) in seen:
            continue
        seen.update({(here, there), (there, here)})
        community(mine.community).shared_needs.append(SharedNeed(theirs.community, mine, theirs))
        community(theirs.community).shared_needs.append(SharedNeed(mine.community, theirs, mine))
        a, b = sorted((mine.community, theirs.community))
        pair_needs[(a, b)] += 1

    edges = [
        Edge(a, b, pair_needs.get((a, b), 0), tuple(sorted(pair_consortia.get((a, b), ()))))
        for a, b in sorted(set(pair_needs) | set(pair_consortia))
    ]
    for view in communities.values():
        view.workflow_issues.sort(key=lambda i: (i.workflow, i.repo, i.number))
        view.shared_needs.sort(key=lambda s: (s.other, s.mine.number))
    return Network(
        communities=sorted(communities.values(), key=lambda c: c.slug),
        edges=edges,
        consortia=consortia,
        hidden_private=hidden,
    )


def _consortia(
    issues: Mapping[tuple[str, int], IssueView],
    members: Iterable[Membership],
    parents: Mapping[tuple[str, int], str],
) -> list[ConsortiumView]:
    by_issue: dict[tuple[str, int], list[Membership]] = defaultdict(list)
    for m in members:
        by_issue[(m.repo, m.number)].append(m)
    initiatives: dict[str, list[IssueView]] = defaultdict(list)
    for key, parent in sorted(parents.items()):
        if key in issues and issues[key].workflow == "initiative":
            initiatives[parent].append(issues[key])
    views: list[ConsortiumView] = []
    used: set[str] = set()
    for key, issue in sorted(issues.items()):
        if issue.workflow != "consortium":
            continue
        slug = consortium_slug(issue.title)
        if slug in used:  # two consortia with one name: the later one is told apart
            slug = f"{slug}-{issue.number}"
        used.add(slug)
        views.append(
            ConsortiumView(
                slug=slug,
                issue=issue,
                members=sorted(by_issue.get(key, []), key=lambda m: m.community),
                initiatives=initiatives.get(f"{key[0]}#{key[1]}", []),
            )
        )
    return views
