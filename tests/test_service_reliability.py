"""Retries, permanent failures, ordering, restarts and token reuse, end to end over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from gidgethub import sansio
from gidgethub.routing import Router

from app.config.labels import LabelSpec
from app.plan.actions import EnsureLabels, IssueRef, UpsertComment
from app.plan.context import HandlerContext
from app.settings import Settings, graphql_url_for
from tests import payloads
from tests.conftest import REPO, Flywheel

router = Router()


@router.register("issues", action="opened")
@router.register("issues", action="edited")
async def mirror_title(event: sansio.Event, ctx: HandlerContext) -> None:
    ref = ctx.issue_ref()
    assert ref is not None
    title = event.data["issue"]["title"]
    ctx.add(UpsertComment(ref, "mirror", f"Title seen: {title}"))
    ctx.add(EnsureLabels(ref, add=(LabelSpec("seen", "0e8a16", "Flywheel saw this"),)))


hub_router = Router()


@hub_router.register("issues", action="opened")
async def tell_the_hub_issue(event: sansio.Event, ctx: HandlerContext) -> None:
    """Like linking: a delivery about one issue writes on another (issue #1, the hub)."""
    ref = ctx.issue_ref()
    assert ref is not None
    hub = IssueRef(ref.repo, 1)
    # Like linking, it reads the hub's comment while planning (and so before it writes).
    heard = await ctx.comments.marker_data(ctx.gh, hub, "hub") or {}
    spokes = sorted({*heard.get("spokes", []), ref.number})
    ctx.add(UpsertComment(hub, "hub", f"Last heard of #{ref.number}", data={"spokes": spokes}))


async def test_deliveries_about_different_issues_never_double_a_comment_on_a_third(
    make_flywheel: Any, fake_url: str, config: Any, fake: Any
) -> None:
    flywheel = await make_flywheel(fake_url, config, router=hub_router)
    fake.add_issue(REPO, "The hub issue", "body")
    fake.latency = 0.05  # every delivery lists the hub's comments before any creates one
    issues = [fake.add_issue(REPO, f"Spoke {n}", "body") for n in range(6)]
    for issue in issues:
        await flywheel.send("issues", payloads.issues_event(fake, issue, "opened"))
    await flywheel.idle()
    (comment,) = fake.comments_on(REPO, 1)
    assert comment["body"].startswith("Last heard of #")
    creations = [c for c in fake.calls if c.method == "POST" and c.path.endswith("/1/comments")]
    assert len(creations) == 1


async def test_a_write_whose_answer_never_came_still_counts_as_written(
    make_flywheel: Any, fake_url: str, config: Any, fake: Any
) -> None:
    """The hub comment is created, but its answer comes after the client gave up.

    The other delivery read the hub's comments before that write: it must not
    trust its list and create a second comment.
    """
    flywheel = await make_flywheel(
        fake_url,
        config,
        router=hub_router,
        github_timeout_seconds=0.3,
        retry_base_seconds=0.05,
        max_attempts=5,
    )
    fake.add_issue(REPO, "The hub issue", "body")
    fake.latency = 0.05  # both deliveries list the hub's comments before either writes
    fake.slow_next(1, delay=1.0, match="POST /repos/example-org/hubs/issues/1/comments")
    for n in range(2):
        issue = fake.add_issue(REPO, f"Spoke {n}", "body")
        await flywheel.send("issues", payloads.issues_event(fake, issue, "opened"))
    for _ in range(100):  # idle() counts a delivery waiting to retry as idle: wait for done
        counts = await flywheel.state.journal.counts()
        if counts.get("done") == 2:
            break
        await asyncio.sleep(0.05)
    assert counts["done"] == 2, counts
    assert fake.faults_injected["slow"] == 1
    (comment,) = fake.comments_on(REPO, 1)
    assert comment["body"].startswith("Last heard of #")
    assert '{"spokes":[2,3]}' in comment["body"]


async def build(make_flywheel: Any, fake_url: str, config: Any, **kw: Any) -> Flywheel:
    return await make_flywheel(fake_url, config, router=router, max_attempts=4, **kw)


async def test_5xx_is_retried_then_succeeds(
    make_flywheel: Any, fake_url: str, config: Any, fake: Any
) -> None:
    flywheel = await build(make_flywheel, fake_url, config)
    flywheel.state.dispatcher._retry_base = 0.05  # keep the test fast; the policy is the same
    issue = fake.add_issue(REPO, "GPU images for Hypatia", "body")
    fake.fail_next(2, status=502, match="FlywheelWrites")  # its label and comment, batched
    response = await flywheel.send(
        "issues", payloads.issues_event(fake, issue, "opened"), delivery_id="r-1"
    )
    assert response.status == 202
    for _ in range(100):
        row = await flywheel.state.journal.get("r-1")
        if row["state"] == "done":
            break
        await asyncio.sleep(0.05)
    assert row["state"] == "done"
    assert len(fake.comments_on(REPO, issue.number)) == 1
    assert fake.issue(REPO, issue.number).labels == ["seen"]
    # A batch with a new comment is not repeated inline (the 502 may have come after the
    # write): the delivery's retry looks for the comment first.
    batches = [c.status for c in fake.calls if c.operation == "FlywheelWrites"]
    assert batches[:3] == [502, 502, 200]
    assert fake.comments_created() == 1


async def test_secondary_rate_limit_honours_retry_after(
    make_flywheel: Any, fake_url: str, config: Any, fake: Any
) -> None:
    flywheel = await build(make_flywheel, fake_url, config)
    issue = fake.add_issue(REPO, "Storage quota", "body")
    fake.rate_limit_next(1, retry_after=1, status=403, match="/labels")
    started = asyncio.get_running_loop().time()
    row = await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    elapsed = asyncio.get_running_loop().time() - started
    assert row["state"] == "done"
    assert elapsed >= 1.0, "Retry-After was not honoured"
    assert fake.issue(REPO, issue.number).labels == ["seen"]
    assert any(c.status == 403 for c in fake.calls)


async def test_permanent_failure_is_recorded_with_the_error(
    make_flywheel: Any, fake_url: str, config: Any, fake: Any
) -> None:
    flywheel = await build(make_flywheel, fake_url, config)
    issue = fake.add_issue(REPO, "Dask cluster", "body")
    fake.fail_mutation(5, match="addComment")  # GitHub refuses the comment alone
    row = await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    assert row["state"] == "failed"
    assert "NOT_FOUND" in row["error"]
    assert row["attempts"] == 1, "a 404 must not be retried"
    # The rest of the plan still ran.
    assert fake.issue(REPO, issue.number).labels == ["seen"]


async def test_deliveries_for_one_issue_run_in_arrival_order(
    make_flywheel: Any, fake_url: str, config: Any, fake: Any
) -> None:
    flywheel = await build(make_flywheel, fake_url, config)
    issue = fake.add_issue(REPO, "first", "body")
    fake.latency = 0.02
    titles = ["first", "second", "third", "fourth"]
    for n, title in enumerate(titles):
        issue.title = title
        action = "opened" if n == 0 else "edited"
        await flywheel.send(
            "issues", payloads.issues_event(fake, issue, action), delivery_id=f"o-{n}"
        )
    await flywheel.idle()
    (comment,) = fake.comments_on(REPO, issue.number)
    assert comment["body"].startswith("Title seen: fourth")
    rows = [await flywheel.state.journal.get(f"o-{n}") for n in range(4)]
    starts = [r["started_at"] for r in rows]
    assert starts == sorted(starts)
    assert all(r["state"] == "done" for r in rows)


async def test_restart_takes_up_unfinished_deliveries(
    make_flywheel: Any, fake_url: str, config: Any, fake: Any, tmp_path: Any
) -> None:
    db = tmp_path / "restart.db"
    first: Flywheel = await make_flywheel(
        fake_url, config, router=router, db_path=db, start_workers=False
    )
    issue = fake.add_issue(REPO, "Left behind", "body")
    response = await first.send(
        "issues", payloads.issues_event(fake, issue, "opened"), delivery_id="left"
    )
    assert response.status == 202
    assert fake.comments_on(REPO, issue.number) == []  # the first process never ran it
    await first.client.close()

    second: Flywheel = await make_flywheel(fake_url, config, router=router, db_path=db)
    await second.idle()
    row = await second.state.journal.get("left")
    assert row["state"] == "done"
    assert len(fake.comments_on(REPO, issue.number)) == 1


async def test_one_token_for_many_deliveries(
    make_flywheel: Any, fake_url: str, config: Any, fake: Any
) -> None:
    flywheel = await build(make_flywheel, fake_url, config)
    for n in range(5):
        issue = fake.add_issue(REPO, f"Request {n}", "body")
        await flywheel.send("issues", payloads.issues_event(fake, issue, "opened"))
    await flywheel.idle()
    assert fake.tokens_issued == 1
    assert len(fake.comments) == 5


async def test_etag_cache_turns_repeated_reads_into_304s(
    make_flywheel: Any, fake_url: str, config: Any, fake: Any
) -> None:
    flywheel = await build(make_flywheel, fake_url, config)
    for n in range(3):
        issue = fake.add_issue(REPO, f"Request {n}", "body")
        await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
        # Forget what the process knows about the repo's labels, so it must read them again.
        assert flywheel.state.processor is not None
        flywheel.state.processor.caches.repo_labels.clear()
    label_reads = [c.status for c in fake.calls if c.method == "GET" and "/labels" in c.path]
    assert label_reads[0] == 200 and 304 in label_reads[1:]


def test_graphql_url_for_github_and_enterprise() -> None:
    assert graphql_url_for("https://api.github.com") == "https://api.github.com/graphql"
    assert (
        graphql_url_for("https://github.example.edu/api/v3")
        == "https://github.example.edu/api/graphql"
    )
    assert (
        graphql_url_for("https://github.example.edu/api/v3/")
        == "https://github.example.edu/api/graphql"
    )
    settings = Settings.from_env({"GITHUB_API_URL": "https://ghe.example.edu/api/v3"})
    assert settings.graphql_url == "https://ghe.example.edu/api/graphql"
    assert settings.dry_run and settings.listen_host() == "127.0.0.1"


def test_live_start_without_secret_is_refused(private_key: str) -> None:
    import pytest

    from app.settings import SettingsError

    settings = Settings.from_env({"GITHUB_APP_ID": "1", "GITHUB_PRIVATE_KEY": private_key})
    with pytest.raises(SettingsError, match="GITHUB_WEBHOOK_SECRET"):
        settings.check_startable()
    body = private_key.splitlines()[1]
    assert body not in repr(settings), "the key must never appear in a repr"


def test_plan_reference_types() -> None:
    ref = IssueRef(REPO, 4)
    assert str(ref) == f"{REPO}#4"


async def test_a_github_incident_of_many_attempts_loses_nothing(
    make_flywheel: Any, fake_url: str, config: Any, fake: Any
) -> None:
    """Retries go on for hours (by time, not by a handful of attempts): 12 failures in a row."""
    flywheel = await make_flywheel(fake_url, config, router=router, retry_base_seconds=0.01)
    flywheel.state.dispatcher._retry_base = 0.001  # the policy, faster
    issue = fake.add_issue(REPO, "GPU images for Hypatia", "body")
    fake.fail_next(12, status=503, match="FlywheelWrites")
    await flywheel.send("issues", payloads.issues_event(fake, issue, "opened"), delivery_id="x-1")
    for _ in range(200):
        row = await flywheel.state.journal.get("x-1")
        if row["state"] in ("done", "failed"):
            break
        await asyncio.sleep(0.05)
    # Each attempt meets one or more of the 12 failures (a batch of labels alone is repeated
    # at once; one with a new comment is not): all 12 are met, and nothing is lost.
    assert fake.faults_injected["status"] == 12
    assert row["state"] == "done" and row["attempts"] > 1
    assert len(fake.comments_on(REPO, issue.number)) == 1
    assert fake.issue(REPO, issue.number).labels == ["seen"]


async def test_a_delivery_older_than_the_retry_window_is_failed_not_retried(
    make_flywheel: Any, fake_url: str, config: Any, fake: Any
) -> None:
    flywheel = await make_flywheel(fake_url, config, router=router, retry_for_seconds=0.001)
    issue = fake.add_issue(REPO, "GPU images for Hypatia", "body")
    fake.fail_next(1, status=503, match="FlywheelWrites")
    row = await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    assert row["state"] == "failed" and "503" in row["error"]


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"FLYWHEEL_RETRY_HOURS": "100"}, "between 0 and 72 hours"),
        ({"FLYWHEEL_RETRY_HOURS": "a day"}, "a number of hours"),
        ({"FLYWHEEL_RETRY_MAX": "0"}, "between 0 and 3600 seconds"),
        ({"FLYWHEEL_GITHUB_TIMEOUT": "ten"}, "a number of seconds"),
    ],
)
def test_retry_and_timeout_settings_are_checked(env: dict[str, str], problem: str) -> None:
    from app.settings import SettingsError

    with pytest.raises(SettingsError, match=problem):
        Settings.from_env(env)
    good = Settings.from_env({"FLYWHEEL_RETRY_HOURS": "2", "FLYWHEEL_RETRY_MAX": "30"})
    assert (good.retry_for_seconds, good.retry_max_seconds) == (7200.0, 30.0)


