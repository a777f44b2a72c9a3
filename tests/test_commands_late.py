"""Commands that arrive late (redelivered after an outage) never undo a later comment's."""

from __future__ import annotations

from typing import Any

from tests import payloads
from tests.conftest import REPO, Flywheel
from tests.test_commands_basic import STAFF, grant, plain_issue
from tests.test_commands_consortium import consortium_issue, roadmap, table  # noqa: F401


def written(flywheel: Flywheel, issue: Any, body: str, author: str = STAFF, **kw: Any) -> Any:
    """A comment GitHub has, and the delivery it has not handed over yet."""
    cid = flywheel.fake.add_comment(issue.repo, issue.number, body, user=author)
    return cid, payloads.comment_event(
        flywheel.fake, issue, body, author=author, comment_id=cid, **kw
    )


async def test_a_late_assign_does_not_undo_a_later_unassign(flywheel: Flywheel, fake: Any) -> None:
    grant(fake)
    issue = plain_issue(fake)
    first, assign = written(flywheel, issue, "/assign @ada\n/label support")
    second, unassign = written(flywheel, issue, "/unassign @ada")
    await flywheel.deliver("issue_comment", unassign)
    row = await flywheel.deliver("issue_comment", assign)  # redelivered after the outage
    now = fake.issue(REPO, issue.number)
    assert now.assignees == []  # as if run in order: assigned, then unassigned
    assert now.labels == ["support"]  # nothing later decided this one: it runs
    assert fake.reactions_on(first) == ["+1"] and fake.reactions_on(second) == ["+1"]
    assert any("overtaken by a later comment" in n for n in row["outcome"]["notes"])


async def test_in_order_commands_and_older_undecided_ones_run(
    flywheel: Flywheel, fake: Any
) -> None:
    grant(fake)
    issue = plain_issue(fake)
    _, close = written(flywheel, issue, "/close")
    _, label = written(flywheel, issue, "/label event")
    _, reopen = written(flywheel, issue, "/reopen")
    await flywheel.deliver("issue_comment", close)
    await flywheel.deliver("issue_comment", reopen)
    await flywheel.deliver("issue_comment", label)  # late, but nothing later touched the label
    now = fake.issue(REPO, issue.number)
    assert (now.state, now.labels) == ("open", ["event"])


async def test_a_refused_later_command_does_not_block_a_late_one(
    flywheel: Flywheel, fake: Any
) -> None:
    grant(fake)
    issue = plain_issue(fake)
    _, close = written(flywheel, issue, "/close")
    _, reopen = written(flywheel, issue, "/reopen", author="mallory", association="NONE")
    await flywheel.deliver("issue_comment", reopen)  # refused: it decided nothing
    await flywheel.deliver("issue_comment", close)
    assert fake.issue(REPO, issue.number).state == "closed"


async def test_a_late_join_takes_its_place_before_a_later_leave(
    flywheel: Flywheel,
    fake: Any,
    roadmap: Any,  # noqa: F811
) -> None:
    issue = await consortium_issue(flywheel, fake)
    _, join = written(flywheel, issue, "/join test", author="charles", association="NONE")
    _, leave = written(flywheel, issue, "/leave", author="charles", association="NONE")
    _, join_again = written(flywheel, issue, "/join co-fund", author="charles", association="NONE")
    await flywheel.deliver("issue_comment", leave)
    await flywheel.deliver("issue_comment", join_again)
    await flywheel.deliver("issue_comment", join)  # late: it goes before the leave
    assert table(fake, issue) == ["| lovelace | co-fund | 2026-11-02 | charles |"]


async def test_commands_written_a_moment_apart_see_each_others_changes(
    flywheel: Flywheel, fake: Any
) -> None:
    """Both payloads carry the issue as it was before either ran (no label, no assignee)."""
    grant(fake)
    issue = plain_issue(fake)
    _, first = written(flywheel, issue, "/assign @ada\n/label support")
    _, second = written(flywheel, issue, "/unassign @ada\n/remove-label support")
    assert second["issue"]["assignees"] == [] and second["issue"]["labels"] == []
    await flywheel.deliver("issue_comment", first)
    await flywheel.deliver("issue_comment", second)
    now = fake.issue(REPO, issue.number)
    assert (now.assignees, now.labels) == ([], [])
