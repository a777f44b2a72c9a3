"""Onboarding end to end: form → labels, checklist comment, board item; edits, ticks, close."""

from __future__ import annotations

from typing import Any

import pytest

from tests import payloads
from tests.conftest import ORG, REPO, Flywheel
from tests.forms_render import load_form, render_submission

STATUS = ["Refined", "Up Next", "In progress", "In Review/Blocked", "Done", "Won't do"]

ANSWERS = {
    "Community name": "Hypatia College",
    "Community slug": "hypatia",
    "Community representatives": "@ada @grace",
    "Hub URL": "https://hypatia.example-hubs.org",
    "Cloud provider": "GCP",
    "Authentication": "GitHub",
    "Target start date": "2027-01-15",
    "Extras": ["GPUs"],
}


@pytest.fixture
def board(fake: Any) -> Any:
    return fake.add_board(
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


def open_onboarding(fake: Any, answers: dict[str, Any]) -> Any:
    body = render_submission(load_form("onboarding.yml"), answers)
    return fake.add_issue(REPO, "[Onboarding] Hypatia College", body, labels=("type: onboard",))


async def test_open_applies_labels_comment_and_board(
    flywheel: Flywheel, fake: Any, board: Any
) -> None:
    issue = open_onboarding(fake, ANSWERS)
    row = await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    assert row["state"] == "done", row
    assert set(fake.issue(REPO, issue.number).labels) == {
        "type: onboard",
        "new hub",
        "community: hypatia",
    }
    assert fake.repos[REPO]["labels"]["community: hypatia"]["color"] == "c5def5"
    (comment,) = fake.comments_on(REPO, issue.number)
    body = comment["body"]
    assert "## Onboarding checklist: Hypatia College" in body
    assert "@example-org/partnerships" in body
    assert "- [ ] Admin rights on the community's GitHub organisation" in body
    assert "| Hub URL | https://hypatia.example-hubs.org |" in body
    assert "Facts still missing" not in body
    assert "needs: info" not in fake.issue(REPO, issue.number).labels
    values = fake.board_values(ORG, 1, issue.node_id)
    assert values == {"Status": "Refined", "Community": "hypatia", "Start date": "2027-01-15"}
    # Economy: the board read once; labels, comment and board item in batches of writes
    # (labels the repository lacked are created first, so they go in a batch of their own).
    graphql = [c.operation for c in fake.calls if c.kind == "graphql"]
    assert sorted(set(graphql)) == ["FlywheelProjectFields", "FlywheelSetFields", "FlywheelWrites"]
    assert graphql.count("FlywheelProjectFields") == 1 and len(graphql) <= 5, graphql


async def test_warm_open_costs_four_rate_limited_calls(
    flywheel: Flywheel, fake: Any, board: Any
) -> None:
    first = open_onboarding(fake, ANSWERS)
    await flywheel.deliver("issues", payloads.issues_event(fake, first, "opened"))
    fake.reset_calls()
    second = open_onboarding(fake, {**ANSWERS, "Community slug": "hypatia"})
    await flywheel.deliver("issues", payloads.issues_event(fake, second, "opened"))
    counted = [c for c in fake.calls if c.rate_limited]
    # The community's issues (its offboarding is linked from here too), labels, comment and
    # board item in one batch, the board item's fields; no comment list (a new issue).
    assert len(counted) <= 4, counted
    assert all(c.status != 304 for c in counted)


async def test_missing_facts_then_fixed_by_an_edit(
    flywheel: Flywheel, fake: Any, board: Any
) -> None:
    partial = {k: v for k, v in ANSWERS.items() if k not in {"Hub URL", "Target start date"}}
    issue = open_onboarding(fake, partial)
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    assert "needs: info" in fake.issue(REPO, issue.number).labels
    (comment,) = fake.comments_on(REPO, issue.number)
    assert "Facts still missing" in comment["body"]
    assert "- **Hub URL**" in comment["body"] and "- **Target start date**" in comment["body"]

    old_body = issue.body
    issue.body = render_submission(load_form("onboarding.yml"), ANSWERS)
    issue.labels = list(fake.issue(REPO, issue.number).labels)
    edit = payloads.issues_event(fake, issue, "edited", changes={"body": {"from": old_body}})
    await flywheel.deliver("issues", edit)
    assert "needs: info" not in fake.issue(REPO, issue.number).labels
    (comment,) = fake.comments_on(REPO, issue.number)
    assert "Facts still missing" not in comment["body"]


async def test_a_refused_fact_is_listed_once_with_why_and_a_changed_slug_is_said(
    flywheel: Flywheel, fake: Any, board: Any
) -> None:
    answers = {**ANSWERS, "Community slug": "Lovelace Lab!", "Target start date": "next spring"}
    issue = open_onboarding(fake, answers)
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    (comment,) = fake.comments_on(REPO, issue.number)
    body = comment["body"]
    assert body.count("Target start date**") == 1, body
    assert "- **Target start date**: needs a date written YYYY-MM-DD" in body
    assert "(written “Lovelace Lab!”: Flywheel uses lovelace-lab)" in body
    assert "community: lovelace-lab" in fake.issue(REPO, issue.number).labels


async def test_edit_that_changes_nothing_writes_nothing(
    flywheel: Flywheel, fake: Any, board: Any
) -> None:
    issue = open_onboarding(fake, ANSWERS)
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    fake.reset_calls()
    old_body = issue.body
    issue.body = issue.body.replace(
        "### Context and goals\n\n_No response_", "### Context and goals\n\nNone"
    )
    edit = payloads.issues_event(fake, issue, "edited", changes={"body": {"from": old_body}})
    row = await flywheel.deliver("issues", edit)
    assert fake.calls == []
    assert any("changes nothing" in n for n in row["outcome"]["notes"])


async def test_redelivered_open_duplicates_nothing(
    flywheel: Flywheel, fake: Any, board: Any
) -> None:
    issue = open_onboarding(fake, ANSWERS)
    payload = payloads.issues_event(fake, issue, "opened")
    await flywheel.deliver("issues", payload)
    before = fake.snapshot()
    await flywheel.deliver("issues", payload)  # a new delivery id: GitHub's manual redeliver
    assert fake.snapshot() == before
    assert len(fake.comments_on(REPO, issue.number)) == 1


async def test_checklist_ticks_move_the_board(flywheel: Flywheel, fake: Any, board: Any) -> None:
    issue = open_onboarding(fake, ANSWERS)
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    (comment,) = fake.comments_on(REPO, issue.number)
    old = comment["body"]
    comment["body"] = old.replace("- [ ] Engineer assigned", "- [x] Engineer assigned")
    event = payloads.comment_event(
        fake,
        issue,
        comment["body"],
        comment_id=comment["id"],
        action="edited",
        author="flywheel[bot]",
        bot=True,
    )
    event["sender"] = payloads.user("maria")
    event["changes"] = {"body": {"from": old}}
    await flywheel.deliver("issue_comment", event)
    assert fake.board_values(ORG, 1, issue.node_id)["Status"] == "In progress"

    # A re-render keeps the tick.
    old_body = issue.body
    issue.body = issue.body.replace("https://hypatia.example-hubs.org", "https://hub.hypatia.edu")
    await flywheel.deliver(
        "issues", payloads.issues_event(fake, issue, "edited", changes={"body": {"from": old_body}})
    )
    (comment,) = fake.comments_on(REPO, issue.number)
    assert "- [x] Engineer assigned" in comment["body"]
    assert "https://hub.hypatia.edu" in comment["body"]


async def test_close_and_reopen_follow_config(flywheel: Flywheel, fake: Any, board: Any) -> None:
    issue = open_onboarding(fake, ANSWERS)
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    issue.state, issue.state_reason = "closed", "not_planned"
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "closed"))
    assert fake.board_values(ORG, 1, issue.node_id)["Status"] == "Won't do"
    issue.state, issue.state_reason = "open", "reopened"
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "reopened"))
    assert fake.board_values(ORG, 1, issue.node_id)["Status"] == "In progress"
    issue.state, issue.state_reason = "closed", "completed"
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "closed"))
    assert fake.board_values(ORG, 1, issue.node_id)["Status"] == "Done"


