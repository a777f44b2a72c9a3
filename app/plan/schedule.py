"""In what order a plan's actions run: as much at once as GitHub's state allows.

Every action of a plan is independent of the others, save three orders: placements
of one issue on one board go in plan order (two would race to set its first
Status), label changes of one issue too (the second then finds what the first
added), and a comment on another issue that names a labelled one waits for the
labels. Everything else is one round trip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .actions import Action, ActionResult, EnsureLabels, EnsureProjectItem, OpenIssue, UpsertComment


def mentions_of_labelled(plan: Sequence[Action]) -> set[int]:
    """The actions (by ``id``) that wait for the plan's labels to land.

    A comment on *another* issue that names a labelled one (a backlink, a related request)
    must not be seen before the labels that make the labelled issue findable; everything
    else (the issue's own comment, its board item) goes together with its labels, in one
    round trip.
    """
    labelled = {a.issue for a in plan if isinstance(a, EnsureLabels)}
    if not labelled:
        return set()
    return {
        id(a)
        for a in plan
        if isinstance(a, OpenIssue) or (isinstance(a, UpsertComment) and a.issue not in labelled)
    }


async def run_in_order(
    actions: Sequence[Action], apply_one: Callable[[Action], Awaitable[ActionResult]]
) -> list[Any]:
    """Each action's result, or the exception it raised (like gather's
    ``return_exceptions``), in plan order."""
    waiting = mentions_of_labelled(actions)
    chains: dict[Any, list[int]] = {}
    for index, action in enumerate(actions):
        key: Any = index
        if isinstance(action, EnsureProjectItem):
            key = (action.content_id, action.owner, action.number)
        elif isinstance(action, EnsureLabels):
            key = ("labels", action.issue)  # the second finds what the first added
        chains.setdefault(key, []).append(index)
    outcomes: list[Any] = [None] * len(actions)
    labels_left = sum(1 for a in actions if isinstance(a, EnsureLabels))
    labels_done = asyncio.Event()
    if not labels_left:
        labels_done.set()

    async def run(indexes: list[int]) -> None:
        nonlocal labels_left
        for index in indexes:
            action = actions[index]
            if id(action) in waiting:
                await labels_done.wait()
            try:
                outcomes[index] = await apply_one(action)
            except Exception as exc:
                outcomes[index] = exc
            if isinstance(action, EnsureLabels):
                labels_left -= 1
                if not labels_left:
                    labels_done.set()

    await asyncio.gather(*(run(indexes) for indexes in chains.values()))
    return outcomes
