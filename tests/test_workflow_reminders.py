"""Date reminders: due at 60, 14 and 2 days before an offboarding's end, each posted once."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.config.model import Config
from app.github.app import GitHubApp
from app.intake.reminders import sweep
from app.plan.comments import Caches
from app.workflows import forms
from app.workflows.reminders import due_reminders
from tests.conftest import REPO
from tests.live import live_env, run_live_cli
from tests.test_workflow_offboarding import OFFBOARDING_BODY

END = date(2027, 6, 30)


def offboarding(fake: Any, end: date = END, *, state: str = "open") -> Any:
    body = OFFBOARDING_BODY.replace("2027-06-30", end.isoformat())
    issue = fake.add_issue(REPO, "[Offboarding] Hypatia College", body, labels=("type: offboard",))
    issue.state = state
    return issue


def reminders_on(fake: Any, issue: Any) -> list[str]:
    return [c["body"] for c in fake.comments_on(REPO, issue.number)]


@pytest.mark.parametrize(
    ("days_left", "expected"),
    [(90, None), (60, 60), (59, 60), (15, 60), (14, 14), (10, 14), (2, 2), (0, 2), (-1, None)],
)
def test_the_nearest_threshold_reached_is_due(
    config: Config, days_left: int, expected: int | None
) -> None:
    workflow = config.workflows["offboarding"]
    values = forms.read(workflow, OFFBOARDING_BODY)
    due = due_reminders(workflow, values, END - timedelta(days=days_left))
    assert [d.threshold for d in due] == ([expected] if expected else [])


async def test_a_reminder_is_posted_once_and_the_next_one_when_due(
    fake: Any, github: GitHubApp, config: Config
) -> None:
    issue = offboarding(fake)
    caches = Caches()
    report = await sweep(github, config, caches, today=END - timedelta(days=14))
    assert report.posted == 1
    (first,) = reminders_on(fake, issue)
    assert "**14 days** until decommission (2027-06-30)" in first
    assert "<!-- flywheel:reminder.end_date.14" in first

    fake.reset_calls()
    again = await sweep(github, config, caches, today=END - timedelta(days=13))
    assert again.posted == 0
    assert len(reminders_on(fake, issue)) == 1
    assert not [c for c in fake.calls if c.method != "GET"], "a second sweep writes nothing"

    await sweep(github, config, caches, today=END - timedelta(days=2))
    bodies = reminders_on(fake, issue)
    assert len(bodies) == 2
    assert "**2 days** until decommission" in bodies[1]
    assert "confirm that user data has been exported" in bodies[1]


async def test_closed_undated_and_other_issues_get_no_reminder(
    fake: Any, github: GitHubApp, config: Config
) -> None:
    closed = offboarding(fake, state="closed")
    undated = fake.add_issue(
        REPO,
        "[Offboarding] Lovelace Lab",
        OFFBOARDING_BODY.replace("2027-06-30", "_No response_"),
        labels=("type: offboard",),
    )
    report = await sweep(github, config, Caches(), today=END - timedelta(days=2))
    assert report.posted == 0
    assert reminders_on(fake, closed) == [] and reminders_on(fake, undated) == []


async def test_flywheel_remind_is_the_same_sweep_for_cron(
    fake: Any, fake_url: str, private_key: str, tmp_path: Path
) -> None:
    issue = offboarding(fake)
    env = live_env(fake_url, private_key, tmp_path)

    async def remind(today: date) -> tuple[int, str]:
        return await run_live_cli(env, "remind", "--today", today.isoformat())

    code, out = await remind(END - timedelta(days=60))
    assert code == 0, out
    assert "1 posted" in out
    code, out = await remind(END - timedelta(days=60))
    assert code == 0 and "0 posted, 1 already sent" in out, out
    (body,) = reminders_on(fake, issue)
    assert "**60 days** until Hypatia College's hub is decommissioned" in body
