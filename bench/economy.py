"""What each workflow event costs on GitHub: calls, 304s, GraphQL requests, round trips, time.

Every scenario runs against the fake GitHub (tests/fakegithub.py) over real
HTTP, through the whole app (signed webhook → journal → worker → executor):

- cold: a freshly started Flywheel (no token, no board ids, no ETags);
- warm: the same process handling the same kind of event a second time.

The fake answers every request after 100 ms, so the end-to-end time divided
by 100 ms is about the number of sequential round trips. Rate-limited calls
exclude 304s (GitHub does not count them). A GraphQL request here costs one
point of the GraphQL limit (each asks for at most 100 nodes).

    python bench/economy.py [--latency 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config.loader import load_config
from app.service import STATE, create_app
from app.settings import Settings
from tests import payloads
from tests.fakegithub import FakeGitHub, Issue
from tests.forms_render import load_form, render_submission
from tests.test_workflow_onboarding import ANSWERS, STATUS

SECRET = "economy"
ORG, REPO = "example-org", "example-org/hubs"
ONBOARDING = {k: v for k, v in ANSWERS.items() if k != "Extras"}
OFFBOARDING = {
    "Community name": "Hypatia College",
    "Community slug": "hypatia",
    "Hub URL": "https://hypatia.example-hubs.org",
    "Community representatives": "@ada",
    "Decommission date": "2027-06-30",
}
INITIATIVE = {
    "Problem Statement": "Courses pay for GPUs all year and use them two weeks a term.",
    "Proposed Solution": "GPU node pools that scale to zero.",
    "Proposed Implementation": "Profile list entries per course.",
    "How will this fit in the ecosystem?": "Upstream the chart changes.",
}
CONSORTIUM = {"Consortium name": "GPU teaching hubs", "Narrative": "Teaching with GPUs."}

Event = tuple[str, dict[str, Any]]
READ_QUERY = "FlywheelProjectFields"  # the one GraphQL request that writes nothing


class Bench:
    def __init__(self, fake: FakeGitHub, fake_url: str, key: str, tmp: Path) -> None:
        self.fake, self.fake_url, self.key, self.tmp = fake, fake_url, key, tmp

    async def start(self) -> TestClient:
        settings = Settings(
            app_id="1",
            private_key=self.key,
            webhook_secret=SECRET,
            api_url=self.fake_url,
            db_path=self.tmp / f"{uuid.uuid4()}.db",
        )
        config = load_config(ROOT / "workflow-config")
        client = TestClient(TestServer(create_app(settings, config)))
        await client.start_server()
        return client

    async def deliver(self, client: TestClient, event: Event) -> float:
        name, payload = event
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": name,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": "sha256="
            + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
        }
        started = time.perf_counter()
        response = await client.post("/webhook", data=body, headers=headers)
        assert response.status == 202, await response.text()
        dispatcher = client.server.app[STATE].dispatcher
        assert dispatcher is not None
        await dispatcher.wait_idle(60)
        return time.perf_counter() - started


def issue_from_form(fake: FakeGitHub, form: str, answers: dict[str, Any], title: str) -> Issue:
    spec = load_form(form)
    body = render_submission(spec, answers)
    return fake.add_issue(REPO, spec.get("title", "") + title, body, labels=tuple(spec["labels"]))


def opened(fake: FakeGitHub, issue: Issue) -> Event:
    return ("issues", payloads.issues_event(fake, issue, "opened"))


def edited(fake: FakeGitHub, issue: Issue, old_body: str) -> Event:
    changes = {"body": {"from": old_body}}
    return ("issues", payloads.issues_event(fake, issue, "edited", changes=changes))


# Each scenario: setup events (not measured), then the one event measured.
Scenario = Callable[[FakeGitHub], tuple[list[Event], Callable[[], Event]]]


def onboarding_opened(fake: FakeGitHub) -> tuple[list[Event], Callable[[], Event]]:
    issue = issue_from_form(fake, "onboarding.yml", ONBOARDING, "Hypatia College")
    return [], lambda: opened(fake, issue)


def onboarding_edit_nothing(fake: FakeGitHub) -> tuple[list[Event], Callable[[], Event]]:
    issue = issue_from_form(fake, "onboarding.yml", ONBOARDING, "Hypatia College")

    def edit() -> Event:
        old = issue.body
        issue.body = old.replace(
            "### Context and goals\n\n_No response_", "### Context and goals\n\nNone"
        )
        return (
            "issues",
            payloads.issues_event(fake, issue, "edited", changes={"body": {"from": old}}),
        )

    return [opened(fake, issue)], edit


def onboarding_edit_fact(fake: FakeGitHub) -> tuple[list[Event], Callable[[], Event]]:
    partial = {k: v for k, v in ONBOARDING.items() if k != "Hub URL"}
    issue = issue_from_form(fake, "onboarding.yml", partial, "Hypatia College")

    def edit() -> Event:
        old = issue.body
        issue.body = render_submission(load_form("onboarding.yml"), ONBOARDING)
        issue.labels = list(fake.issue(REPO, issue.number).labels)
        return (
            "issues",
            payloads.issues_event(fake, issue, "edited", changes={"body": {"from": old}}),
        )

    return [opened(fake, issue)], edit


def onboarding_tick(fake: FakeGitHub) -> tuple[list[Event], Callable[[], Event]]:
    issue = issue_from_form(fake, "onboarding.yml", ONBOARDING, "Hypatia College")

    def tick() -> Event:
        (comment,) = fake.comments_on(REPO, issue.number)
        old = comment["body"]
        comment["body"] = old.replace("- [ ]", "- [x]", 1)
        payload = payloads.comment_event(
            fake, issue, comment["body"], author="flywheel[bot]", bot=True,
            comment_id=comment["id"], action="edited",
        )  # fmt: skip
        payload["comment"]["user"]["type"] = "Bot"
        payload["sender"] = payloads.user("maria")
        payload["changes"] = {"body": {"from": old}}
        return ("issue_comment", payload)

    return [opened(fake, issue)], tick


def onboarding_closed(fake: FakeGitHub) -> tuple[list[Event], Callable[[], Event]]:
    issue = issue_from_form(fake, "onboarding.yml", ONBOARDING, "Hypatia College")

    def close() -> Event:
        issue.state, issue.state_reason = "closed", "completed"
        return ("issues", payloads.issues_event(fake, issue, "closed"))

    return [opened(fake, issue)], close


def offboarding_opened(fake: FakeGitHub) -> tuple[list[Event], Callable[[], Event]]:
    onboarding = issue_from_form(fake, "onboarding.yml", ONBOARDING, "Hypatia College")
    issue = issue_from_form(fake, "offboarding.yml", OFFBOARDING, "Hypatia College")
    return [opened(fake, onboarding)], lambda: opened(fake, issue)


def initiative_opened(fake: FakeGitHub) -> tuple[list[Event], Callable[[], Event]]:
    issue = issue_from_form(fake, "initiative.yml", INITIATIVE, "GPU pools")
    return [], lambda: opened(fake, issue)


def consortium_opened(fake: FakeGitHub) -> tuple[list[Event], Callable[[], Event]]:
    issue = issue_from_form(fake, "consortium.yml", CONSORTIUM, "GPU teaching hubs")
    return [], lambda: opened(fake, issue)


def initiative_in_consortium(fake: FakeGitHub) -> tuple[list[Event], Callable[[], Event]]:
    consortium = issue_from_form(fake, "consortium.yml", CONSORTIUM, "GPU teaching hubs")
    answers = {**INITIATIVE, "Consortium": f"#{consortium.number}"}
    issue = issue_from_form(fake, "initiative.yml", answers, "GPU pools")
    return [opened(fake, consortium)], lambda: opened(fake, issue)


def said(fake: FakeGitHub, issue: Issue, body: str, author: str, association: str) -> Event:
    cid = fake.add_comment(REPO, issue.number, body, user=author)
    event = payloads.comment_event(
        fake, issue, body, author=author, association=association, comment_id=cid
    )
    return ("issue_comment", event)


def command_label(fake: FakeGitHub) -> tuple[list[Event], Callable[[], Event]]:
    fake.permissions[(REPO, "tomas")] = "triage"
    issue = fake.add_issue(REPO, "Our hub is out of disk space", "Since Monday.", user="ada")
    return [], lambda: said(fake, issue, "/label support", "tomas", "CONTRIBUTOR")


def command_join(fake: FakeGitHub) -> tuple[list[Event], Callable[[], Event]]:
    answers = {**ONBOARDING, "Community slug": "lovelace", "Community representatives": "@charles"}
    issue_from_form(fake, "onboarding.yml", answers, "Lovelace Institute")
    consortium = issue_from_form(fake, "consortium.yml", CONSORTIUM, "GPU teaching hubs")
    return [opened(fake, consortium)], lambda: said(
        fake, consortium, "/join test endorse", "charles", "NONE"
    )


SCENARIOS: list[tuple[str, Scenario]] = [
    ("onboarding opened", onboarding_opened),
    ("onboarding edit, no change", onboarding_edit_nothing),
    ("onboarding edit, fact added", onboarding_edit_fact),
    ("onboarding checklist tick", onboarding_tick),
    ("onboarding closed", onboarding_closed),
    ("offboarding opened (+link)", offboarding_opened),
    ("initiative opened", initiative_opened),
    ("consortium opened", consortium_opened),
    ("initiative naming consortium", initiative_in_consortium),
    ("/label support (triager)", command_label),
    ("/join test endorse", command_join),
]


@dataclass
class Row:
    rate_limited: int
    writes: int
    not_modified: int
    graphql: int
    seconds: float


async def measure(bench: Bench, client: TestClient, scenario: Scenario, latency: float) -> Row:
    fake = bench.fake
    setup, event = scenario(fake)
    for step in setup:
        await bench.deliver(client, step)
    measured = event()
    fake.reset_calls()
    fake.latency = latency
    seconds = await bench.deliver(client, measured)
    fake.latency = 0.0
    return row_of(fake, seconds)


def is_write(call: Any) -> bool:
    """A change on GitHub (minting an installation token is not one)."""
    if call.method == "GET" or call.operation == READ_QUERY:
        return False
    return not call.path.endswith("/access_tokens")


def row_of(fake: FakeGitHub, seconds: float) -> Row:
    calls = list(fake.calls)
    return Row(
        rate_limited=sum(1 for c in calls if c.rate_limited),
        writes=sum(1 for c in calls if is_write(c)),
        not_modified=sum(1 for c in calls if c.status == 304),
        graphql=sum(1 for c in calls if c.kind == "graphql"),
        seconds=seconds,
    )


def new_fake() -> FakeGitHub:
    fake = FakeGitHub()
    fake.add_installation(1, ORG)
    fake.add_repo(REPO)
    fields = {"Status": STATUS, "Community": "TEXT", "Start date": "DATE", "End date": "DATE"}
    fake.add_board(ORG, 1, "Partnerships", fields)
    fake.add_board(ORG, 2, "Roadmap", {"Status": STATUS, "Estimate": "NUMBER"})
    return fake


async def main_async(latency: float) -> None:
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    results: list[tuple[str, Row, Row]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, scenario in SCENARIOS:
            fake = new_fake()
            runner = web.AppRunner(fake.app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            bench = Bench(fake, f"http://127.0.0.1:{port}", key, Path(tmp))
            # Cold: setup through one process, the measured event through a fresh one.
            warmup = await bench.start()
            setup, event = scenario(fake)
            for step in setup:
                await bench.deliver(warmup, step)
            await warmup.close()
            client = await bench.start()
            fake.reset_calls()
            fake.latency = latency
            seconds = await bench.deliver(client, event())
            fake.latency = 0.0
            cold = row_of(fake, seconds)
            warm = await measure(bench, client, scenario, latency)
            await client.close()
            await runner.cleanup()
            results.append((name, cold, warm))

    print(f"\nGitHub cost per event; the fake answers after {latency * 1000:.0f} ms\n")
    header = (
        f"{'event':<30} | {'cache':<5} | {'calls':>5} | {'writes':>6} | {'304s':>4} | "
        f"{'GraphQL':>7} | {'time ms':>7} | {'round trips':>11}"
    )
    print(header)
    print("-" * len(header))
    for name, cold, warm in results:
        for label, row in (("cold", cold), ("warm", warm)):
            trips = row.seconds / latency if latency else 0
            print(
                f"{name if label == 'cold' else '':<30} | {label:<5} | {row.rate_limited:>5} | "
                f"{row.writes:>6} | {row.not_modified:>4} | {row.graphql:>7} | "
                f"{row.seconds * 1000:>7.0f} | {trips:>11.1f}"
            )
    print(
        "\ncalls: requests that count against the rate limit (304s do not); writes: POST, PATCH,"
        " DELETE and GraphQL mutations (token minting left out);\nround trips: time / latency"
        " (the sequential depth of the plan, token and override reads included)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()
    asyncio.run(main_async(args.latency))


if __name__ == "__main__":
    main()
