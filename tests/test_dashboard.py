"""The dashboard: closed without a token, then operations, the network and a consortium.

The pages are read over HTTP after a real run against the fake GitHub:
onboardings, a consortium two communities join, an initiative under it and
two communities' requests about the same need.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from app.config.model import Config
from app.dashboard import access, pages
from tests import payloads
from tests.commenting import say
from tests.conftest import ORG, PRIVATE_REPO, REPO, Flywheel
from tests.test_commands_consortium import onboarded
from tests.test_linking import GPU_CURIE, GPU_HYPATIA, SUPPORT, opened, request
from tests.test_workflow_initiative_consortium import CONSORTIUM, INITIATIVE, open_issue
from tests.test_workflow_onboarding import STATUS

TOKEN = "correct horse battery staple 42"


@pytest.fixture
def boards(fake: Any) -> None:
    fake.add_board(
        ORG, 1, "Partnerships", {"Status": STATUS, "Community": "TEXT", "Start date": "DATE"}
    )
    fake.add_board(ORG, 2, "Roadmap", {"Status": ["Shared need", *STATUS], "Estimate": "NUMBER"})
    fake.add_repo(SUPPORT)


@pytest.fixture
async def dashboard(make_flywheel: Any, fake_url: str, config: Config, boards: None) -> Flywheel:
    return await make_flywheel(fake_url, config, dashboard_token=TOKEN)


async def sign_in(flywheel: Flywheel) -> None:
    response = await flywheel.client.post(
        "/login", data={"token": TOKEN, "next": "/"}, allow_redirects=False
    )
    assert response.status == 303, await response.text()


async def get(flywheel: Flywheel, path: str, status: int = 200) -> str:
    response = await flywheel.client.get(path)
    text = await response.text()
    assert response.status == status, text
    assert TOKEN not in text
    return text


async def community_network(flywheel: Flywheel) -> dict[str, Any]:
    """What a team would have after a few weeks: the real handlers, the fake GitHub."""
    fake = flywheel.fake
    made: dict[str, Any] = {}
    for slug, name, people in (("hypatia", "Hypatia College", "@ada"),
                               ("lovelace", "Lovelace Institute", "@charles")):  # fmt: skip
        made[slug] = onboarded(fake, slug, name, people)
        await flywheel.deliver("issues", payloads.issues_event(fake, made[slug], "opened"))
    consortium = open_issue(fake, "consortium.yml", CONSORTIUM, "GPU teaching hubs")
    await flywheel.deliver("issues", payloads.issues_event(fake, consortium, "opened"))
    await say(flywheel, consortium, "/join test endorse", author="ada", association="NONE")
    await say(flywheel, consortium, "/join co-fund", author="charles", association="NONE")
    answers = {**INITIATIVE, "Consortium": f"#{consortium.number}"}
    initiative = open_issue(fake, "initiative.yml", answers, "GPU pools that scale to zero")
    await flywheel.deliver("issues", payloads.issues_event(fake, initiative, "opened"))
    first = request(fake, REPO, "hypatia", GPU_HYPATIA)
    second = request(fake, SUPPORT, "curie", GPU_CURIE)
    await opened(flywheel, first)
    await opened(flywheel, second)
    return {"consortium": consortium, "initiative": initiative, "gpu": (first, second), **made}


async def test_off_without_a_token_while_health_and_metrics_stay_open(
    make_flywheel: Any, fake_url: str, config: Config
) -> None:
    flywheel = await make_flywheel(fake_url, config)
    for path in ("/", "/communities", "/consortia/gpu-teaching-hubs"):
        text = await get(flywheel, path, 403)
        assert "The dashboard is off" in text and "FLYWHEEL_DASHBOARD_TOKEN" in text
    assert (await flywheel.client.get("/healthz")).status == 200
    assert (await flywheel.client.get("/metrics")).status == 200


async def test_the_token_is_asked_once_and_kept_as_a_hash(dashboard: Flywheel) -> None:
    text = await get(dashboard, "/communities", 401)
    assert 'name="token"' in text and 'value="/communities"' in text
    wrong = await dashboard.client.post("/login", data={"token": "guess", "next": "/"})
    assert wrong.status == 401 and "not the one" in await wrong.text()
    response = await dashboard.client.post(
        "/login", data={"token": TOKEN, "next": "/communities"}, allow_redirects=False
    )
    assert response.status == 303 and response.headers["Location"] == "/communities"
    cookie = response.cookies[access.COOKIE]
    assert cookie.value == access.cookie_value(TOKEN) and TOKEN not in cookie.value
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    await get(dashboard, "/communities")
    await dashboard.client.post("/logout", allow_redirects=False)
    dashboard.client.session.cookie_jar.clear()
    await get(dashboard, "/", 401)


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example", "/\\evil", ""])
def test_after_sign_in_only_paths_of_this_site(target: str) -> None:
    assert access.safe_next(target) == "/"
    assert access.safe_next("/consortia/x?y=1") == "/consortia/x?y=1"


async def test_operations_lists_deliveries_with_filters(dashboard: Flywheel, fake: Any) -> None:
    await sign_in(dashboard)
    issue = fake.add_issue(REPO, "Our hub is out of disk", "Please help", user="ada")
    await dashboard.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    broken = onboarded(fake, "hypatia", "Hypatia College", "@ada")
    fake.fail_next(5, status=404, match="FlywheelWrites")  # its labels, comment, board item
    row = await dashboard.deliver("issues", payloads.issues_event(fake, broken, "opened"))
    assert row["state"] == "failed"
    text = await get(dashboard, "/")
    assert '<span class="n" id="mode">live</span>' in text
    # Links go to GitHub's web pages (here, the fake's host: GITHUB_API_URL points there).
    assert f'/{REPO}/issues/{broken.number}">{REPO}#{broken.number}</a>' in text
    assert "<code>issues.opened</code>" in text and "GitHub answered 404" in text
    assert re.search(r'id="rates".*<td>1</td>', text, re.S), "installation 1's allowance"
    failed = await get(dashboard, "/?outcome=failed")
    assert failed.count('<span class="badge failed">') == 1
    assert '<span class="badge done">' not in failed
    other = await get(dashboard, "/?repo=example-org/elsewhere")
    assert "No delivery matches." in other
    assert "<script" not in text


async def test_private_repositories_stay_off_unless_config_allows(
    make_flywheel: Any, fake_url: str, config: Config, fake: Any, tmp_path: Path
) -> None:
    secret = fake.add_issue(PRIVATE_REPO, "Confidential budget", "body")
    for shows in (False, True):
        settings = dataclasses.replace(config.settings, dashboard_shows_private=shows)
        flywheel = await make_flywheel(
            fake_url,
            dataclasses.replace(config, settings=settings),
            dashboard_token=TOKEN,
            db_path=tmp_path / f"shows-{shows}.db",
        )
        await sign_in(flywheel)
        fake.fail_next(1, status=404, match=f"/repos/{PRIVATE_REPO}/issues/{secret.number}")
        await flywheel.deliver("issues", payloads.issues_event(fake, secret, "opened"))
        text = await get(flywheel, "/")
        assert (PRIVATE_REPO in text) is shows
        assert ("a private repository" in text) is not shows


async def test_communities_page_shows_the_network(dashboard: Flywheel, fake: Any) -> None:
    made = await community_network(dashboard)
    await sign_in(dashboard)
    text = await get(dashboard, "/communities")
    hypatia = re.search(r'<tr id="c-hypatia">.*?</tr>', text, re.S)
    assert hypatia is not None
    row = hypatia.group(0)
    onboarding = made["hypatia"]
    assert 'onboarding: <a class="ref" href=' in row and f"{REPO}#{onboarding.number}</a>" in row
    assert '<span class="badge">Refined</span>' in row, "status from the board"
    assert "GPU teaching hubs</a> (endorse, test)" in row
    _first, second = made["gpu"]
    assert 'with <a href="#c-curie">curie</a>: ' in row
    assert f"{SUPPORT}#{second.number}</a> CUDA and TensorFlow" in row
    lovelace = re.search(r'<tr id="c-lovelace">.*?</tr>', text, re.S)
    assert lovelace is not None and "(co-fund)" in lovelace.group(0)
    # The picture: three communities with ties, a need line and a consortium line.
    svg = re.search(r'<svg id="graph".*?</svg>', text, re.S)
    assert svg is not None
    assert svg.group(0).count("<circle") == 3
    assert "curie and hypatia: 1 shared need" in svg.group(0)
    assert "hypatia and lovelace: consortium gpu-teaching-hubs" in svg.group(0)
    assert 'stroke-dasharray="6 4"' in svg.group(0)


async def test_consortium_page_lists_members_and_initiatives(
    dashboard: Flywheel, fake: Any
) -> None:
    made = await community_network(dashboard)
    await sign_in(dashboard)
    text = await get(dashboard, "/consortia/gpu-teaching-hubs")
    assert "<h1>[Consortium] GPU teaching hubs</h1>" in text or "GPU teaching hubs</h1>" in text
    members = re.search(r'<table id="members".*?</table>', text, re.S)
    assert members is not None
    assert re.findall(r'#c-(\w+)">', members.group(0)) == ["hypatia", "lovelace"]
    assert "<td>endorse, test</td>" in members.group(0)
    initiatives = re.search(r'<table id="initiatives".*?</table>', text, re.S)
    assert initiatives is not None
    number = made["initiative"].number
    assert f"{REPO}#{number}</a> " in initiatives.group(0)
    assert "GPU pools that scale to zero" in initiatives.group(0)
    missing = await get(dashboard, "/consortia/nope", 404)
    assert 'href="/consortia/gpu-teaching-hubs"' in missing


async def test_after_a_change_the_next_view_shows_it(dashboard: Flywheel, fake: Any) -> None:
    """The view in hand gets the page as gathered; the new one is gathered beside it."""
    made = await community_network(dashboard)
    await sign_in(dashboard)
    before = await get(dashboard, "/communities")
    assert "(co-fund)" in before and "Gathered at" in before
    await say(dashboard, made["consortium"], "/roles connect", author="charles", association="NONE")
    stale = await get(dashboard, "/communities")
    assert "(co-fund)" in stale, "this view: the page as it was"
    await dashboard.app[pages.CACHE]["refresh"]
    fresh = await get(dashboard, "/communities")
    assert "GPU teaching hubs</a> (connect)" in fresh and "(co-fund)" not in fresh