async def test_a_spent_rate_limit_holds_every_call_until_it_resets(
    flywheel: Flywheel, fake: Any
) -> None:
    """Once GitHub says nothing remains, no worker asks again (each would be refused): the
    deliveries wait, and /healthz says for how long."""
    from tests.test_workflow_onboarding import ANSWERS, open_onboarding

    fake.spent_after = len(fake.calls) + 1  # the 2nd answer says: 0 remaining, reset in an hour
    first = open_onboarding(fake, ANSWERS)
    await flywheel.send("issues", payloads.issues_event(fake, first, "opened"))
    await asyncio.sleep(0.5)
    calls_then = len(fake.calls)
    second = open_onboarding(fake, {**ANSWERS, "Community slug": "curie"})
    await flywheel.send("issues", payloads.issues_event(fake, second, "opened"))
    await asyncio.sleep(0.5)
    assert len(fake.calls) == calls_then, "no call while the allowance is spent"
    health = await (await flywheel.client.get("/healthz")).json()
    (held,) = health["github"].values()
    assert held["remaining"] == 0 and held["held_for_seconds"] > 3000
    assert health["journal"]["depth"] == 2, "both deliveries wait; nothing is lost"


together_router = Router()
_heard = asyncio.Event()


@together_router.register("issues", action="opened")
async def a_waits_for_b(event: sansio.Event, ctx: HandlerContext) -> None:
    """Runs first by name, and can only finish once the second has started: run one by one,
    the delivery would hang."""
    await asyncio.wait_for(_heard.wait(), 5)
    ctx.add(UpsertComment(ref_of(event), "first", "From the first handler."))
    ctx.note("first")


