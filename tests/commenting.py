"""Writing a comment on the fake GitHub and delivering its webhook, as GitHub would."""

from __future__ import annotations

from typing import Any

from tests import payloads
from tests.conftest import Flywheel
from tests.fakegithub import Issue


async def say(
    flywheel: Flywheel,
    issue: Issue,
    body: str,
    *,
    author: str = "maria",
    association: str = "MEMBER",
    bot: bool = False,
) -> tuple[int, dict[str, Any]]:
    """Post ``body`` as ``author`` and process the delivery: (comment id, journal row)."""
    fake = flywheel.fake
    cid = fake.add_comment(issue.repo, issue.number, body, user=author + ("[bot]" if bot else ""))
    event = payloads.comment_event(
        fake,
        issue,
        body,
        author=author + ("[bot]" if bot else ""),
        association=association,
        bot=bot,
        comment_id=cid,
    )
    row = await flywheel.deliver("issue_comment", event)
    return cid, row


def replies(fake: Any, issue: Issue) -> list[str]:
    """Flywheel's command replies on an issue (not its workflow comments)."""
    return [
        c["body"]
        for c in fake.bot_comments_on(issue.repo, issue.number)
        if "<!-- flywheel:reply." in c["body"]
    ]
