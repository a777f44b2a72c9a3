"""Slash commands end to end: each command's effect, the grammar's limits, one answer a comment."""

from __future__ import annotations

from typing import Any

from tests import payloads
from tests.commenting import replies, say
from tests.conftest import ORG, REPO, Flywheel
from tests.test_workflow_onboarding import ANSWERS, board, open_onboarding  # noqa: F401

STAFF = "tomas"  # has triage on the repository, shows as CONTRIBUTOR (private membership)


def plain_issue(fake: Any, title: str = "Our hub is out of disk space") -> Any:
    return fake.add_issue(REPO, title, "Users cannot save notebooks since Monday.", user="ada")


def grant(fake: Any, login: str = STAFF, role: str = "triage", repo: str = REPO) -> None:
    fake.permissions[(repo, login)] = role


async def test_label_by_triager_adds_it_with_a_thumbs_up_and_no_reply(
    flywheel: Flywheel, fake: Any
) -> None:
    grant(fake)
    issue = plain_issue(fake)
    cid, row = await say(flywheel, issue, "/label support", author=STAFF, association="CONTRIBUTOR")
    assert row["state"] == "done", row
    assert fake.issue(REPO, issue.number).labels == ["support"]
    assert fake.reactions_on(cid) == ["+1"]
    assert replies(fake, issue) == []


async def test_commands_run_in_order_and_one_reply_sums_up(flywheel: Flywheel, fake: Any) -> None:
    grant(fake)
    issue = plain_issue(fake)
    body = (
        "Thanks for the report, looking now.\n\n"
        "/label support event\n"
        "/remove-label event\n"
        "/label bug\n"
        "/lable support\n"
        "/assign\n"
    )
    cid, _ = await say(flywheel, issue, body, author=STAFF, association="CONTRIBUTOR")
    now = fake.issue(REPO, issue.number)
    assert now.labels == ["support"], "label then remove-label leaves it off"
    assert now.assignees == [STAFF], "/assign alone assigns the commenter"
    assert sorted(fake.reactions_on(cid)) == ["+1", "confused"]
    (reply,) = replies(fake, issue)
    assert "`/label` was not able to set bug" in reply
    assert "Contract Deliverable" in reply, "the refusal lists what may be set"
    assert "`/lable` is not a Flywheel command. Did you mean `/label`?" in reply


async def test_quoted_code_and_bot_comments_run_nothing_and_edits_do_not_replay(
    flywheel: Flywheel, fake: Any
) -> None:
    grant(fake)
    grant(fake, "helper")
    issue = plain_issue(fake)
    quoted = "> /label support\n\n```\n/close\n```\n\n    /close\n"
    cid, _ = await say(flywheel, issue, quoted, author=STAFF, association="CONTRIBUTOR")
    await say(flywheel, issue, "/close", author="helper", bot=True)
    edited = payloads.comment_event(
        fake, issue, "/close", author=STAFF, association="MEMBER", comment_id=cid, action="edited"
    )
    await flywheel.deliver("issue_comment", edited)
    now = fake.issue(REPO, issue.number)
    assert now.state == "open" and now.labels == []
    assert fake.reactions == [] and replies(fake, issue) == []
    writes = [c for c in fake.calls if c.method != "GET" and "access_tokens" not in c.path]
    assert writes == []


async def test_unknown_and_malformed_commands_are_answered(flywheel: Flywheel, fake: Any) -> None:
    grant(fake)
    issue = plain_issue(fake)
    cid, _ = await say(
        flywheel, issue, "/comunity\n/cc @someone\n/why now", author=STAFF, association="MEMBER"
    )
    (reply,) = replies(fake, issue)
    assert "`/comunity` is not a Flywheel command. Did you mean `/community`?" in reply
    assert "`/why` was not run: it is written `/why`" in reply
    assert "/cc" not in reply, "names other tools use are ignored"
    assert fake.reactions_on(cid) == ["confused"]


