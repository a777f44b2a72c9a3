"""/link and /unlink across repositories (private text never shown in public), and the
commands that move issues between workflows: /initiative, /offboard, /sync."""

from __future__ import annotations

from typing import Any

from app.workflows import markers
from tests import payloads
from tests.commenting import replies, say
from tests.conftest import ORG, PRIVATE_REPO, REPO, Flywheel
from tests.test_commands_basic import grant, plain_issue
from tests.test_workflow_initiative_consortium import CONSORTIUM, open_issue, roadmap  # noqa: F401
from tests.test_workflow_onboarding import ANSWERS, board, open_onboarding  # noqa: F401


def links_comment(fake: Any, repo: str, number: int) -> dict[str, Any]:
    (comment,) = [
        c for c in fake.bot_comments_on(repo, number) if "links" in markers.find(c["body"])
    ]
    return comment


async def test_link_shows_on_both_sides_and_hides_private_text(
    flywheel: Flywheel, fake: Any
) -> None:
    grant(fake)
    grant(fake, repo=PRIVATE_REPO)
    public = plain_issue(fake, "Dask clusters time out after an hour")
    secret = fake.add_issue(PRIVATE_REPO, "Confidential: Hypatia's grant budget", "…", user="ada")
    other = fake.add_issue(REPO, "Dask gateway idle culling", "Ours too.", user="grace")
    cid, row = await say(
        flywheel, public, f"/link {PRIVATE_REPO}#{secret.number} #{other.number}", author="tomas"
    )
    assert row["state"] == "done", row
    assert fake.reactions_on(cid) == ["+1"]
    mine = links_comment(fake, REPO, public.number)["body"]
    assert "A request in a private repository" in mine
    assert "Confidential" not in mine and "private\\u002drequests" not in mine
    assert "private-requests" not in mine
    assert "Linked by hand:" in mine
    assert f"- #{other.number} **Dask gateway idle culling** — open" in mine
    theirs = links_comment(fake, PRIVATE_REPO, secret.number)["body"]
    assert f"{REPO}#{public.number} **Dask clusters time out after an hour** — open" in theirs
    back = links_comment(fake, REPO, other.number)["body"]
    assert f"#{public.number} **Dask clusters time out after an hour**" in back

    await say(flywheel, public, f"/unlink #{other.number}", author="tomas")
    mine = links_comment(fake, REPO, public.number)
    assert "Dask gateway" not in mine["body"]
    assert markers.find(mine["body"])["links"]["suppressed"] == [f"{REPO}#{other.number}"]
    assert "Dask clusters" not in links_comment(fake, REPO, other.number)["body"]
    # Unlinking from the private side finds the public side's opaque entry.
    await say(flywheel, secret, f"/unlink {REPO}#{public.number}", author="tomas")
    assert "private repository" not in links_comment(fake, REPO, public.number)["body"]
    assert "Dask clusters" not in links_comment(fake, PRIVATE_REPO, secret.number)["body"]
    assert len(fake.bot_comments_on(REPO, public.number)) == 1, "updated, not duplicated"


async def test_link_needs_the_right_in_the_other_repository_too(
    flywheel: Flywheel, fake: Any
) -> None:
    grant(fake)  # triage here, nothing in the private repository
    public = plain_issue(fake)
    secret = fake.add_issue(PRIVATE_REPO, "Budget", "…", user="ada")
    await say(flywheel, public, f"/link {PRIVATE_REPO}#{secret.number}", author="tomas")
    await say(flywheel, public, "/link example-org/elsewhere#4 #99 banana", author="tomas")
    refused, bad = replies(fake, public)
    assert f"needs **triage** access to {PRIVATE_REPO} or more" in refused
    assert "banana is not another issue" in bad
    assert fake.comments_on(PRIVATE_REPO, secret.number) == []


