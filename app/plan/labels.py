"""Labels on issues: read what the event and our own writes say, write only the difference.

Labels a repository lacks are created first (with their colour and description);
the labels themselves go in the plan's batch of writes when GitHub's ids for the
issue and the labels are known, and as a REST call otherwise.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..config.labels import LabelSpec
from ..github.batch import MutationBatch
from ..github.client import GitHubClient
from ..github.errors import PermanentGitHubError, classify
from .actions import ActionResult, EnsureLabels
from .comments import Caches


class LabelWriter:
    """One delivery's label changes (the repository label lists it read are shared)."""

    def __init__(self, gh: GitHubClient, caches: Caches, batch: MutationBatch) -> None:
        self.gh = gh
        self.caches = caches
        self.batch = batch
        self._listing: dict[str, asyncio.Task[dict[str, str]]] = {}

    async def apply(self, action: EnsureLabels) -> ActionResult:
        described = action.describe()
        added_here = self.caches.labels_added.get(action.issue, set())
        if action.present is not None:
            present = {name.lower() for name in action.present} | added_here
            to_add = [lab for lab in action.add if lab.name.lower() not in present]
            to_remove = [name for name in action.remove if name.lower() in present]
        else:
            to_add = [lab for lab in action.add if lab.name.lower() not in added_here]
            to_remove = list(action.remove)
        if not to_add and not to_remove:
            return ActionResult(described, "unchanged")
        if to_add:
            ids = await self.ensure_repo_labels(action.issue.repo, to_add)
            await self._add(action, [lab.name for lab in to_add], ids)
            self.caches.labels_added[action.issue] = added_here | {
                lab.name.lower() for lab in to_add
            }
        if to_remove:
            await self._remove(action, to_remove)
            for name in to_remove:
                self.caches.labels_added.get(action.issue, set()).discard(name.lower())
        return ActionResult(described, "applied")

    async def _batched(self, action: EnsureLabels, mutation: str, label_ids: list[str]) -> bool:
        """The change as one write of the plan's batch, when GitHub's ids are all known."""
        node_id = self.caches.node_ids.get(action.issue)
        if not (node_id and all(label_ids)):
            return False
        await self.batch.run(mutation, {"labelableId": node_id, "labelIds": label_ids})
        return True

    async def _add(self, action: EnsureLabels, names: list[str], ids: dict[str, str]) -> None:
        label_ids = [ids.get(name.lower(), "") for name in names]
        if await self._batched(action, "addLabelsToLabelable", label_ids):
            return
        url = f"/repos/{action.issue.repo}/issues/{action.issue.number}/labels"
        await self.gh.post(url, data={"labels": names})

    async def _remove(self, action: EnsureLabels, names: list[str]) -> None:
        known = self.caches.repo_labels.get(action.issue.repo) or {}
        label_ids = [known.get(name.lower(), "") for name in names]
        if await self._batched(action, "removeLabelsFromLabelable", label_ids):
            return
        url = f"/repos/{action.issue.repo}/issues/{action.issue.number}/labels"
        for name in names:
            try:
                await self.gh.delete(url + "/{name}", {"name": name})
            except Exception as exc:  # already gone is what we wanted
                error = classify(exc)
                if not (isinstance(error, PermanentGitHubError) and error.status == 404):
                    raise

    async def ensure_repo_labels(self, repo: str, wanted: list[LabelSpec]) -> dict[str, str]:
        """Create the labels the repository lacks; their ids by lower-case name ("" unknown).

        A repository whose labels were listed in the last minutes is not listed again for
        a label it lacked then (a new community's): that one is created, and if someone
        made it meanwhile GitHub's "already exists" is as good.
        """
        known = self.caches.repo_labels.get(repo)
        if known is not None and all(label.name.lower() in known for label in wanted):
            return known
        if known is not None:
            existing = dict(known)
        else:
            task = self._listing.get(repo)
            if task is None:
                task = asyncio.ensure_future(self._list_repo_labels(repo))
                self._listing[repo] = task
            existing = dict(await task)
        for label in wanted:
            if label.name.lower() in existing:
                continue
            created: Any = {}
            try:
                created = await self.gh.post(
                    f"/repos/{repo}/labels",
                    data={
                        "name": label.name,
                        "color": label.color.lstrip("#"),
                        "description": label.description[:100],
                    },
                )
            except Exception as exc:  # created meanwhile by someone else: fine
                error = classify(exc)
                if not (isinstance(error, PermanentGitHubError) and error.status == 422):
                    raise
            node_id = created.get("node_id") if isinstance(created, dict) else None
            existing[label.name.lower()] = str(node_id or "")
        self.caches.repo_labels[repo] = existing
        return existing

    async def _list_repo_labels(self, repo: str) -> dict[str, str]:
        labels: dict[str, str] = {}
        async for label in self.gh.getiter(f"/repos/{repo}/labels?per_page=100"):
            labels[label["name"].lower()] = str(label.get("node_id") or "")
        return labels
