"""Date reminders: "14 days until this hub is decommissioned", posted once per threshold.

No webhook announces that a date is near, so a sweep walks the open issues of
every workflow with reminders, in every repository of every installation. It
runs inside ``serve`` (every ``reminder_interval_minutes``) and as ``flywheel
remind`` for cron users; both apply the same plan, and each reminder is a
marked comment posted with ``once=True``, so running the sweep twice, or from
both places, never posts a reminder twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..config.model import Config, Workflow
from ..config.render import Renderer, renderer_for, trusted
from ..github.app import GitHubApp, installation_repositories
from ..github.client import GitHubClient
from ..plan.actions import ActionResult, IssueRef, UpsertComment
from ..plan.comments import Caches
from ..plan.executor import Executor
from ..workflows import forms
from ..workflows import rules as workflows
from ..workflows.reminders import DueReminder, due_reminders
from . import periodic

log = logging.getLogger("flywheel.reminders")


def reminder_comment(
    renderer: Renderer,
    config: Config,
    workflow: Workflow,
    issue: dict[str, Any],
    ref: IssueRef,
    values: forms.FormValues,
    reminder: DueReminder,
) -> UpsertComment:
    body = renderer.render(
        reminder.spec.template,
        days=reminder.days_left,
        threshold=reminder.threshold,
        values=values.values,
        workflow={"id": workflow.id, "title": workflow.title},
        issue={"number": ref.number, "title": issue.get("title", "")},
        notify=trusted(" ".join(workflow.notify)),
        footer=trusted(config.settings.help_footer),
    )
    return UpsertComment(ref, reminder.key, body, data={"days_left": reminder.days_left}, once=True)


def plan_for_issue(
    renderer: Renderer, config: Config, issue: dict[str, Any], repo: str, today: date
) -> list[UpsertComment]:
    workflow = workflows.match_workflow(config, issue)
    if workflow is None or not workflow.reminders or issue.get("state") != "open":
        return []
    values = forms.read(workflow, issue.get("body"))
    ref = IssueRef(repo, issue["number"])
    return [
        reminder_comment(renderer, config, workflow, issue, ref, values, due)
        for due in due_reminders(workflow, values, today)
    ]


@dataclass
class SweepReport:
    repositories: int = 0
    issues: int = 0
    results: list[ActionResult] = field(default_factory=list)

    @property
    def posted(self) -> int:
        return sum(1 for r in self.results if r.status == "applied")

    def summary(self) -> str:
        failed = sum(1 for r in self.results if r.status == "failed")
        return (
            f"reminders: {_count(self.repositories, 'repository', 'repositories')}, "
            f"{_count(self.issues, 'dated issue', 'dated issues')}, "
            f"{self.posted} posted, {len(self.results) - self.posted - failed} already sent, "
            f"{failed} failed"
        )


def _labels_to_list(config: Config) -> list[str]:
    """One label per workflow with reminders: the issues to look at, found by label."""
    return sorted({w.match.labels[0] for w in config.enabled() if w.reminders and w.match.labels})


async def sweep_installation(
    gh: GitHubClient, config: Config, caches: Caches, today: date, report: SweepReport
) -> None:
    renderer = renderer_for(config.settings.templates_dir)
    labels = _labels_to_list(config)
    if not labels:
        return
    executor = Executor(gh, caches)
    for repo in await installation_repositories(gh):
        report.repositories += 1
        for label in labels:
            async for issue in gh.getiter(
                f"/repos/{repo}/issues?state=open&per_page=100&labels={label}"
            ):
                if "pull_request" in issue:
                    continue
                plan = plan_for_issue(renderer, config, issue, repo, today)
                if plan:
                    report.issues += 1
                    report.results += await executor.apply(plan)


async def sweep(
    github: GitHubApp,
    config: Config,
    caches: Caches,
    *,
    today: date | None = None,
    installations: Iterable[int] | None = None,
) -> SweepReport:
    """Post every reminder due today, across installations; one failure does not stop the rest."""
    today = today or date.today()
    report = SweepReport()
    ids = list(installations) if installations is not None else await github.installation_ids()
    for installation_id in ids:
        try:
            gh = await github.for_installation(installation_id)
            await sweep_installation(gh, config, caches, today, report)
        except Exception as exc:
            log.warning("reminder sweep of installation %s failed: %s", installation_id, exc)
    return report


async def run_periodically(
    github: GitHubApp, config: Callable[[], Config], caches: Caches, interval_minutes: int
) -> None:
    """The sweep inside ``serve``: first soon after start, then every interval."""

    async def one_sweep() -> str:
        return (await sweep(github, config(), caches)).summary()

    await periodic.every(interval_minutes * 60, one_sweep, "reminder sweep", first_after=5)


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"
