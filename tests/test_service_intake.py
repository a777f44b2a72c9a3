"""Intake: every bad request gets its own 4xx, good deliveries are journaled once."""

from __future__ import annotations

import json
from typing import Any

from gidgethub import sansio
from gidgethub.routing import Router

from app.plan.actions import UpsertComment
from app.plan.context import HandlerContext
from tests import payloads
from tests.conftest import REPO, SECRET, Flywheel, sign

test_router = Router()


@test_router.register("issues", action="opened")
async def comment_hello(event: sansio.Event, ctx: HandlerContext) -> None:
    ref = ctx.issue_ref()
    assert ref is not None
    ctx.add(UpsertComment(ref, "hello", f"Hello, issue {ref.number}"))


async def test_signed_delivery_is_accepted_and_applied(
    make_flywheel: Any, fake_url: str, config: Any, fake: Any
) -> None:
    flywheel: Flywheel = await make_flywheel(fake_url, config, router=test_router)
    issue = fake.add_issue(REPO, "Hub for Hypatia College", "body")
    response = await flywheel.send(
        "issues", payloads.issues_event(fake, issue, "opened"), delivery_id="d-1"
    )
    assert response.status == 202
    assert (await response.json())["delivery"] == "d-1"
    await flywheel.idle()
    comments = fake.comments_on(REPO, issue.number)
    assert [c["body"].splitlines()[0] for c in comments] == [f"Hello, issue {issue.number}"]
    row = await flywheel.state.journal.get("d-1")
    assert row["state"] == "done" and row["attempts"] == 1


async def test_same_delivery_twice_acts_once(
    make_flywheel: Any, fake_url: str, config: Any, fake: Any
) -> None:
    flywheel: Flywheel = await make_flywheel(fake_url, config, router=test_router)
    issue = fake.add_issue(REPO, "Hub", "body")
    payload = payloads.issues_event(fake, issue, "opened")
    first = await flywheel.send("issues", payload, delivery_id="same")
    await flywheel.idle()
    second = await flywheel.send("issues", payload, delivery_id="same")
    await flywheel.idle()
    assert (first.status, second.status) == (202, 200)
    assert "not processed again" in (await second.json())["message"]
    assert len(fake.comments_on(REPO, issue.number)) == 1
    assert fake.comments_created() == 1


async def test_a_journal_that_cannot_store_answers_503_and_the_redelivery_is_applied(
    make_flywheel: Any, fake_url: str, config: Any, fake: Any, monkeypatch: Any
) -> None:
    """The database down (either engine): GitHub is told to try later, in words, and the
    delivery it sends again is taken as new."""
    flywheel: Flywheel = await make_flywheel(fake_url, config, router=test_router)
    issue = fake.add_issue(REPO, "Hub", "body")
    payload = payloads.issues_event(fake, issue, "opened")
    journal = flywheel.state.journal
    working = journal.record

    async def broken(delivery: Any) -> Any:
        raise OSError("the database server closed the connection")

    monkeypatch.setattr(journal, "record", broken)
    refused = await flywheel.send("issues", payload, delivery_id="again")
    assert refused.status == 503
    assert "GitHub may redeliver" in (await refused.json())["message"]
    monkeypatch.setattr(journal, "record", working)
    accepted = await flywheel.send("issues", payload, delivery_id="again")
    await flywheel.idle()
    assert accepted.status == 202 and fake.comments_created() == 1


async def test_signature_missing_or_wrong_is_401(flywheel: Flywheel, fake: Any) -> None:
    issue = fake.add_issue(REPO, "Hub", "body")
    payload = payloads.issues_event(fake, issue, "opened")
    missing = await flywheel.send("issues", payload, secret=None)
    wrong = await flywheel.send("issues", payload, secret="not the secret")
    sha1 = await flywheel.send("issues", payload, headers={"X-Hub-Signature-256": "sha1=abc"})
    assert (missing.status, wrong.status, sha1.status) == (401, 401, 401)
    assert "missing" in (await missing.json())["message"]
    assert (await flywheel.state.journal.counts())["pending"] == 0
    assert fake.calls == []