@together_router.register("issues", action="opened")
async def b_speaks(event: sansio.Event, ctx: HandlerContext) -> None:
    _heard.set()
    ctx.add(EnsureLabels(ref_of(event), add=(LabelSpec("seen"),), present=()))
    ctx.note("second")


@together_router.register("issues", action="opened")
async def c_fails(event: sansio.Event, ctx: HandlerContext) -> None:
    raise ValueError("a bug in one handler")


def ref_of(event: sansio.Event) -> IssueRef:
    return IssueRef(event.data["repository"]["full_name"], event.data["issue"]["number"])


async def test_handlers_run_together_and_their_plans_join_in_order(
    make_flywheel: Any, fake_url: str, config: Any, fake: Any
) -> None:
    _heard.clear()
    flywheel = await make_flywheel(fake_url, config, router=together_router)
    issue = fake.add_issue(REPO, "Two handlers", "body")
    row = await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    assert row["state"] == "failed" and "c_fails: ValueError: a bug in one handler" in row["error"]
    outcome = row["outcome"]
    assert outcome["notes"][-2:] == ["first", "second"]
    assert [a["action"].split()[0] for a in outcome["actions"]] == ["comment", "labels"]
    assert fake.issue(REPO, issue.number).labels == ["seen"]
    (comment,) = fake.comments_on(REPO, issue.number)
    assert comment["body"].startswith("From the first handler.")


