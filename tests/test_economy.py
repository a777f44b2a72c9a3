"""What Flywheel spends on GitHub: its own writes' echoes cost nothing, and no read is made
that the payload or an earlier read already answered."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests import payloads
from tests.conftest import ORG, REPO, Flywheel
from tests.echoes import Echoes
from tests.forms_render import load_form, render_submission
from tests.test_workflow_offboarding import OFFBOARDING_BODY
from tests.test_workflow_onboarding import ANSWERS, STATUS


@pytest.fixture
def board(fake: Any) -> Any:
    fields = {"Status": STATUS, "Community": "TEXT", "Start date": "DATE", "End date": "DATE"}
    return fake.add_board(ORG, 1, "Partnerships", fields)


def onboarding(fake: Any, answers: dict[str, Any] = ANSWERS) -> Any:
    body = render_submission(load_form("onboarding.yml"), answers)
    return fake.add_issue(REPO, "[Onboarding] Hypatia College", body, labels=("type: onboard",))


def reads_of(fake: Any, path: str) -> list[str]:
    return [repr(c) for c in fake.calls if c.method == "GET" and c.path.split("?")[0] == path]


async def delivered(flywheel: Flywheel, event: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The journal row once the delivery is done, retries after a conflict included."""
    row = await flywheel.deliver(event, payload)
    for _ in range(100):
        if row["state"] == "done":
            break
        await asyncio.sleep(0.05)
        await flywheel.idle()
        row = await flywheel.state.journal.get(row["id"]) or row
    return row


async def test_echoes_of_our_own_writes_cost_no_calls(
    flywheel: Flywheel, fake: Any, board: Any
) -> None:
    recorded: list[tuple[str, dict[str, Any]]] = []

    async def keep(event: str, payload: dict[str, Any]) -> None:
        recorded.append((event, payload))

    echoes = Echoes(fake, keep)
    issue = onboarding(fake)
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    await echoes.settled()
    assert dict(echoes.sent) == {"issues.labeled": 2, "issue_comment.created": 1}
    assert all(p["sender"]["login"] == "flywheel[bot]" for _, p in recorded)
    before = fake.snapshot()

    fake.reset_calls()
    for event, payload in recorded:
        row = await flywheel.deliver(event, payload)
        assert row["state"] == "done", row
        assert row["outcome"]["actions"] == [], row
    assert fake.calls == []  # not even a 304
    assert fake.snapshot() == before


async def test_a_persons_edit_among_our_echoes_is_still_handled(
    flywheel: Flywheel, fake: Any, board: Any
) -> None:
    echoes = Echoes(fake, lambda event, payload: flywheel.send(event, payload))
    partial = {k: v for k, v in ANSWERS.items() if k != "Hub URL"}
    issue = onboarding(fake, partial)
    opened = payloads.issues_event(fake, issue, "opened")
    old_body = issue.body
    issue.body = render_submission(load_form("onboarding.yml"), ANSWERS)
    edited = payloads.issues_event(
        fake, issue, "edited", sender="ada", changes={"body": {"from": old_body}}
    )
    # The edit is sent while the App is still writing for the opened issue, so its
    # delivery arrives among the echoes of those writes.
    assert (await flywheel.send("issues", opened)).status == 202
    assert (await flywheel.send("issues", edited)).status == 202
    await echoes.quiet(flywheel.idle)

    assert echoes.sent["issues.labeled"] >= 2 and echoes.sent["issue_comment.created"] == 1
    assert set(fake.issue(REPO, issue.number).labels) == {
        "type: onboard",
        "new hub",
        "community: hypatia",
    }
    (comment,) = fake.comments_on(REPO, issue.number)
    assert "https://hypatia.example-hubs.org" in comment["body"]
    assert (await flywheel.state.journal.counts())["done"] == 2 + sum(echoes.sent.values())


