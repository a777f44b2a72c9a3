"""What each workflow event costs on GitHub: calls, 304s, GraphQL requests, round trips, time.

Every scenario runs against the fake GitHub (tests/fakegithub.py) over real
HTTP, through the whole app (signed webhook → journal → worker → executor):

- cold: a freshly started Flywheel (no token, no board ids, no ETags);
- warm: the same process handling the same kind of event a second time.

The fake answers every request after 100 ms, so the end-to-end time divided
by 100 ms is about the number of sequential round trips. Rate-limited calls
exclude 304s (GitHub does not count them). A GraphQL request here costs one
point of the GraphQL limit (each asks for at most 100 nodes).

    python bench/economy.py [--latency 0.1] [--postgresql]

With ``--postgresql`` every Flywheel keeps its state on a fresh database of a
throwaway PostgreSQL cluster (tests/postgres.py) instead of a SQLite file: the
calls must be the same.
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
from tests import payloads, postgres
from tests.echoes import Echoes
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


def sqlite_store(tmp: Path) -> dict[str, Any]:
    return {"db_path": tmp / f"{uuid.uuid4()}.db"}


STORE: Callable[[Path], dict[str, Any]] = sqlite_store  # --postgresql: a fresh database each


class Bench:
    """One Flywheel process against the fake; with ``echoes``, GitHub's deliveries about the
    App's own writes come back to it, as they do on GitHub."""

    def __init__(
        self, fake: FakeGitHub, fake_url: str, key: str, tmp: Path, *, echoes: bool = True
    ) -> None:
        self.fake, self.fake_url, self.key, self.tmp = fake, fake_url, key, tmp
        self.client: TestClient | None = None
        self.echoes = Echoes(fake, self._echo) if echoes else None

    async def _echo(self, name: str, payload: dict[str, Any]) -> None:
        if self.client is not None:
            await self.post(self.client, (name, payload))

    async def start(self) -> TestClient:
        settings = Settings(
            app_id="1",
            private_key=self.key,
            webhook_secret=SECRET,
            api_url=self.fake_url,
            **STORE(self.tmp),
        )
        config = load_config(ROOT / "workflow-config")
        client = TestClient(TestServer(create_app(settings, config)))
        await client.start_server()
        self.client = client
        return client

    async def post(self, client: TestClient, event: Event) -> None:
        name, payload = event
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": name,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": "sha256="
            + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
        }
        response = await client.post("/webhook", data=body, headers=headers)
        assert response.status == 202, await response.text()

    async def deliver(self, client: TestClient, event: Event) -> float:
        """Seconds until the App and GitHub are both quiet again (echoes handled)."""
        started = time.perf_counter()
        await self.post(client, event)
        dispatcher = client.server.app[STATE].dispatcher
        assert dispatcher is not None
        if self.echoes is None:
            await dispatcher.wait_idle(60)
        else:
            await self.echoes.quiet(lambda: dispatcher.wait_idle(60))
        return time.perf_counter() - started


SECOND_RUN: set[int] = set()  # fakes whose scenarios now build the warm run's issues


def issue_from_form(fake: FakeGitHub, form: str, answers: dict[str, Any], title: str) -> Issue:
    """The warm run's issues are another community's (Noether University): the same kind
    of event a second time, not a second onboarding of one community."""
    spec = load_form(form)
    body = render_submission(spec, answers)
    if id(fake) in SECOND_RUN:
        body = body.replace("Hypatia College", "Noether University").replace("hypatia", "noether")
        title = title.replace("Hypatia College", "Noether University")
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
    """The community's onboarding was handled long before its offboarding was opened."""
    onboarding = issue_from_form(fake, "onboarding.yml", ONBOARDING, "Hypatia College")

    def offboard() -> Event:  # made when the event is asked for, after the onboarding ran
        issue = issue_from_form(fake, "offboarding.yml", OFFBOARDING, "Hypatia College")
        return opened(fake, issue)

    return [opened(fake, onboarding)], offboard


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
    secondary_points: int
    seconds: float
    echoes: int = 0  # deliveries GitHub sent about the App's own writes
    echo_cost: int | None = None  # calls with the echoes minus calls without them


async def measure(bench: Bench, client: TestClient, scenario: Scenario, latency: float) -> Row:
    """The warm figure: the scenario's event a second time in the same process."""
    fake = bench.fake
    SECOND_RUN.add(id(fake))
    setup, event = scenario(fake)
    for step in setup:
        await bench.deliver(client, step)
    measured = event()
    SECOND_RUN.discard(id(fake))
    return await measured_delivery(bench, client, measured, latency)


