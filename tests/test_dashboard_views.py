"""The dashboard's view data, from plain inputs: what each page will say."""

from __future__ import annotations

import dataclasses
import time

from app.config.model import Config
from app.dashboard import graph, views
from app.github.client import RateLimitState
from app.linking.scoring import Request
from app.settings import web_url_for
from app.store.facts import IssueFact, Link, Membership

BASE = "https://github.com"


def request(repo: str, number: int, community: str, private: bool = False) -> Request:
    return Request(1, repo, number, f"Request {number}", "body", community, private=private)


def fact(
    number: int, workflow: str, community: str = "", parent: str = "", **kw: object
) -> IssueFact:
    values = {
        "repo": "o/hubs",
        "number": number,
        "workflow": workflow,
        "community": community,
        "title": f"[X] Issue {number}",
        "state": "open",
        "private": False,
        "parent": parent,
    }
    values.update(kw)  # fmt: skip
    return IssueFact(**values)  # type: ignore[arg-type]


def test_shared_needs_join_different_communities_once(config: Config) -> None:
    requests = [request("o/a", 1, "hypatia"), request("o/b", 2, "curie"),
                request("o/a", 3, "hypatia")]  # fmt: skip
    links = [
        Link("o/a", 1, "o/b", 2, False),
        Link("o/b", 2, "o/a", 1, False),  # the other side's comment: the same tie
        Link("o/a", 1, "o/a", 3, True),  # one community's own requests: no network effect
    ]
    network = views.build_network(requests, [], links, [], {}, config, BASE)
    assert [(e.a, e.b, e.needs) for e in network.edges] == [("curie", "hypatia", 1)]
    hypatia = next(c for c in network.communities if c.slug == "hypatia")
    assert [(s.other, s.mine.number, s.theirs.number) for s in hypatia.shared_needs] == [
        ("curie", 1, 2)
    ]
    assert hypatia.requests == 2


def test_private_issues_stay_out_unless_allowed(config: Config) -> None:
    requests = [request("o/a", 1, "hypatia"), request("o/secret", 2, "curie", private=True)]
    links = [Link("o/a", 1, "o/secret", 2, False)]
    network = views.build_network(requests, [], links, [], {}, config, BASE)
    assert network.edges == [] and network.hidden_private == 1
    assert [c.slug for c in network.communities] == ["hypatia"]
    shown = dataclasses.replace(
        config, settings=dataclasses.replace(config.settings, dashboard_shows_private=True)
    )
    network = views.build_network(requests, [], links, [], {}, shown, BASE)
    assert [(e.a, e.b) for e in network.edges] == [("curie", "hypatia")]


def test_consortia_members_initiatives_and_board_status(config: Config) -> None:
    issues = [
        fact(5, "consortium", title="[Consortium] GPU teaching hubs"),
        fact(6, "consortium", title="GPU teaching hubs!"),  # the same name: told apart
        fact(7, "initiative", community="hypatia", parent="o/hubs#5"),
        fact(8, "onboarding", community="lovelace"),
        fact(9, "offboarding", community="lovelace", state="closed"),
    ]
    members = [Membership("o/hubs", 5, "hypatia", ("test",), "2026-11-02"),
               Membership("o/hubs", 5, "lovelace", ("co-fund",), "2026-11-03")]  # fmt: skip
    statuses = {("o/hubs", 7): "In progress", ("o/hubs", 8): "Refined"}
    network = views.build_network([], issues, [], members, statuses, config, BASE)
    first, second = network.consortia
    assert (first.slug, second.slug) == ("gpu-teaching-hubs", "gpu-teaching-hubs-6")
    assert [m.community for m in first.members] == ["hypatia", "lovelace"]
    assert [(i.number, i.status) for i in first.initiatives] == [(7, "In progress")]
    assert [(e.a, e.b, e.consortia) for e in network.edges] == [
        ("hypatia", "lovelace", ("gpu-teaching-hubs",))
    ]
    lovelace = next(c for c in network.communities if c.slug == "lovelace")
    assert [(i.workflow, i.status) for i in lovelace.workflow_issues] == [
        ("onboarding", "Refined")
    ], "closed workflow issues are done with"
    assert [(v.slug, roles) for v, roles in lovelace.consortia] == [
        ("gpu-teaching-hubs", ("co-fund",))
    ]


def test_the_picture_places_tied_communities_on_a_circle(config: Config) -> None:
    requests = [request("o/a", n, c) for n, c in enumerate(["a", "b", "c", "d"], start=1)]
    links = [Link("o/a", 1, "o/a", 2, False), Link("o/a", 1, "o/a", 3, False)]
    picture = graph.layout(views.build_network(requests, [], links, [], {}, config, BASE))
    assert [n.slug for n in picture.nodes] == ["a", "b", "c"], "d has no tie: the table has it"
    centre = picture.size / 2
    radii = {round(((n.x - centre) ** 2 + (n.y - centre) ** 2) ** 0.5) for n in picture.nodes}
    assert len(radii) == 1
    assert {line.title for line in picture.lines} == {"a and b: 1 shared need",
                                                      "a and c: 1 shared need"}  # fmt: skip


def test_operations_rows_say_what_happened_and_hide_private_detail() -> None:
    row = {"id": "d-1", "event": "issues", "action": "opened", "repo": "o/r", "issue_number": 4,
           "state": "failed", "attempts": 3, "received_at": time.time() - 90, "duration": 0.25,
           "error": "GitHub answered 404", "private": 0}  # fmt: skip
    shown = views.delivery_row(row, BASE, shows_private=False)
    assert (shown.event, shown.issue, shown.url) == (
        "issues.opened",
        "o/r#4",
        f"{BASE}/o/r/issues/4",
    )
    assert (shown.ago, shown.duration_ms) == ("1 min ago", 250.0)
    assert shown.error.startswith("GitHub answered not found (404): the issue, board or")
    assert shown.error.endswith("(GitHub answered 404)"), "the original words follow"
    handler = views.delivery_row(
        {**row, "error": "workflows.on_opened: BadRequest: Not Found"}, BASE, shows_private=False
    )
    assert handler.error.startswith("GitHub answered not found (404)")
    hidden = views.delivery_row({**row, "private": 1}, BASE, shows_private=False)
    assert (hidden.issue, hidden.url) == ("a private repository", "")
    assert "404" not in hidden.error


def test_rate_limits_and_urls() -> None:
    now = 1_000_000.0
    rows = views.rate_rows(
        {2: RateLimitState(remaining=120, limit=5000, reset=now + 600), 1: RateLimitState()}, now
    )
    assert [(r.installation, r.low, r.resets) for r in rows] == [
        (1, False, "unknown"),
        (2, True, "in 10 min"),
    ]
    assert web_url_for("https://api.github.com/") == "https://github.com"
    assert web_url_for("https://ghe.example.edu/api/v3") == "https://ghe.example.edu"


def test_issue_links_escape_what_people_typed() -> None:
    from app.dashboard.pages import issue_link

    issue = views.IssueView("o/r", 3, '<script>alert(1)</script> & "x"', f"{BASE}/o/r/issues/3",
                            "", "open", "", "hypatia")  # fmt: skip
    html = str(issue_link(issue))
    title = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;x&#34;"
    assert html == (f'<a class="ref" href="{BASE}/o/r/issues/3" title="{title}">o/r#3</a> {title}')