async def test_initiative_turns_an_issue_into_one_under_a_consortium(
    flywheel: Flywheel,
    fake: Any,
    roadmap: Any,  # noqa: F811
) -> None:
    grant(fake)
    consortium = open_issue(fake, "consortium.yml", CONSORTIUM, "GPU teaching hubs")
    await flywheel.deliver("issues", payloads.issues_event(fake, consortium, "opened"))
    issue = plain_issue(fake, "Scale GPU pools to zero between courses")
    cid, row = await say(flywheel, issue, f"/initiative #{consortium.number}", author="tomas")
    assert row["state"] == "done", row
    assert fake.reactions_on(cid) == ["rocket"]
    now = fake.issue(REPO, issue.number)
    assert "platform initiative" in now.labels
    assert now.body.endswith(f"### Consortium\n\n#{consortium.number}\n")
    assert fake.board_values(ORG, 2, issue.node_id) == {"Status": "Refined"}
    (comment,) = fake.bot_comments_on(REPO, issue.number)[-1:]
    assert "- **Problem Statement**" in comment["body"], "it says which sections to write"
    # GitHub then sends the body edit; the consortium lists its new initiative.
    changes = {"body": {"from": "Users cannot save notebooks since Monday."}}
    edited = payloads.issues_event(fake, issue, "edited", sender="flywheel[bot]", changes=changes)
    await flywheel.deliver("issues", edited)
    narrative = [
        c
        for c in fake.bot_comments_on(REPO, consortium.number)
        if "workflow.consortium" in c["body"]
    ]
    assert (
        f"- #{issue.number} Scale GPU pools to zero between courses (open)"
        in (narrative[0]["body"])
    )


async def test_offboard_opens_a_prefilled_offboarding_issue_once(
    flywheel: Flywheel,
    fake: Any,
    board: Any,  # noqa: F811
) -> None:
    grant(fake, role="maintain")
    onboarding = open_onboarding(fake, ANSWERS)
    await flywheel.deliver("issues", payloads.issues_event(fake, onboarding, "opened"))
    await say(flywheel, onboarding, "/offboard", author="tomas")
    await say(flywheel, onboarding, "/offboard", author="tomas")
    opened = [i for i in fake.issues.values() if "type: offboard" in i.labels]
    assert len(opened) == 1, "a second /offboard finds the first"
    (offboarding,) = opened
    assert offboarding.title == "[Offboarding] Hypatia College"
    assert set(offboarding.labels) == {"type: offboard", "community: hypatia"}
    assert "### Community slug\n\nhypatia" in offboarding.body
    assert "### Hub URL\n\nhttps://hypatia.example-hubs.org" in offboarding.body
    assert "### Decommission date\n\n_No response_" in offboarding.body
    assert "@ada" not in offboarding.body, "names are copied without mentioning anyone"
    # GitHub sends issues.opened for it; it links back to the onboarding issue.
    await flywheel.deliver(
        "issues", payloads.issues_event(fake, offboarding, "opened", sender="flywheel[bot]")
    )
    (checklist,) = fake.bot_comments_on(REPO, offboarding.number)
    assert f"Onboarding: #{onboarding.number}" in checklist["body"]


async def test_offboard_finds_the_offboarding_the_community_opened_from_the_form(
    flywheel: Flywheel,
    fake: Any,
    board: Any,  # noqa: F811
) -> None:
    from tests.test_workflow_offboarding import OFFBOARDING_BODY

    grant(fake, role="maintain")
    onboarding = open_onboarding(fake, ANSWERS)
    await flywheel.deliver("issues", payloads.issues_event(fake, onboarding, "opened"))
    theirs = fake.add_issue(
        REPO, "[Offboarding] Hypatia College", OFFBOARDING_BODY, labels=("type: offboard",)
    )
    await flywheel.deliver("issues", payloads.issues_event(fake, theirs, "opened"))
    await say(flywheel, onboarding, "/offboard", author="tomas")
    opened = [i for i in fake.issues.values() if "type: offboard" in i.labels]
    assert opened == [fake.issue(REPO, theirs.number)], "no second offboarding issue"
    (reply,) = replies(fake, onboarding)
    assert f"an offboarding issue for hypatia is already open: #{theirs.number}" in reply


async def test_sync_restores_what_a_missed_delivery_left_undone(
    flywheel: Flywheel,
    fake: Any,
    board: Any,  # noqa: F811
) -> None:
    issue = open_onboarding(fake, ANSWERS)  # its issues.opened delivery never came
    cid, row = await say(flywheel, issue, "/sync", author="maria", association="MEMBER")
    assert row["state"] == "done", row
    assert set(fake.issue(REPO, issue.number).labels) == {
        "type: onboard",
        "new hub",
        "community: hypatia",
    }
    (checklist,) = [c for c in fake.bot_comments_on(REPO, issue.number) if "workflow." in c["body"]]
    assert "## Onboarding checklist: Hypatia College" in checklist["body"]
    assert fake.board_values(ORG, 1, issue.node_id)["Status"] == "Refined"
    assert fake.reactions_on(cid) == ["rocket"]
    fake.reset_calls()
    await say(flywheel, issue, "/sync", author="maria", association="MEMBER")
    writes = [c for c in fake.calls if c.method in ("PATCH", "DELETE") or c.path.endswith("labels")]
    assert [c for c in writes if c.method != "GET"] == [], "a second sync changes nothing"
