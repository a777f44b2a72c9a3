"""The soak: one stream of deliveries, run once without faults and once under them.

The real ``flywheel serve`` runs as a subprocess against the fake GitHub
(served by this process). A stream of deliveries goes to it the way GitHub
sends them: issue openings of every workflow and of community requests,
edits, labels, closes, slash commands, and the same delivery again. Under
faults, the fake answers a share of calls with 5xx, secondary rate limits
(``Retry-After``) and answers slower than the client's timeout (the write is
done, the answer is late), and the app is SIGKILLed mid-stream and started
again. Deliveries sent while it is down fail at "GitHub", and ``flywheel
redeliver`` asks for them again, as an operator's cron would.

The proof is the comparison: the fake's final state (issues, labels,
comments, board fields, reactions) must equal the fault-free run's.
Shared by ``tests/test_soak.py`` (short) and ``bench/soak.py`` (long).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests import payloads
from tests.echoes import Echoes
from tests.fakegithub import FakeGitHub, Issue
from tests.forms_render import load_form, render_submission
from tests.linking_eval import EVAL_FILE

ROOT = Path(__file__).resolve().parent.parent
ORG = "example-org"
HUBS = "example-org/hubs"
SOAK_SECRET = "soak-webhook-secret-7f3a"
STATUS = [
    "Shared need", "Refined", "Up Next", "In progress", "In Review/Blocked", "Done", "Won't do"
]  # fmt: skip
RELATED_HEADING = "### Related requests"
SHARED_NEED = "shared-need"
SETTLE_QUIET = 0.5  # about what settle waits after the last work: three quiet looks, 0.2 s apart
NEEDS_REPOS = ("example-org/support", "example-org/infrastructure", "example-org/partners")


def build_world(fake: FakeGitHub) -> None:
    """The organisation every run starts from: repositories, boards, people and their rights."""
    fake.add_installation(1, ORG)
    fake.add_repo(HUBS)
    fake.add_repo("example-org/support")
    fake.add_repo("example-org/infrastructure")
    fake.add_repo("example-org/partners", private=True)
    fake.add_board(
        ORG,
        1,
        "Partnerships",
        {
            "Status": STATUS,
            "Community": "TEXT",
            "Start date": "DATE",
            "End date": "DATE",
            "Estimate": "NUMBER",
        },
    )
    fake.add_board(ORG, 2, "Roadmap", {"Status": STATUS, "Estimate": "NUMBER"})
    for repo in fake.repos:
        fake.permissions[(repo, "maria")] = "admin"
    fake.org_members.add((ORG.lower(), "maria"))


# -- the stream ---------------------------------------------------------------------------


@dataclass
class Run:
    """What one run of the stream knows: its fake GitHub and the issues the stream opened."""

    fake: FakeGitHub
    issues: dict[str, Issue] = field(default_factory=dict)  # handle → issue
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # handle → form answers
    clock: int = 0

    def tick(self, issue: Issue) -> None:
        """GitHub's updated_at moves with every change; a minute a step keeps runs equal."""
        self.clock += 1
        minutes = self.clock
        issue.updated_at = f"2026-11-{2 + minutes // 1440:02d}T{minutes // 60 % 24:02d}:" + (
            f"{minutes % 60:02d}:00Z"
        )


@dataclass
class Step:
    kind: str
    event: str
    delivery_id: str
    make: Callable[[Run], dict[str, Any]]  # changes GitHub as the person did; the payload


@dataclass
class StreamPlan:
    steps: list[Step]
    duplicates: list[int]  # indexes of steps whose delivery is sent a second time


def _requests() -> list[dict[str, Any]]:
    import yaml

    data = yaml.safe_load(EVAL_FILE.read_text(encoding="utf-8"))
    items = [item for group in data["needs"].values() for item in group]
    return items + list(data.get("singles", []))


COMMUNITIES = [
    ("hypatia", "Hypatia College"),
    ("lovelace", "Lovelace Institute"),
    ("noether", "Noether University"),
    ("curie", "Curie Lab"),
    ("franklin", "Franklin Observatory"),
    ("meitner", "Meitner Climate Group"),
    ("germain", "Germain School of Data"),
    ("johnson", "Johnson Ocean Lab"),
]