def gfm_table_rows(markdown: str) -> list[list[str]]:
    """The body rows of the tables in ``markdown``, each as its cells' text, as GFM parses it."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    rows: list[list[str]] = []
    in_body = False
    for token in tokens:
        if token.type == "tbody_open":
            in_body = True
        elif token.type == "tbody_close":
            in_body = False
        elif in_body and token.type == "tr_open":
            rows.append([])
        elif in_body and token.type == "inline":
            text = "".join(
                child.content
                for child in token.children or []
                if child.type in ("text", "code_inline")
            )
            rows[-1].append(text)
    return rows


async def test_help_lists_the_commands_of_this_issue(flywheel: Flywheel, fake: Any) -> None:
    issue = plain_issue(fake)
    cid, _ = await say(flywheel, issue, "/help", author="visitor", association="NONE")
    (reply,) = replies(fake, issue)
    assert "| `/label NAME…` | **triage** access to this repository or more |" in reply
    assert "| `/help` | anyone |" in reply
    assert "/join" not in reply, "membership commands only show on consortium issues"
    assert fake.reactions_on(cid) == ["+1"]
    # As GitHub renders it (GFM tables): every row has its two cells, pipes stay inside them.
    rows = gfm_table_rows(reply)
    assert rows and all(len(cells) == 2 for cells in rows), rows
    assert any(cells[0] == "/close [completed|not-planned|duplicate]" for cells in rows), rows
    # GitHub redelivers the same comment (a new delivery id): no second reply, no new reaction.
    again = payloads.comment_event(
        fake, issue, "/help", author="visitor", association="NONE", comment_id=cid
    )
    await flywheel.deliver("issue_comment", again)
    assert len(replies(fake, issue)) == 1
    assert fake.reactions_on(cid) == ["+1"]


async def test_typed_arguments_never_mention_run_or_template(flywheel: Flywheel, fake: Any) -> None:
    grant(fake)
    issue = plain_issue(fake)
    body = '/label "@example-org/everyone {{ 7*7 }} <!-- --> \u200b" "\n/close"\n/xyz @ada'
    await say(flywheel, issue, body, author=STAFF, association="CONTRIBUTOR")
    (reply,) = replies(fake, issue)
    assert "@example-org" not in reply and "@ada" not in reply, "no mention fires"
    assert "{{" not in reply and "49" not in reply, "no template runs"
    assert "<!-- -->" not in reply and reply.count("-->") == 1, "our marker survives"
    assert fake.issue(REPO, issue.number).state == "open"


async def test_status_matches_board_options_case_insensitively(
    flywheel: Flywheel,
    fake: Any,
    board: Any,  # noqa: F811
) -> None:
    grant(fake)
    issue = open_onboarding(fake, ANSWERS)
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    await say(flywheel, issue, "/status in progress", author=STAFF, association="CONTRIBUTOR")
    assert fake.board_values(ORG, 1, issue.node_id)["Status"] == "In progress"
    await say(flywheel, issue, "/status Shipped", author=STAFF, association="CONTRIBUTOR")
    assert fake.board_values(ORG, 1, issue.node_id)["Status"] == "In progress"
    (reply,) = replies(fake, issue)
    assert "the board's Status has no option Shipped" in reply
    assert "Options: Refined, Up Next, In progress" in reply


async def test_community_sets_label_and_replaces_the_old_one(flywheel: Flywheel, fake: Any) -> None:
    grant(fake)
    issue = plain_issue(fake)
    await say(flywheel, issue, "/community hypatia", author=STAFF, association="CONTRIBUTOR")
    assert fake.issue(REPO, issue.number).labels == ["community: hypatia"]
    assert fake.repos[REPO]["labels"]["community: hypatia"]["color"] == "c5def5"
    await say(flywheel, issue, "/community lovelace", author=STAFF, association="CONTRIBUTOR")
    assert fake.issue(REPO, issue.number).labels == ["community: lovelace"]
    await say(flywheel, issue, "/community Not A Slug", author=STAFF, association="CONTRIBUTOR")
    (reply,) = replies(fake, issue)
    assert "`/community` was not run: it is written `/community SLUG`" in reply


async def test_assign_close_and_reopen(flywheel: Flywheel, fake: Any) -> None:
    grant(fake)
    issue = plain_issue(fake)
    await say(flywheel, issue, "/assign @grace @ada", author=STAFF, association="CONTRIBUTOR")
    assert fake.issue(REPO, issue.number).assignees == ["grace", "ada"]
    await say(flywheel, issue, "/unassign @ada\n/close not-planned", author=STAFF)
    now = fake.issue(REPO, issue.number)
    assert now.assignees == ["grace"]
    assert (now.state, now.state_reason) == ("closed", "not_planned")
    await say(flywheel, issue, "/reopen", author=STAFF, association="CONTRIBUTOR")
    assert fake.issue(REPO, issue.number).state == "open"


async def test_why_tells_what_flywheel_did(flywheel: Flywheel, fake: Any, board: Any) -> None:  # noqa: F811
    issue = open_onboarding(fake, ANSWERS)
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    await say(flywheel, issue, "/why", author="ada", association="NONE")
    (reply,) = replies(fake, issue)
    assert "`issues.opened` · done" in reply
    assert "why: matched workflow onboarding (onboarding.yaml)" in reply
    assert "applied: labels on example-org/hubs#1" in reply


async def test_a_github_refusal_is_told_and_the_other_commands_still_run(
    flywheel: Flywheel, fake: Any
) -> None:
    grant(fake)
    issue = open_onboarding(fake, ANSWERS)  # its board does not exist on the fake
    cid, row = await say(flywheel, issue, "/status Done\n/label support", author=STAFF)
    assert row["state"] == "done", "a refusal the person was told about is not a failure"
    assert "support" in fake.issue(REPO, issue.number).labels
    (reply,) = replies(fake, issue)
    assert "`/status` failed: GitHub refused it (board example-org/1 not found" in reply
    assert sorted(fake.reactions_on(cid)) == ["+1", "confused"]
