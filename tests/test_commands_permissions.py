"""Who may run a command: association proves, GitHub's endpoints decide, 403 is a setup error."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from app.config import commands
from app.config.model import Config
from tests.commenting import replies, say
from tests.conftest import ORG, REPO, Flywheel
from tests.test_commands_basic import grant, plain_issue
from tests.test_commands_consortium import consortium_issue, roadmap  # noqa: F401

CHANGING = [
    "/label support",
    "/remove-label support",
    "/assign @ada",
    "/unassign @ada",
    "/community hypatia",
    "/close",
    "/reopen",
    "/sync",
    "/offboard",
    "/initiative",
    "/link example-org/hubs#1",
]


@pytest.mark.parametrize("association", ["NONE", "CONTRIBUTOR", "FIRST_TIMER"])
async def test_outsiders_change_nothing(flywheel: Flywheel, fake: Any, association: str) -> None:
    target = plain_issue(fake, "Another community's request")
    issue = plain_issue(fake)
    fake.issue(REPO, issue.number).labels.append("community: hypatia")
    before = fake.snapshot()
    for command in CHANGING:
        cid, _ = await say(flywheel, issue, command, author="mallory", association=association)
        assert fake.reactions_on(cid) == ["confused"], command
    assert target.number == 1
    after = fake.snapshot()
    # Only the replies explaining the refusals were written; nothing else moved.
    assert after["issues"] == before["issues"]
    assert (after["labels"], after["boards"]) == (before["labels"], before["boards"])
    written = {c.path for c in fake.calls if c.method in ("POST", "PATCH", "DELETE")}
    replies_only = ("/comments", "/reactions", "/access_tokens", "/graphql")
    assert all(p.endswith(replies_only) for p in written)
    assert {what for what, _ in fake.changes} <= {"comment created", "comment edited"}
    refusals = replies(fake, issue)
    assert len(refusals) == len(CHANGING)
    assert (
        "`/label` was not run: it needs **triage** access to this repository or more"
        in (refusals[0])
    )
    assert (
        "`/close` was not run: it needs the issue's author or an organisation member"
        in (refusals[5])
    )
    assert "`/offboard` was not run: it needs **maintain** access" in refusals[8]


async def test_owner_association_proves_without_asking(flywheel: Flywheel, fake: Any) -> None:
    issue = plain_issue(fake)
    await say(flywheel, issue, "/label support", author="olga", association="OWNER")
    assert fake.issue(REPO, issue.number).labels == ["support"]
    assert not [c for c in fake.calls if "/permission" in c.path or "/members/" in c.path]


async def test_a_private_member_shown_as_contributor_is_asked_about(
    flywheel: Flywheel, fake: Any
) -> None:
    issue = plain_issue(fake)
    fake.org_members.add((ORG, "priya"))
    cid, _ = await say(flywheel, issue, "/close", author="priya", association="CONTRIBUTOR")
    assert fake.issue(REPO, issue.number).state == "closed"
    assert fake.reactions_on(cid) == ["+1"]


async def test_the_author_may_close_their_own_issue(flywheel: Flywheel, fake: Any) -> None:
    issue = plain_issue(fake)  # opened by ada
    await say(flywheel, issue, "/close", author="ada", association="NONE")
    assert fake.issue(REPO, issue.number).state == "closed"


async def test_answers_are_cached_briefly(flywheel: Flywheel, fake: Any) -> None:
    grant(fake)
    issue = plain_issue(fake)
    for body in ("/label support", "/label event", "/remove-label event"):
        await say(flywheel, issue, body, author="tomas", association="CONTRIBUTOR")
    lookups = [c for c in fake.calls if c.path.endswith("/collaborators/tomas/permission")]
    assert len(lookups) == 1


async def test_a_403_is_reported_as_setup_not_as_no(flywheel: Flywheel, fake: Any) -> None:
    issue = plain_issue(fake)
    fake.forbid_people_lookups = True
    _, row = await say(flywheel, issue, "/label support", author="tomas", association="NONE")
    assert fake.issue(REPO, issue.number).labels == []
    (reply,) = replies(fake, issue)
    assert "could not check permissions because GitHub refused the lookup" in reply
    assert "**Members: read**" in reply
    assert any("403" in note for note in row["outcome"]["notes"])


async def test_team_level_from_config(
    make_flywheel: Any, fake_url: str, config: Config, fake: Any
) -> None:
    commands = config.settings.commands
    levels = {**commands.levels, "label": "team:community-team"}
    settings = dataclasses.replace(
        config.settings, commands=dataclasses.replace(commands, levels=levels)
    )
    flywheel = await make_flywheel(fake_url, dataclasses.replace(config, settings=settings))
    fake.teams[(ORG, "community-team")] = {"lin"}
    grant(fake, "tomas", "write")
    issue = plain_issue(fake)
    await say(flywheel, issue, "/label support", author="tomas", association="CONTRIBUTOR")
    assert fake.issue(REPO, issue.number).labels == []
    await say(flywheel, issue, "/label support", author="lin", association="CONTRIBUTOR")
    assert fake.issue(REPO, issue.number).labels == ["support"]
    assert "membership of the **community-team** team" in replies(fake, issue)[0]


# One example of every command that changes something. Derived from the command
# table, so a new command fails here until someone says who may not run it.
EXAMPLES = {
    "label": "/label support",
    "remove-label": "/remove-label support",
    "status": "/status Done",
    "assign": "/assign @ada",
    "unassign": "/unassign @ada",
    "community": "/community hypatia",
    "link": "/link example-org/hubs#1",
    "unlink": "/unlink example-org/hubs#1",
    "join": "/join test",
    "roles": "/roles co-fund",
    "leave": "/leave",
    "initiative": "/initiative",
    "offboard": "/offboard",
    "close": "/close",
    "reopen": "/reopen",
    "sync": "/sync",
}
CHANGING_ALL = [spec.name for spec in commands.SPECS if spec.level != "anyone"]
OUTSIDERS = [
    pytest.param("NONE", False, id="none"),
    pytest.param("CONTRIBUTOR", False, id="contributor"),
    pytest.param("FIRST_TIMER", False, id="first-timer"),
    pytest.param("FIRST_TIME_CONTRIBUTOR", False, id="first-time-contributor"),
    # A bot is never obeyed, whatever its association or access says.
    pytest.param("MEMBER", True, id="bot-member"),
]


def test_every_changing_command_has_an_example() -> None:
    assert sorted(EXAMPLES) == sorted(CHANGING_ALL)


@pytest.mark.parametrize(("association", "bot"), OUTSIDERS)
async def test_permission_matrix_no_outsider_or_bot_changes_anything(
    flywheel: Flywheel,
    fake: Any,
    roadmap: Any,  # noqa: F811
    association: str,
    bot: bool,
) -> None:
    consortium = await consortium_issue(flywheel, fake)
    issue = plain_issue(fake)
    fake.issue(REPO, issue.number).labels.append("support")
    fake.issue(REPO, issue.number).assignees.append("ada")
    grant(fake, "mallory[bot]", "admin")  # the bot's access must not matter either
    before = fake.snapshot()
    calls_before, changes_before = len(fake.calls), len(fake.changes)
    for name in CHANGING_ALL:
        target = consortium if name in ("join", "roles", "leave") else issue
        cid, row = await say(
            flywheel, target, EXAMPLES[name], author="mallory", association=association, bot=bot
        )
        assert row["state"] == "done", (name, row)
        assert fake.reactions_on(cid) == ([] if bot else ["confused"]), name
    after = fake.snapshot()
    assert after["issues"] == before["issues"]
    assert (after["labels"], after["boards"]) == (before["labels"], before["boards"])
    new_comments = [
        comment[2] for comment in after["comments"]
        if comment not in before["comments"] and "<!-- flywheel:" in comment[2]
    ]  # fmt: skip
    writes = [
        c for c in fake.calls[calls_before:]
        if c.method != "GET" and not c.path.endswith("/access_tokens")
    ]  # fmt: skip
    if bot:
        assert new_comments == [] and writes == []
        return
    # Outsiders hear why, once per comment, and nothing else is written.
    assert all("<!-- flywheel:reply." in body for body in new_comments)
    assert len(new_comments) == len(CHANGING_ALL)
    assert all(c.path.endswith(("/comments", "/reactions", "/graphql")) for c in writes)
    changed = {what for what, _ in fake.changes[changes_before:]}
    assert changed <= {"comment created", "comment edited"}


# Who the commenter is → (author_association on the comment, org member?, repository role).
PEOPLE = {
    "outsider": ("NONE", False, "none"),
    "read collaborator": ("COLLABORATOR", False, "read"),
    "triage collaborator": ("COLLABORATOR", False, "triage"),
    "write collaborator": ("COLLABORATOR", False, "write"),
    "maintain collaborator": ("COLLABORATOR", False, "maintain"),
    "admin collaborator": ("COLLABORATOR", False, "admin"),
    "org member": ("MEMBER", True, "read"),
    "private org member": ("CONTRIBUTOR", True, "read"),
    "owner": ("OWNER", False, "none"),
    "author": ("NONE", False, "none"),
    "team member": ("CONTRIBUTOR", False, "none"),
}
LADDER_LEVELS = ("anyone", "author", "member", "representative", "triage", "write", "maintain",
                 "admin", "team:community-team")  # fmt: skip


def expected(level: str, who: str) -> bool:
    """What README says: a level admits everyone above it, owners always."""
    _association, member, role = PEOPLE[who]
    rank = ("none", "read", "triage", "write", "maintain", "admin").index(role)
    if level == "anyone" or who == "owner":
        return True
    if level == "team:community-team":
        return who == "team member" or role == "admin"
    if level in ("author", "member", "representative"):
        return member or rank >= 2 or (level == "author" and who == "author")
    return rank >= ("none", "read", "triage", "write", "maintain", "admin").index(level)


@pytest.mark.parametrize("level", LADDER_LEVELS)
async def test_every_level_admits_every_higher_role(github: Any, fake: Any, level: str) -> None:
    from app.github.permissions import Commenter, PermissionChecker

    gh = await github.for_installation(1)
    checker = PermissionChecker()
    fake.teams[(ORG, "community-team")] = {"team-member"}
    verdicts = {}
    for who, (association, member, role) in PEOPLE.items():
        login = who.replace(" ", "-")
        if member:
            fake.org_members.add((ORG.lower(), login))
        if role != "none":
            fake.permissions[(REPO, login)] = role
        commenter = Commenter(login, association, issue_author="author")
        verdicts[who] = await checker.allows(gh, REPO, commenter, level)
    wrong = {who: got for who, got in verdicts.items() if got != expected(level, who)}
    assert wrong == {}, f"level {level}: {wrong}"
