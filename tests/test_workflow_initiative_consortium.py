"""Initiatives (validated headings, the communities behind them) and consortia (members,
roles, the initiatives under the narrative), end to end against the fake GitHub."""

from __future__ import annotations

from typing import Any

import pytest

from tests import payloads
from tests.conftest import ORG, REPO, Flywheel
from tests.forms_render import load_form, render_submission
from tests.test_workflow_onboarding import STATUS

INITIATIVE = {
    "Problem Statement": "Courses need GPUs for two weeks a term, and pay for them all year.",
    "Proposed Solution": "GPU node pools that scale to zero between courses.",
    "Proposed Implementation": "A profile list entry per course, node pools with min size 0.",
    "How will this fit in the ecosystem?": "Upstream the chart changes to z2jh.",
    "Size": "M (<= 300 h)",
}
CONSORTIUM = {
    "Consortium name": "GPU teaching hubs",
    "Narrative": "Teaching with GPUs without paying for idle machines.",
}


@pytest.fixture
def roadmap(fake: Any) -> Any:
    return fake.add_board(ORG, 2, "Roadmap", {"Status": STATUS, "Estimate": "NUMBER"})


def open_issue(fake: Any, form: str, answers: dict[str, Any], title: str) -> Any:
    spec = load_form(form)
    body = render_submission(spec, answers)
    return fake.add_issue(REPO, spec.get("title", "") + title, body, labels=tuple(spec["labels"]))


async def test_incomplete_initiative_gets_error_labels_that_go_when_fixed(
    flywheel: Flywheel, fake: Any, roadmap: Any
) -> None:
    partial = {k: v for k, v in INITIATIVE.items() if k != "Proposed Implementation"}
    issue = open_issue(fake, "initiative.yml", partial, "GPU pools that scale to zero")
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    assert set(fake.issue(REPO, issue.number).labels) == {
        "platform initiative",
        "error:missing-implementation",
    }
    (comment,) = fake.comments_on(REPO, issue.number)
    assert "- **Proposed Implementation**" in comment["body"]
    assert fake.board_values(ORG, 2, issue.node_id) == {"Status": "Refined"}

    old_body = issue.body
    issue.body = render_submission(load_form("initiative.yml"), INITIATIVE)
    changes = {"body": {"from": old_body}}
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "edited", changes=changes))
    assert fake.issue(REPO, issue.number).labels == ["platform initiative"]
    (comment,) = fake.comments_on(REPO, issue.number)
    assert "✅ All required sections are present." in comment["body"]
    assert "**Size:** M (&lt;= 300 h)" in comment["body"]


async def test_interested_and_co_funded_labels_show_the_communities_behind_it(
    flywheel: Flywheel, fake: Any, roadmap: Any
) -> None:
    issue = open_issue(fake, "initiative.yml", INITIATIVE, "GPU pools that scale to zero")
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    for label in ("interested: hypatia", "interested: lovelace", "co-funded: hypatia"):
        fake.issue(REPO, issue.number).labels.append(label)
        event = payloads.issues_event(fake, issue, "labeled", sender="ada", label=label)
        await flywheel.deliver("issues", event)
    (comment,) = fake.comments_on(REPO, issue.number)
    assert "- Interested: hypatia, lovelace" in comment["body"]
    assert "- Co-funding: hypatia" in comment["body"]

    fake.issue(REPO, issue.number).labels.remove("interested: lovelace")
    event = payloads.issues_event(
        fake, issue, "unlabeled", sender="ada", label="interested: lovelace"
    )
    await flywheel.deliver("issues", event)
    (comment,) = fake.comments_on(REPO, issue.number)
    assert "- Interested: hypatia\n" in comment["body"]


async def test_a_consortium_lists_the_initiatives_that_name_it(
    flywheel: Flywheel, fake: Any, roadmap: Any
) -> None:
    consortium = open_issue(fake, "consortium.yml", CONSORTIUM, "GPU teaching hubs")
    row = await flywheel.deliver("issues", payloads.issues_event(fake, consortium, "opened"))
    assert row["state"] == "done", row
    (comment,) = fake.comments_on(REPO, consortium.number)
    body = comment["body"]
    assert "## Consortium: GPU teaching hubs" in body
    assert "No member communities yet." in body
    assert "| `co-fund` | commit funds if others invest too" in body
    # config says "In Progress", the board's option is "In progress": matched either way
    assert fake.board_values(ORG, 2, consortium.node_id) == {"Status": "In progress"}

    answers = {**INITIATIVE, "Consortium": f"#{consortium.number}"}
    initiative = open_issue(fake, "initiative.yml", answers, "GPU pools that scale to zero")
    url = f"https://github.com/{REPO}/issues/{consortium.number}"
    second = open_issue(
        fake, "initiative.yml", {**INITIATIVE, "Consortium": url}, "Shared GPU quotas"
    )
    for issue in (initiative, second):
        row = await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
        assert any("listed there" in note for note in row["outcome"]["notes"]), row
    (comment,) = fake.comments_on(REPO, consortium.number)
    assert f"- #{initiative.number} GPU pools that scale to zero (open)" in comment["body"]
    assert f"- #{second.number} Shared GPU quotas (open)" in comment["body"]
    (initiative_comment,) = fake.comments_on(REPO, initiative.number)
    assert f"**Consortium:** #{consortium.number}" in initiative_comment["body"]


async def test_a_pasted_marker_in_a_persons_comment_is_not_ours(
    flywheel: Flywheel, fake: Any, roadmap: Any
) -> None:
    consortium = open_issue(fake, "consortium.yml", CONSORTIUM, "GPU teaching hubs")
    fake.comments[1] = {
        "id": 1,
        "body": "<!-- flywheel:workflow.consortium "
        '{"history":[{"op":"join","community":"mallory","roles":["co-fund"]}]} -->',
        "user": {"login": "mallory", "type": "User"},
        "html_url": "",
        "_issue": (REPO, consortium.number),
    }
    await flywheel.deliver("issues", payloads.issues_event(fake, consortium, "opened"))
    mine = [c for c in fake.comments_on(REPO, consortium.number) if c["id"] != 1]
    assert len(mine) == 1, "a new comment of ours, the person's left alone"
    assert "mallory" not in mine[0]["body"]
    assert fake.comments[1]["body"].startswith("<!-- flywheel:workflow.consortium")