async def test_missing_board_option_is_reported_and_rest_applies(
    flywheel: Flywheel, fake: Any
) -> None:
    fake.add_board(ORG, 1, "Partnerships", {"Status": ["Todo", "Done"], "Community": "TEXT"})
    issue = open_onboarding(fake, ANSWERS)
    row = await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    assert row["state"] == "done"
    board_result = next(a for a in row["outcome"]["actions"] if a["action"].startswith("board"))
    warnings = " ".join(board_result["warnings"])
    assert "no option 'Refined'" in warnings and "no field 'Start date'" in warnings
    assert fake.board_values(ORG, 1, issue.node_id) == {"Community": "hypatia"}
    assert len(fake.comments_on(REPO, issue.number)) == 1


async def test_hostile_form_values_are_rendered_harmlessly(
    flywheel: Flywheel, fake: Any, board: Any
) -> None:
    hostile = {
        **ANSWERS,
        "Community name": "@example-org/everyone {{ 7*7 }} --> <script>x</script>\n/close",
    }
    issue = open_onboarding(fake, hostile)
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    (comment,) = fake.comments_on(REPO, issue.number)
    body = comment["body"]
    assert "@example-org/everyone" not in body
    assert "49" not in body and "<script>" not in body
    assert body.rstrip().endswith("-->")
    assert body.count("-->") == 1
    assert "\n/close" not in body