async def measured_delivery(bench: Bench, client: TestClient, event: Event, latency: float) -> Row:
    fake = bench.fake
    echoes_before = sum(bench.echoes.sent.values()) if bench.echoes else 0
    fake.reset_calls()
    fake.latency = latency
    seconds = await bench.deliver(client, event)
    fake.latency = 0.0
    row = row_of(fake, seconds)
    row.echoes = (sum(bench.echoes.sent.values()) if bench.echoes else 0) - echoes_before
    return row


def is_write(call: Any) -> bool:
    """A change on GitHub (minting an installation token is not one)."""
    if call.method == "GET" or call.operation == READ_QUERY:
        return False
    return not call.path.endswith("/access_tokens")


def secondary_points(call: Any) -> int:
    """GitHub's secondary-limit points: 5 for a REST write or a GraphQL mutation, else 1
    (900 a minute for REST, 2,000 for GraphQL)."""
    return 5 if is_write(call) else 1


def row_of(fake: FakeGitHub, seconds: float) -> Row:
    calls = list(fake.calls)
    return Row(
        rate_limited=sum(1 for c in calls if c.rate_limited),
        writes=sum(1 for c in calls if is_write(c)),
        not_modified=sum(1 for c in calls if c.status == 304),
        graphql=sum(1 for c in calls if c.kind == "graphql"),
        secondary_points=sum(secondary_points(c) for c in calls),
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


def new_key() -> str:
    return (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


async def run_scenario(
    scenario: Scenario, key: str, tmp: Path, latency: float, *, echoes: bool
) -> tuple[Row, Row]:
    """(cold, warm): cold is a fresh process (setup through another one before it)."""
    fake = new_fake()
    runner = web.AppRunner(fake.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    bench = Bench(fake, f"http://127.0.0.1:{port}", key, tmp, echoes=echoes)
    warmup = await bench.start()
    setup, event = scenario(fake)
    for step in setup:
        await bench.deliver(warmup, step)
    await warmup.close()
    client = await bench.start()
    cold = await measured_delivery(bench, client, event(), latency)
    warm = await measure(bench, client, scenario, latency)
    await client.close()
    await runner.cleanup()
    return cold, warm


async def main_async(latency: float, only: str = "") -> None:
    key = new_key()
    results: list[tuple[str, Row, Row]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, scenario in SCENARIOS:
            if only and only not in name:
                continue
            cold, warm = await run_scenario(scenario, key, Path(tmp), latency, echoes=True)
            quiet_cold, quiet_warm = await run_scenario(
                scenario, key, Path(tmp), latency, echoes=False
            )
            cold.echo_cost = cold.rate_limited - quiet_cold.rate_limited
            warm.echo_cost = warm.rate_limited - quiet_warm.rate_limited
            results.append((name, cold, warm))

    print(
        f"\nGitHub cost per event, GitHub's echoes of the App's own writes included;"
        f" the fake answers after {latency * 1000:.0f} ms\n"
    )
    header = (
        f"{'event':<30} | {'cache':<5} | {'calls':>5} | {'writes':>6} | {'304s':>4} | "
        f"{'GraphQL':>7} | {'sec. pts':>8} | {'echoes':>6} | {'echo cost':>9} | "
        f"{'time ms':>7} | {'round trips':>11}"
    )
    print(header)
    print("-" * len(header))
    for name, cold, warm in results:
        for label, row in (("cold", cold), ("warm", warm)):
            trips = row.seconds / latency if latency else 0
            print(
                f"{name if label == 'cold' else '':<30} | {label:<5} | {row.rate_limited:>5} | "
                f"{row.writes:>6} | {row.not_modified:>4} | {row.graphql:>7} | "
                f"{row.secondary_points:>8} | {row.echoes:>6} | {row.echo_cost:>9} | "
                f"{row.seconds * 1000:>7.0f} | {trips:>11.1f}"
            )
    print(
        "\ncalls: requests that count against the rate limit (304s do not); writes: POST, PATCH,"
        " DELETE and GraphQL mutations (token minting left out);\nsec. pts: GitHub's"
        " secondary-limit points (5 a write or mutation, 1 a read); echoes: deliveries GitHub"
        " sent back about the App's writes;\necho cost: calls with the echoes minus calls of the"
        " same run without them; round trips: time until the App and GitHub are quiet / latency."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--only", default="", help="scenarios whose name contains this")
    parser.add_argument("--postgresql", action="store_true", help="state on PostgreSQL")
    args = parser.parse_args()
    if not args.postgresql:
        asyncio.run(main_async(args.latency, args.only))
        return
    global STORE
    with postgres.cluster(durable=True) as cluster:
        STORE = lambda tmp: {"database_url": postgres.fresh_database(cluster)}  # noqa: E731
        asyncio.run(main_async(args.latency, args.only))


if __name__ == "__main__":
    main()