def make_stream(count: int, seed: int = 7) -> StreamPlan:
    """A reproducible stream of ``count`` deliveries, realistic in mix and order."""
    rng = random.Random(seed)
    steps: list[Step] = []
    requests = _requests()
    handles: dict[str, str] = {}  # handle → kind (onboarding, request, initiative, consortium)
    onboarded: list[str] = []
    closed: set[str] = set()

    def add(kind: str, event: str, make: Callable[[Run], dict[str, Any]]) -> None:
        steps.append(Step(kind, event, f"soak-{seed}-{len(steps):05d}", make))

    def open_onboarding() -> None:
        slug, name = COMMUNITIES[len(onboarded) % len(COMMUNITIES)]
        slug = f"{slug}{len(onboarded) // len(COMMUNITIES) or ''}"
        handle = f"onboarding-{slug}"
        answers = {
            "Community name": name,
            "Community slug": slug,
            "Community representatives": "@ada",
            "Hub URL": f"https://{slug}.example-hubs.org",
            "Cloud provider": rng.choice(["GCP", "AWS", "Azure"]),
            "Authentication": "GitHub",
            "Target start date": f"2027-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            "Extras": rng.sample(["GPUs", "Dask"], rng.randint(0, 2)),
        }

        def make(run: Run) -> dict[str, Any]:
            body = render_submission(load_form("onboarding.yml"), answers)
            issue = run.fake.add_issue(
                HUBS, f"[Onboarding] {name}", body, labels=("type: onboard",), user="ada"
            )
            run.issues[handle], run.answers[handle] = issue, dict(answers)
            run.tick(issue)
            return payloads.issues_event(run.fake, issue, "opened")

        handles[handle] = "onboarding"
        onboarded.append(handle)
        add("open onboarding", "issues", make)

    def open_offboarding() -> None:
        source = rng.choice(onboarded)
        handle = source.replace("onboarding", "offboarding")
        if handle in handles:
            return
        slug = source.removeprefix("onboarding-")

        def make(run: Run) -> dict[str, Any]:
            onboarding = run.answers[source]
            answers = {
                "Community name": onboarding["Community name"],
                "Community slug": slug,
                "Hub URL": onboarding["Hub URL"],
                "Community representatives": "@ada",
                "Decommission date": "2027-12-31",
                "Dedicated cluster": "No",
                "Replicate the hub elsewhere": "Yes, we want the configuration and images",
            }
            body = render_submission(load_form("offboarding.yml"), answers)
            title = f"[Offboarding] {onboarding['Community name']}"
            issue = run.fake.add_issue(HUBS, title, body, labels=("type: offboard",), user="ada")
            run.issues[handle], run.answers[handle] = issue, answers
            run.tick(issue)
            return payloads.issues_event(run.fake, issue, "opened")

        handles[handle] = "offboarding"
        add("open offboarding", "issues", make)

    def open_request() -> None:
        item = requests[len([h for h, k in handles.items() if k == "request"]) % len(requests)]
        handle = f"request-{item['id']}-{len(steps)}"

        def make(run: Run) -> dict[str, Any]:
            labels = (f"community: {item['community']}", *item.get("labels", ()))
            repo = item["repo"] if item["repo"] in run.fake.repos else NEEDS_REPOS[0]
            issue = run.fake.add_issue(repo, item["title"], item["body"], labels=labels)
            run.issues[handle] = issue
            run.tick(issue)
            return payloads.issues_event(run.fake, issue, "opened")

        handles[handle] = "request"
        add("open community request", "issues", make)

    def open_form(form: str, kind: str, answers: dict[str, Any], title: str) -> None:
        handle = f"{kind}-{len(steps)}"

        def make(run: Run) -> dict[str, Any]:
            spec = load_form(form)
            body = render_submission(spec, answers)
            issue = run.fake.add_issue(
                HUBS, spec.get("title", "") + title, body, labels=tuple(spec["labels"])
            )
            run.issues[handle], run.answers[handle] = issue, dict(answers)
            run.tick(issue)
            return payloads.issues_event(run.fake, issue, "opened")

        handles[handle] = kind
        add(f"open {kind}", "issues", make)

    def edit() -> None:
        handle = rng.choice([h for h, k in handles.items() if k in {"onboarding", "request"}])
        new_date = f"2027-1{rng.randint(0, 2)}-0{rng.randint(1, 9)}"
        sentence = rng.choice(
            [
                "Update: this is now urgent for the spring term.",
                "We also need this for a summer school in July.",
                "Our IT department agreed to help with the setup.",
            ]
        )

        def make(run: Run) -> dict[str, Any]:
            issue = run.issues[handle]
            old = issue.body
            if handle in run.answers:
                run.answers[handle]["Target start date"] = new_date
                issue.body = render_submission(load_form("onboarding.yml"), run.answers[handle])
            else:
                issue.body = issue.body.rstrip() + "\n\n" + sentence + "\n"
            run.tick(issue)
            changes = {"body": {"from": old}}
            return payloads.issues_event(run.fake, issue, "edited", changes=changes, sender="ada")

        add("edit", "issues", make)

    def label() -> None:
        handle = rng.choice(list(handles))
        name = rng.choice(["support", "priority: high", "event"])

        def make(run: Run) -> dict[str, Any]:
            issue = run.issues[handle]
            if name.lower() not in {n.lower() for n in issue.labels}:
                if name.lower() not in run.fake.repos[issue.repo]["labels"]:
                    run.fake.add_label(issue.repo, name)
                issue.labels.append(name)
            run.tick(issue)
            return payloads.issues_event(run.fake, issue, "labeled", label=name, sender="maria")

        add("label by hand", "issues", make)

    def command() -> None:
        handle = rng.choice(list(handles))
        kind = handles[handle]
        choices = ["/label priority: high", "/status In progress", "/assign @maria", "/unassign"]
        if kind == "consortium" and onboarded:
            slug = rng.choice(onboarded).removeprefix("onboarding-")
            choices = [f"/join test endorse for {slug}", f"/roles connect for {slug}"]
        elif kind == "request":
            others = [h for h, k in handles.items() if k == "request" and h != handle]
            if others:
                choices.append(f"/link {rng.choice(others)}")
        text = rng.choice(choices)

        def make(run: Run) -> dict[str, Any]:
            issue = run.issues[handle]
            body = text
            if body.startswith("/link "):
                other = run.issues[body.split()[1]]
                body = f"/link {other.repo}#{other.number}"
            cid = run.fake.add_comment(issue.repo, issue.number, body, user="maria")
            return payloads.comment_event(run.fake, issue, body, author="maria", comment_id=cid)

        add(f"command {text.split()[0]}", "issue_comment", make)

    def close_or_reopen() -> None:
        handle = rng.choice(list(handles))
        reopen = handle in closed
        (closed.discard if reopen else closed.add)(handle)
        reason = rng.choice(["completed", "not_planned"])

        def make(run: Run) -> dict[str, Any]:
            issue = run.issues[handle]
            issue.state = "open" if reopen else "closed"
            issue.state_reason = "reopened" if reopen else reason
            run.tick(issue)
            action = "reopened" if reopen else "closed"
            return payloads.issues_event(run.fake, issue, action, sender="maria")

        add("reopen" if reopen else "close", "issues", make)

    initiative = {
        "Problem Statement": "Courses need GPUs for two weeks a term, and pay for them all year.",
        "Proposed Solution": "GPU node pools that scale to zero between courses.",
        "Proposed Implementation": "A profile list entry per course, node pools with min size 0.",
        "How will this fit in the ecosystem?": "Upstream the chart changes to z2jh.",
        "Size": "M (<= 300 h)",
    }
    consortium = {
        "Consortium name": "GPU teaching hubs",
        "Narrative": "Teaching with GPUs without paying for idle machines.",
    }
    open_onboarding()
    open_onboarding()
    open_request()
    while len(steps) < count:
        roll = rng.random()
        if roll < 0.12:
            open_onboarding()
        elif roll < 0.30:
            open_request()
        elif roll < 0.34:
            open_form("initiative.yml", "initiative", initiative, f"GPU pools {len(steps)}")
        elif roll < 0.37:
            open_form("consortium.yml", "consortium", consortium, f"GPU teaching {len(steps)}")
        elif roll < 0.40:
            open_offboarding()
        elif roll < 0.55:
            edit()
        elif roll < 0.65:
            label()
        elif roll < 0.90:
            command()
        else:
            close_or_reopen()
    steps = steps[:count]
    duplicates = sorted(rng.sample(range(count), max(1, count // 12)))
    return StreamPlan(steps, duplicates)


# -- the app under test -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SOAK_SECRET.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class AppProcess:
    """``flywheel serve`` in a subprocess, its output kept in a file for the secrets check."""

    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0

    async def start(self) -> None:
        self.port = free_port()
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        for _ in range(400):
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                await asyncio.sleep(0.025)
        raise RuntimeError(f"flywheel did not start:\n{self.log_path.read_text()[-3000:]}")

    @property
    def up(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(self.proc.wait, 30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class SoakReport:
    deliveries: int = 0  # distinct deliveries in the stream
    sent: int = 0  # HTTP posts, duplicates and redeliveries included
    echoes: int = 0  # deliveries GitHub sent about the App's own writes
    duplicates: int = 0
    refused_while_down: int = 0
    redelivered: int = 0
    restarts: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    retries: int = 0  # extra attempts the journal recorded
    failed: int = 0  # deliveries the journal gave up on
    github_calls: int = 0
    wall_seconds: float = 0.0
    applied_seconds: float = 0.0  # from the first delivery sent until all was applied
    mismatches: list[str] = field(default_factory=list)
    link_drift: list[str] = field(default_factory=list)  # issues whose related list differs
    log_text: str = ""

    clean_calls: int = 0  # GitHub calls of the fault-free run

    @property
    def calls_per_delivery(self) -> float:
        return self.github_calls / self.deliveries if self.deliveries else 0.0

    @property
    def clean_calls_per_delivery(self) -> float:
        return self.clean_calls / self.deliveries if self.deliveries else 0.0


def app_env(
    fake_url: str, private_key: str, workdir: Path, database: str | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "FLYWHEEL_"))}
    env.update(
        {
            "GITHUB_APP_ID": "12345",
            "GITHUB_PRIVATE_KEY": private_key,
            "GITHUB_WEBHOOK_SECRET": SOAK_SECRET,
            "GITHUB_API_URL": fake_url,
            "FLYWHEEL_DB": database or str(workdir / "flywheel.db"),
            "FLYWHEEL_LEASE_SECONDS": "30",  # a killed replica's claims pass on by its session
            "FLYWHEEL_CONFIG": str(ROOT / "workflow-config"),
            "FLYWHEEL_GITHUB_TIMEOUT": "1",
            "FLYWHEEL_RETRY_BASE": "0.2",
            "FLYWHEEL_RETRY_MAX": "10",  # the faults are dense: waits of minutes only slow the run
            "FLYWHEEL_WORKERS": "8",
        }
    )
    return env


async def run_stream(
    plan: StreamPlan,
    private_key: str,
    workdir: Path,
    *,
    fault_rate: float = 0.0,
    kills: tuple[int, ...] = (),
    down_for: int = 3,
    settle_timeout: float | None = None,
    database: str | None = None,
    replicas: int = 1,
    latency: float = 0.0,
    workers: int = 8,
) -> tuple[FakeGitHub, SoakReport]:
    """Send the stream to a fresh app and fake; return the fake once everything settled.

    The stream is sent faster than a faulty GitHub lets the app apply it, so
    the backlog at the end grows with the stream: the wait for it does too.
    With ``replicas`` (on a PostgreSQL ``database``), deliveries are spread over
    them as a load balancer would, and a kill takes down one replica while the
    others go on receiving (nothing is refused; its claims pass on).
    """
    settle_timeout = settle_timeout or 120.0 + 0.5 * len(plan.steps)
    workdir.mkdir(parents=True, exist_ok=True)
    fake = FakeGitHub()
    fake.rate_limit = 1_000_000  # hours of an organisation's traffic in minutes
    fake.latency = latency  # seconds each call takes (bench/replicas.py: 50 ms)
    build_world(fake)
    runner = web.AppRunner(fake.app, access_log=None)
    await runner.setup()
    fake_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", fake_port).start()
    fake_url = f"http://127.0.0.1:{fake_port}"
    env = app_env(fake_url, private_key, workdir, database) | {"FLYWHEEL_WORKERS": str(workers)}
    apps = [AppProcess(env, workdir / f"flywheel-{i}.log") for i in range(replicas)]
    app = apps[0]  # the one killed and started again
    report = SoakReport(deliveries=len(plan.steps))
    run = Run(fake)
    bodies: dict[str, tuple[str, bytes]] = {}
    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=10)  # GitHub gives a delivery 10 seconds
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def send(delivery_id: str, *, redelivery: bool = False) -> int:
            event, body = bodies[delivery_id]
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "GitHub-Hookshot/soak",
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": delivery_id,
                "X-Hub-Signature-256": sign(body),
            }
            report.sent += 1
            live = [a for a in apps if a.up] or [app]
            target = live[report.sent % len(live)]  # round robin, as a load balancer
            try:
                async with session.post(target.url + "/webhook", data=body, headers=headers) as r:
                    status = r.status
            except (aiohttp.ClientError, TimeoutError, OSError):
                status = 0
            if not redelivery:
                action = json.loads(body).get("action")
                fake.record_delivery(delivery_id, event, action, status)
            return status

        async def resend(guid: str) -> int:
            report.redelivered += 1
            return await send(guid, redelivery=True)

        async def echo(event: str, payload: dict[str, Any]) -> None:
            """GitHub's delivery about one of the App's own writes (lost while it is down,
            like any other, and asked for again by ``flywheel redeliver``)."""
            report.echoes += 1
            echo_id = f"echo-{report.echoes}"
            bodies[echo_id] = (event, json.dumps(payload).encode())
            await send(echo_id)

        echoes = Echoes(fake, echo)

        fake.resend = resend
        await asyncio.gather(*(a.start() for a in apps))
        fake.random_fault_rate = fault_rate
        fake.random_fault_mix = {"status": 0.67, "secondary": 0.2, "slow": 0.13}
        fake.slow_delay = 1.5  # past the app's 1 s client timeout
        down_until = -1
        duplicates = set(plan.duplicates)
        sending = time.monotonic()
        for n, step in enumerate(plan.steps):
            if n in kills:
                app.kill()
                report.restarts += 1
                down_until = n + down_for
            if n == down_until:
                await app.start()
                if replicas == 1:  # alone, it refused deliveries while down
                    await redeliver_cli(app.env)
            payload = step.make(run)
            bodies[step.delivery_id] = (step.event, json.dumps(payload).encode())
            status = await send(step.delivery_id)
            if status == 0:
                report.refused_while_down += 1
            if n in duplicates and status != 0:
                report.duplicates += 1
                await send(step.delivery_id)
        if down_until >= len(plan.steps):
            await app.start()
            await redeliver_cli(app.env)
        await settle(app, session, fake, settle_timeout, echoes)
        report.applied_seconds = time.monotonic() - sending - SETTLE_QUIET
        fake.random_fault_rate = 0.0
        await asyncio.gather(*(a.stop() for a in apps))
    await runner.cleanup()
    report.wall_seconds = time.monotonic() - started
    report.faults = dict(fake.faults_injected)
    report.github_calls = len(fake.calls)
    report.retries, report.failed = journal_figures(database or workdir / "flywheel.db")
    report.log_text = "".join(a.log_path.read_text(errors="replace") for a in apps)
    return fake, report


async def redeliver_cli(env: dict[str, str], tries: int = 10) -> None:
    """What an operator's cron (or the periodic pass) does after an outage, until it succeeds.

    GitHub's faults reach this command too: a pass that could not ask for
    every delivery exits 1 and the next pass asks again.
    """
    out = b""
    for _ in range(tries):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", "redeliver", "--since", "1h",
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        if proc.returncode == 0:
            return
    raise RuntimeError(f"flywheel redeliver kept failing:\n{out.decode()}")


async def settle(
    app: AppProcess,
    session: aiohttp.ClientSession,
    fake: FakeGitHub,
    timeout: float,
    echoes: Echoes | None = None,
) -> None:
    """Until the journal holds nothing unfinished and GitHub's resends and echoes are all
    answered."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:  # quiet three looks in a row: SETTLE_QUIET seconds
        async with session.get(app.url + "/healthz") as r:
            health = await r.json()
        busy = health["journal"]["depth"] or fake.resending or (echoes and echoes.pending)
        quiet = 0 if busy else quiet + 1
        if quiet >= 3:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"the app did not settle in {timeout:.0f} s: {health}")


def journal_figures(db: Path | str) -> tuple[int, int]:
    """Extra attempts, and deliveries given up on, as the journal (either engine) says."""
    retries_sql = "SELECT COALESCE(SUM(attempts - 1), 0) FROM deliveries"
    failed_sql = "SELECT COUNT(*) FROM deliveries WHERE state='failed'"
    if isinstance(db, str):
        import psycopg

        with psycopg.connect(db) as pg:
            retries, failed = (pg.execute(q).fetchone() for q in (retries_sql, failed_sql))
    else:
        with sqlite3.connect(db) as conn:
            retries, failed = (conn.execute(q).fetchone() for q in (retries_sql, failed_sql))
    return int(retries[0]), int(failed[0])  # type: ignore[index]


def differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Readable differences between two snapshots: what is missing, extra or changed."""
    found: list[str] = []
    for part in sorted(set(expected) | set(actual)):
        want, got = expected.get(part), actual.get(part)
        if want == got:
            continue
        if isinstance(want, dict) and isinstance(got, dict):
            for key in sorted(set(want) | set(got)):
                before, after = want.get(key), got.get(key)
                if before == after:
                    continue
                if isinstance(before, list) and isinstance(after, list):  # a board's items
                    found += [f"{part}[{key}]: missing {x!r}" for x in before if x not in after]
                    found += [f"{part}[{key}]: extra {x!r}" for x in after if x not in before]
                else:
                    found.append(f"{part}[{key}]: expected {before!r}, got {after!r}")
        elif isinstance(want, list) and isinstance(got, list):
            missing = [x for x in want if x not in got]
            extra = [x for x in got if x not in want]
            if len(want) != len(got) and not missing and not extra:
                extra = ["(duplicates)"]
            found += [f"{part}: missing {m!r}" for m in missing]
            found += [f"{part}: extra {e!r}" for e in extra]
        else:
            found.append(f"{part}: expected {want!r}, got {got!r}")
    return found


async def soak(
    count: int,
    private_key: str,
    workdir: Path,
    *,
    seed: int = 7,
    fault_rate: float = 0.3,
    database: str | None = None,
    replicas: int = 1,
) -> SoakReport:
    """The whole proof: a fault-free run (one process on SQLite), a run under faults and
    two kills (of the one process, or of one of ``replicas`` on PostgreSQL), compared."""
    plan = make_stream(count, seed)
    clean, clean_report = await run_stream(plan, private_key, workdir / "clean")
    kills = (count // 3, 2 * count // 3)
    faulty, report = await run_stream(
        plan,
        private_key,
        workdir / "faulty",
        fault_rate=fault_rate,
        kills=kills,
        database=database,
        replicas=replicas,
    )
    expected = _set_apart_linking(clean.snapshot(), clean)
    actual = _set_apart_linking(faulty.snapshot(), faulty)
    expected_links, actual_links = expected.pop("linking"), actual.pop("linking")
    report.clean_calls = clean_report.github_calls
    report.mismatches = differences(expected, actual)
    report.mismatches += [f"call the fake does not know: {u}" for u in faulty.unhandled]
    # Where linking wrote, it wrote once: one "Related requests" comment an issue at most.
    for key, bodies in actual_links.items():
        if bodies.count(RELATED_HEADING) > 1:
            report.mismatches.append(f"two related-requests comments on {key}")
    report.link_drift = [k for k in expected_links if expected_links[k] != actual_links.get(k)]
    return report


def _set_apart_linking(snapshot: dict[str, Any], fake: FakeGitHub) -> dict[str, Any]:
    """Move what relatedness decided into ``snapshot["linking"]``, compared apart.

    Relatedness is scored against the whole index (how rare each shared word
    is, then), so a pair right at the threshold can fall on either side of it
    depending on which requests were indexed when it was last looked at; the
    shared-need label and board item follow from it. Everything else must be
    equal to the fault-free run's.
    """
    linking: dict[str, str] = {}
    kept = []
    for repo, number, raw in snapshot["comments"]:
        # Replies and membership history name the command's comment by id, and
        # ids differ between runs (the fake numbers every comment in the order
        # it is written, ours included).
        body = re.sub(r"flywheel:reply\.\d+", "flywheel:reply.N", raw)
        body = re.sub(r'"comment":\d+', '"comment":N', body)
        if body.startswith(RELATED_HEADING):
            key = f"{repo}#{number}"
            linking[key] = linking.get(key, "") + body
        else:
            kept.append((repo, number, body))
    snapshot["comments"] = kept
    for key, (state, labels, *rest) in list(snapshot["issues"].items()):
        if SHARED_NEED in labels:
            linking[key] = linking.get(key, "") + " +shared-need"
        snapshot["issues"][key] = (state, [x for x in labels if x != SHARED_NEED], *rest)
    snapshot["labels"] = {
        repo: [x for x in names if x != SHARED_NEED] for repo, names in snapshot["labels"].items()
    }
    roadmap = fake.boards[(ORG, 2)]
    shared = next(o["id"] for f in roadmap.fields if f["name"] == "Status" for o in f["options"]
                  if o["name"] == "Shared need")  # fmt: skip
    items = snapshot["boards"][f"{ORG}/2"]
    snapshot["boards"][f"{ORG}/2"] = [i for i in items if shared not in i[1]]
    snapshot["linking"] = linking
    return snapshot