async def test_a_new_issue_without_comments_is_not_listed(
    flywheel: Flywheel, fake: Any, board: Any
) -> None:
    issue = onboarding(fake)
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    assert reads_of(fake, f"/repos/{REPO}/issues/{issue.number}/comments") == []
    assert len(fake.comments_on(REPO, issue.number)) == 1

    # Opened again by a redelivery: the payload still counts no comments, but ours exists
    # now, and it is found rather than doubled.
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    assert len(reads_of(fake, f"/repos/{REPO}/issues/{issue.number}/comments")) == 1
    assert len(fake.comments_on(REPO, issue.number)) == 1


async def test_a_new_issue_with_a_comment_is_listed(
    flywheel: Flywheel, fake: Any, board: Any
) -> None:
    issue = onboarding(fake)
    fake.add_comment(REPO, issue.number, "Hello! We are keen to start.", user="ada")
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    assert len(reads_of(fake, f"/repos/{REPO}/issues/{issue.number}/comments")) == 1
    assert len(fake.bot_comments_on(REPO, issue.number)) == 1


async def test_a_linked_issue_found_in_a_list_is_not_read_again(
    flywheel: Flywheel, fake: Any, board: Any
) -> None:
    first = onboarding(fake)
    await flywheel.deliver("issues", payloads.issues_event(fake, first, "opened"))
    offboarding = fake.add_issue(
        REPO, "[Offboarding] Hypatia College", OFFBOARDING_BODY, labels=("type: offboard",)
    )
    fake.reset_calls()
    await flywheel.deliver("issues", payloads.issues_event(fake, offboarding, "opened"))
    assert reads_of(fake, f"/repos/{REPO}/issues/{first.number}") == []
    (on_comment,) = fake.comments_on(REPO, first.number)
    assert f"- Offboarding: #{offboarding.number} (open)" in on_comment["body"]


async def test_a_linked_issue_edited_between_list_and_write_is_not_overwritten(
    flywheel: Flywheel, fake: Any, board: Any
) -> None:
    """The onboarding's own lane rewrites its comment after the offboarding's delivery
    listed the onboarding issue: the offboarding's delivery must run again, not put the
    facts it listed back."""
    first = onboarding(fake)
    await flywheel.deliver("issues", payloads.issues_event(fake, first, "opened"))
    offboarding = fake.add_issue(
        REPO, "[Offboarding] Hypatia College", OFFBOARDING_BODY, labels=("type: offboard",)
    )
    old_body = first.body
    new_answers = {**ANSWERS, "Hub URL": "https://hypatia.new-hubs.org"}
    edit = {"body": {"from": old_body}}

    async def edit_during_list(request: Any) -> None:
        """While GitHub answers the offboarding's issue list: a person edits the
        onboarding, and its delivery is handled first."""
        if "labels=type:+onboard" in request.path_qs and first.body == old_body:
            first.body = render_submission(load_form("onboarding.yml"), new_answers)
            event = payloads.issues_event(fake, first, "edited", changes=edit)
            await flywheel.send("issues", event, delivery_id="person-edit")
            for _ in range(200):  # its lane is not the offboarding's: it runs meanwhile
                row = await flywheel.state.journal.get("person-edit")
                if row is not None and row["state"] == "done":
                    return
                await asyncio.sleep(0.02)
            raise AssertionError("the person's edit was not handled")

    fake.before_reply = edit_during_list
    row = await delivered(flywheel, "issues", payloads.issues_event(fake, offboarding, "opened"))
    assert row["state"] == "done", row
    (on_comment,) = fake.comments_on(REPO, first.number)
    assert "https://hypatia.new-hubs.org" in on_comment["body"]
    assert f"- Offboarding: #{offboarding.number} (open)" in on_comment["body"]