async def test_a_late_older_payload_runs_on_the_issue_as_it_is_now(
    flywheel: Flywheel, fake: Any
) -> None:
    """An edit's delivery arriving after a newer one (a redelivery, GitHub's retry): its
    payload's ``updated_at`` is older than one already applied, so the issue is read again and
    the checklist keeps the newer facts instead of bringing the old ones back."""
    from tests.conftest import ORG
    from tests.test_workflow_onboarding import ANSWERS, STATUS, open_onboarding

    fake.add_board(ORG, 1, "Partnerships", {"Status": STATUS, "Community": "TEXT",
                                            "Start date": "DATE"})  # fmt: skip
    issue = open_onboarding(fake, ANSWERS)
    assert (await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened")))[
        "state"
    ] == "done"
    earlier_body = issue.body.replace("hypatia.example-hubs.org", "old.example.org")
    late = payloads.issues_event(fake, issue, "edited", changes={"body": {"from": earlier_body}})
    first_body = issue.body
    issue.body = issue.body.replace("https://hypatia.example-hubs.org", "https://hub.hypatia.edu")
    issue.updated_at = "2026-11-03T09:00:00Z"
    newer = payloads.issues_event(fake, issue, "edited", changes={"body": {"from": first_body}})
    assert (await flywheel.deliver("issues", newer))["state"] == "done"
    (comment,) = fake.comments_on(REPO, issue.number)
    assert "| Hub URL | https://hub.hypatia.edu |" in comment["body"]
    reads = len([c for c in fake.calls if c.path.endswith(f"/issues/{issue.number}")])

    row = await flywheel.deliver("issues", late)
    assert row["state"] == "done", row
    (comment,) = fake.comments_on(REPO, issue.number)
    assert "| Hub URL | https://hub.hypatia.edu |" in comment["body"], "the old facts came back"
    assert len([c for c in fake.calls if c.path.endswith(f"/issues/{issue.number}")]) == reads + 1
