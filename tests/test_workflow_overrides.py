"""A repository's .github/flywheel.yml: switch a workflow off, notify another team, move the
board; a broken file is reported on the issue and the central config is used."""

from __future__ import annotations

from typing import Any

from tests import payloads
from tests.conftest import REPO, Flywheel
from tests.test_workflow_onboarding import ANSWERS, board, open_onboarding  # noqa: F401

PATH = ".github/flywheel.yml"


async def test_a_repository_can_switch_a_workflow_off(
    flywheel: Flywheel,
    fake: Any,
    board: Any,  # noqa: F811
) -> None:
    fake.repos[REPO]["files"][PATH] = "workflows:\n  onboarding:\n    enabled: false\n"
    issue = open_onboarding(fake, ANSWERS)
    row = await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    assert row["state"] == "done"
    assert fake.comments_on(REPO, issue.number) == []
    assert fake.issue(REPO, issue.number).labels == ["type: onboard"]
    assert "no workflow matches this issue" in row["outcome"]["notes"]


async def test_a_repository_can_notify_its_own_team(
    flywheel: Flywheel,
    fake: Any,
    board: Any,  # noqa: F811
) -> None:
    fake.repos[REPO]["files"][PATH] = (
        "workflows:\n  onboarding:\n    notify: ['@example-org/hub-ops']\n"
    )
    issue = open_onboarding(fake, ANSWERS)
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    (comment,) = fake.comments_on(REPO, issue.number)
    assert "@example-org/hub-ops" in comment["body"]
    assert "@example-org/partnerships" not in comment["body"]


async def test_a_broken_override_is_reported_and_the_central_config_used(
    flywheel: Flywheel,
    fake: Any,
    board: Any,  # noqa: F811
) -> None:
    fake.repos[REPO]["files"][PATH] = (
        "workflows:\n  onboarding:\n    notify: ['@example-org/hub-ops']\n    template: x.j2\n"
    )
    issue = open_onboarding(fake, ANSWERS)
    row = await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
    assert row["state"] == "done"
    bodies = [c["body"] for c in fake.comments_on(REPO, issue.number)]
    assert len(bodies) == 2
    (problem,) = [b for b in bodies if "could not use" in b]
    assert "line 4: 'template' cannot be overridden" in problem
    (checklist,) = [b for b in bodies if "Onboarding checklist" in b]
    assert "@example-org/partnerships" in checklist  # the central config, untouched
    assert any(".github/flywheel.yml ignored" in n for n in row["outcome"]["notes"])

    # Redelivered or edited again: the same report is not posted twice.
    await flywheel.deliver("issues", payloads.issues_event(fake, issue, "reopened"))
    assert len(fake.comments_on(REPO, issue.number)) == 2


async def test_without_contents_permission_there_is_no_override_and_the_log_says_why(
    flywheel: Flywheel, fake: Any, board: Any, caplog: Any  # noqa: F811
) -> None:
    """An App registered without Contents: read gets 403 on the optional override file:
    that means "no override", said once in the log, never a failed delivery."""
    fake.fail_next(10, status=403, match="/contents/")
    first = open_onboarding(fake, ANSWERS)
    second = open_onboarding(fake, {**ANSWERS, "Community slug": "curie"})
    for issue in (first, second):
        row = await flywheel.deliver("issues", payloads.issues_event(fake, issue, "opened"))
        assert row["state"] == "done", row
        assert "new hub" in fake.issue(REPO, issue.number).labels
    said = [r.getMessage() for r in caplog.records if "Contents: read" in r.getMessage()]
    assert len(said) == 1 and "403" in said[0]