async def test_a_shared_need_is_labelled_and_placed_once_not_on_every_delivery(
    flywheel: Flywheel, fake: Any
) -> None:
    from tests.test_linking import (
        GPU_CURIE,
        GPU_GOODALL,
        GPU_HYPATIA,
        GPU_TRAINING,
        SUPPORT,
        request,
    )
    from tests.test_linking import (
        STATUS as ROADMAP_STATUS,
    )

    fake.add_repo(SUPPORT)
    fake.add_board(ORG, 2, "Roadmap", {"Status": ROADMAP_STATUS})
    first = request(fake, REPO, "hypatia", GPU_HYPATIA)
    for issue in (first, request(fake, SUPPORT, "curie", GPU_CURIE),
                  request(fake, SUPPORT, "goodall", GPU_GOODALL)):  # fmt: skip
        await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    assert "shared-need" in fake.issue(REPO, first.number).labels

    # A fourth community joins: only the newcomer is labelled and placed.
    fourth = request(fake, SUPPORT, "lovelace", GPU_TRAINING)
    fake.reset_calls()
    await flywheel.deliver("issues", payloads.issues_event(fake, fourth, "opened"))
    labelled = [issue for what, issue in fake.changes if what == "labeled"]
    assert labelled == [f"{SUPPORT}#{fourth.number}"]
    assert fake.mutations["addLabelsToLabelable"] <= 1
    assert fake.mutations["addProjectV2ItemById"] == 1
    assert fake.board_values(ORG, 2, fourth.node_id) == {"Status": "Shared need"}

    # A person takes the label off the first request: its removal is heard, and the next
    # delivery of the group puts it back (the group still shares the need).
    fake.issue(REPO, first.number).labels.remove("shared-need")
    removed = payloads.issues_event(fake, first, "unlabeled", sender="maria", label="shared-need")
    await flywheel.deliver("issues", removed)
    fourth.body += "\n\nJAX too, if possible."
    changes = {"body": {"from": GPU_TRAINING[1]}}
    await flywheel.deliver("issues", payloads.issues_event(fake, fourth, "edited", changes=changes))
    assert "shared-need" in fake.issue(REPO, first.number).labels


async def test_an_onboardings_writes_go_in_one_request(
    flywheel: Flywheel, fake: Any, board: Any
) -> None:
    """Labels, the checklist comment and the board item: three writes, one GraphQL request
    (then the item's fields, which need the item's id)."""
    await flywheel.deliver("issues", payloads.issues_event(fake, onboarding(fake), "opened"))
    second = onboarding(fake, {**ANSWERS, "Community name": "Hypatia College (2nd hub)"})
    fake.reset_calls()
    await flywheel.deliver("issues", payloads.issues_event(fake, second, "opened"))
    batches = [c for c in fake.calls if c.operation == "FlywheelWrites"]
    assert len(batches) == 1, fake.calls
    assert fake.mutations == {
        "addLabelsToLabelable": 1,
        "addComment": 1,
        "addProjectV2ItemById": 1,
    }
    assert [c.operation for c in fake.calls if c.kind == "graphql"][-1] == "FlywheelSetFields"
    assert sum(1 for c in fake.calls if c.rate_limited) <= 4
    (comment,) = fake.comments_on(REPO, second.number)
    assert "## Onboarding checklist" in comment["body"]
    assert set(fake.issue(REPO, second.number).labels) >= {"new hub", "community: hypatia"}


async def test_a_batch_refused_as_a_whole_is_retried_not_failed(
    flywheel: Flywheel, fake: Any, board: Any
) -> None:
    """GitHub answers a whole GraphQL request with an error that names no alias (its limit
    spent): every write in it is retried later, none is failed for good."""
    issue = onboarding(fake)
    refused = {"count": 1}
    original = fake._gql_writes

    def once_refused(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        if refused["count"]:
            refused["count"] -= 1
            return {"data": None, "errors": [{"type": "RATE_LIMITED", "message": "spent"}]}
        return original(query, variables)

    fake._gql_writes = once_refused
    flywheel.state.dispatcher._retry_base = 0.01
    row = await delivered(flywheel, "issues", payloads.issues_event(fake, issue, "opened"))
    assert row["state"] == "done" and row["attempts"] == 2, row
    assert len(fake.comments_on(REPO, issue.number)) == 1
    assert "community: hypatia" in fake.issue(REPO, issue.number).labels
