"""/join, /roles, /leave: a consortium's members table, kept from the command history."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from app.workflows import markers
from tests import payloads
from tests.commenting import replies, say
from tests.conftest import REPO, Flywheel
from tests.test_workflow_initiative_consortium import CONSORTIUM, open_issue, roadmap  # noqa: F401
from tests.test_workflow_onboarding import ANSWERS, board, open_onboarding  # noqa: F401


def onboarded(fake: Any, slug: str, name: str, representatives: str) -> Any:
    answers = {
        **ANSWERS,
        "Community name": name,
        "Community slug": slug,
        "Community representatives": representatives,
    }
    return open_onboarding(fake, answers)


async def consortium_issue(flywheel: Flywheel, fake: Any) -> Any:
    onboarded(fake, "hypatia", "Hypatia College", "@ada @grace")
    onboarded(fake, "lovelace", "Lovelace Institute", "@charles")
    onboarded(fake, "both", "Shared Lab", "@ada")
    issue = open_issue(fake, "consortium.yml", CONSORTIUM, "GPU teaching hubs")
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    return issue


def table(fake: Any, issue: Any) -> list[str]:
    (comment,) = [
        c
        for c in fake.bot_comments_on(REPO, issue.number)
        if "workflow.consortium" in markers.find(c["body"])
    ]
    lines = comment["body"].splitlines()
    start = (
        lines.index("| Community | Roles | Joined | Joined by |") + 2
        if "| Community |" in (comment["body"])
        else len(lines)
    )
    rows = []
    for line in lines[start:]:
        if not line.startswith("| "):
            break
        rows.append(line)
    return rows


async def test_a_representative_joins_with_roles(
    flywheel: Flywheel,
    fake: Any,
    roadmap: Any,  # noqa: F811
) -> None:
    issue = await consortium_issue(flywheel, fake)
    cid, row = await say(
        flywheel, issue, "/join test endorse", author="charles", association="NONE"
    )
    assert row["state"] == "done", row
    assert table(fake, issue) == ["| lovelace | endorse, test | 2026-11-02 | charles |"]
    assert fake.reactions_on(cid) == ["+1"]
    assert replies(fake, issue) == []

    await say(flywheel, issue, "/join react", author="charles", association="NONE")
    assert table(fake, issue) == ["| lovelace | react, endorse, test | 2026-11-02 | charles |"]
    await say(flywheel, issue, "/roles co-fund", author="charles", association="NONE")
    assert table(fake, issue) == ["| lovelace | co-fund | 2026-11-02 | charles |"]
    await say(flywheel, issue, "/leave", author="charles", association="NONE")
    assert table(fake, issue) == []


async def test_refusals_name_the_roles_and_the_community(
    flywheel: Flywheel,
    fake: Any,
    roadmap: Any,  # noqa: F811
) -> None:
    issue = await consortium_issue(flywheel, fake)
    await say(flywheel, issue, "/join sponsor", author="charles", association="NONE")
    await say(flywheel, issue, "/join test", author="mallory", association="NONE")
    await say(flywheel, issue, "/join test for hypatia", author="charles", association="NONE")
    await say(flywheel, issue, "/join test", author="ada", association="NONE")
    unknown_role, stranger, other_community, several = replies(fake, issue)
    assert "sponsor is not a role. Roles: react, endorse, test, connect, co-propose, co-fund" in (
        unknown_role
    )
    assert "cannot tell which community this is for" in stranger
    assert "it needs a representative of **hypatia**" in other_community
    assert "you represent several communities (both, hypatia)" in several
    assert table(fake, issue) == []


async def test_staff_join_for_a_community_and_ada_names_hers(
    flywheel: Flywheel,
    fake: Any,
    roadmap: Any,  # noqa: F811
) -> None:
    issue = await consortium_issue(flywheel, fake)
    await say(flywheel, issue, "/join connect for lovelace", author="maria", association="MEMBER")
    await say(flywheel, issue, "/join co-propose for hypatia", author="ada", association="NONE")
    assert table(fake, issue) == [
        "| hypatia | co-propose | 2026-11-02 | ada |",
        "| lovelace | connect | 2026-11-02 | maria |",
    ]


async def test_two_joins_at_the_same_moment_both_survive(
    flywheel: Flywheel,
    fake: Any,
    roadmap: Any,  # noqa: F811
) -> None:
    issue = await consortium_issue(flywheel, fake)
    fake.latency = 0.05  # both deliveries are in flight together
    sent = []
    for author, body in (("charles", "/join test"), ("grace", "/join endorse for hypatia")):
        cid = fake.add_comment(REPO, issue.number, body, user=author)
        event = payloads.comment_event(
            fake, issue, body, author=author, association="NONE", comment_id=cid
        )
        sent.append(flywheel.send("issue_comment", event, delivery_id=str(uuid.uuid4())))
    answers = await asyncio.gather(*sent)
    assert [a.status for a in answers] == [202, 202]
    await flywheel.idle()
    assert table(fake, issue) == [
        "| hypatia | endorse | 2026-11-02 | grace |",
        "| lovelace | test | 2026-11-02 | charles |",
    ]


async def test_a_redelivered_join_is_recorded_once(
    flywheel: Flywheel,
    fake: Any,
    roadmap: Any,  # noqa: F811
) -> None:
    issue = await consortium_issue(flywheel, fake)
    cid = fake.add_comment(REPO, issue.number, "/join test", user="charles")
    event = payloads.comment_event(
        fake, issue, "/join test", author="charles", association="NONE", comment_id=cid
    )
    await flywheel.deliver("issue_comment", event)
    await say(flywheel, issue, "/roles connect", author="charles", association="NONE")
    await flywheel.deliver("issue_comment", event)  # GitHub redelivers it, new delivery id
    assert table(fake, issue) == ["| lovelace | connect | 2026-11-02 | charles |"]


async def test_join_is_only_for_consortia(flywheel: Flywheel, fake: Any, board: Any) -> None:  # noqa: F811
    issue = onboarded(fake, "hypatia", "Hypatia College", "@ada")
    await say(flywheel, issue, "/join test", author="ada", association="NONE")
    (reply,) = replies(fake, issue)
    assert "membership commands work on consortium issues" in reply
