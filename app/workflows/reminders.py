"""Which date reminders are due: "14 days until this hub is decommissioned", once per threshold.

Pure rules over a workflow's reminder specs and an issue's form values; the sweep that
posts them is ``app/intake/reminders.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..config.model import ReminderSpec, Workflow
from . import forms


@dataclass(frozen=True)
class DueReminder:
    spec: ReminderSpec
    threshold: int  # the days_before value this reminder stands for
    days_left: int

    @property
    def key(self) -> str:
        return f"reminder.{self.spec.field}.{self.threshold}"


def due_reminders(workflow: Workflow, values: forms.FormValues, today: date) -> list[DueReminder]:
    """The reminder each dated field is due for today, if any.

    Only the nearest threshold already reached counts: an issue opened ten days
    before its end date gets the 14-day reminder, not a stale 60-day one too.
    Past dates get nothing; there is nothing left to remind anyone of.
    """
    due = []
    for spec in workflow.reminders:
        raw = values.get(spec.field)
        try:
            when = date.fromisoformat(raw) if raw else None
        except ValueError:
            when = None
        if when is None:
            continue
        days_left = (when - today).days
        reached = [d for d in spec.days_before if 0 <= days_left <= d]
        if reached:
            due.append(DueReminder(spec, min(reached), days_left))
    return due
