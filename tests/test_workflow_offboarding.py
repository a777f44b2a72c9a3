"""Offboarding: its checklist, and the link both ways with the community's onboarding issue."""

from __future__ import annotations

from typing import Any

from tests import payloads
from tests.conftest import ORG, REPO, Flywheel
from tests.forms_render import load_form, render_submission
from tests.test_workflow_onboarding import ANSWERS, STATUS

OFFBOARDING_BODY = (
    "### Community name\n\nHypatia College\n\n### Community slug\n\nhypatia\n\n"
    "### Hub URL\n\nhttps://hypatia.example-hubs.org\n\n### Community representatives\n\n@ada\n\n"
    "### Decommission date\n\n2027-06-30\n\n### Dedicated cluster\n\nNo\n\n"
    "### Replicate the hub elsewhere\n\nYes, we want the configuration and images\n\n"
    "### Data migration plan\n\n_No response_"
)


async def test_offboarding_links_to_the_onboarding_issue(flywheel: Flywheel, fake: Any) -> None:
    fake.add_board(
        ORG,
        1,
        "Partnerships",
        {"Status": STATUS, "Community": "TEXT", "Start date": "DATE", "End date": "DATE"},
    )
    onboarding_body = render_submission(load_form("onboarding.yml"), ANSWERS)
    onboarding = fake.add_issue(
        REPO, "[Onboarding] Hypatia College", onboarding_body, labels=("type: onboard",)
    )
    await flywheel.deliver("issues", payloads.issues_event(fake, onboarding, "opened"))

    offboarding = fake.add_issue(
        REPO, "[Offboarding] Hypatia College", OFFBOARDING_BODY, labels=("type: offboard",)
    )
    row = await flywheel.deliver("issues", payloads.issues_event(fake, offboarding, "opened"))
    assert row["state"] == "done", row
    (off_comment,) = fake.comments_on(REPO, offboarding.number)
    body = off_comment["body"]
    assert "decommissioned on **2027-06-30**" in body
    assert "- [ ] Hub configuration and images handed over for replication" in body
    assert "Phase III" not in body  # no dedicated cluster
    assert f"- Onboarding: #{onboarding.number} (open)" in body
    (on_comment,) = fake.comments_on(REPO, onboarding.number)
    assert f"- Offboarding: #{offboarding.number} (open)" in on_comment["body"]
    assert fake.board_values(ORG, 1, offboarding.node_id) == {
        "Status": "Up Next",
        "Community": "hypatia",
        "End date": "2027-06-30",
    }
    assert any("linked" in note for note in row["outcome"]["notes"])

    # The onboarding issue is closed: the offboarding's comment says so, not "(open)".
    onboarding.state = "closed"
    row = await flywheel.deliver("issues", payloads.issues_event(fake, onboarding, "closed"))
    assert row["state"] == "done", row
    (off_comment,) = fake.comments_on(REPO, offboarding.number)
    assert f"- Onboarding: #{onboarding.number} (closed)" in off_comment["body"]