async def test_malformed_bodies_get_their_own_status(flywheel: Flywheel) -> None:
    body = b"{not json"
    bad_json = await flywheel.send("issues", body)
    not_object = await flywheel.send("issues", b"[1, 2]")
    form = await flywheel.send(
        "issues", b"payload=%7B%7D", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    no_event = await flywheel.client.post(
        "/webhook",
        data=b"{}",
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(b"{}")},
    )
    assert (bad_json.status, not_object.status, form.status, no_event.status) == (
        400,
        400,
        415,
        400,
    )
    assert "application/json" in (await form.json())["message"]
    health = await (await flywheel.client.get("/healthz")).json()
    assert health["journal"]["depth"] == 0


async def test_oversized_payload_is_413(flywheel: Flywheel) -> None:
    body = b'{"a": "' + b"x" * (25 * 1024 * 1024) + b'"}'
    response = await flywheel.send("issues", body)
    assert response.status == 413


async def test_ping_and_unknown_events_are_answered_not_journaled(flywheel: Flywheel) -> None:
    ping = await flywheel.send("ping", {"zen": "Keep it logically awesome.", "hook_id": 1})
    unknown = await flywheel.send("star", {"action": "created", "repository": {"full_name": REPO}})
    assert ping.status == 200 and (await ping.json())["message"] == "pong"
    assert (
        unknown.status == 200 and "no handler for star.created" in (await unknown.json())["message"]
    )
    counts = await flywheel.state.journal.counts()
    assert sum(counts.values()) == 0


async def test_healthz_and_metrics(
    make_flywheel: Any, fake_url: str, config: Any, fake: Any
) -> None:
    flywheel: Flywheel = await make_flywheel(fake_url, config, router=test_router)
    issue = fake.add_issue(REPO, "Hub", "body")
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    health = await (await flywheel.client.get("/healthz")).json()
    assert health["status"] == "ok" and health["mode"] == "live"
    assert health["journal"]["done"] == 1 and health["journal"]["depth"] == 0
    text = await (await flywheel.client.get("/metrics")).text()
    assert 'flywheel_deliveries_total{event="issues.opened",outcome="done"} 1.0' in text
    assert 'flywheel_github_calls_total{kind="rest",status="201"}' in text
    assert "flywheel_queue_depth 0" in text
    assert SECRET not in text


async def test_dry_run_prints_the_plan_and_calls_nothing(
    make_flywheel: Any, config: Any, fake: Any
) -> None:
    flywheel: Flywheel = await make_flywheel(None, config, live=False, router=test_router)
    issue = fake.add_issue(REPO, "Hub", "body")
    row = await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    assert row["state"] == "done"
    assert row["outcome"]["dry_run"] is True
    assert any("would comment [hello]" in line for line in flywheel.printed)
    assert fake.calls == []
    health = await (await flywheel.client.get("/healthz")).json()
    assert health["mode"] == "dry-run"


def test_journal_payload_is_the_raw_body() -> None:
    body = json.dumps(
        {"action": "opened", "issue": {"number": 3}, "repository": {"full_name": REPO}}
    ).encode()
    from app.store.delivery import Delivery

    delivery = Delivery.from_body("x", "issues", body, json.loads(body))
    assert delivery.lane == f"{REPO}#3" and delivery.payload == body


async def test_a_non_ascii_signature_is_refused_not_a_crash(flywheel: Flywheel) -> None:
    response = await flywheel.send(
        "issues", {"action": "opened"}, secret=None, headers={"X-Hub-Signature-256": "sha256=é"}
    )
    assert response.status == 401
    assert "sha256=<hex>" in (await response.json())["message"]


async def test_an_action_that_is_not_text_is_400_not_a_crash(flywheel: Flywheel) -> None:
    """Found by tests/test_fuzz.py: the router looked the action up as a dict key."""
    for action in ([], {}, 3):
        response = await flywheel.send("issues", {"action": action})
        assert response.status == 400
        assert "action must be a string" in (await response.json())["message"]


async def test_headers_not_in_githubs_form_are_400(flywheel: Flywheel) -> None:
    """Found by tests/test_fuzz.py: a byte that is not text in X-GitHub-Event crashed the answer."""
    payload = {"action": "opened"}
    for headers in ({"X-GitHub-Event": "\x80"}, {"X-GitHub-Event": "issues comment"}):
        response = await flywheel.send("issues", payload, headers=headers)
        assert response.status == 400
    response = await flywheel.send("issues", payload, delivery_id="../../etc")
    assert response.status == 400
    assert "not in GitHub's form" in (await response.json())["message"]
