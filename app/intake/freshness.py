"""Out-of-order deliveries: an older payload must never overwrite what a newer one did.

GitHub sends deliveries in order, but a redelivery after an outage (or a
person pressing *Redeliver*) arrives after newer deliveries about the same
issue. Its payload then describes the issue as it was: acting on it would
bring back an old checklist, old facts, an old index entry. The issue's
``updated_at`` tells: when a payload is older than one already handled for
the issue, the issue is read again from GitHub and the delivery runs on that.
Replicas share the journal, and any of them may have applied the newer one:
there the journal is asked every time, not only after a start.
"""

from __future__ import annotations

from dataclasses import dataclass

import cachetools
from gidgethub import sansio

from ..github.client import GitHubClient
from ..github.errors import PermanentGitHubError, classify
from ..store.journal import Journal

# The state each action claims; a re-read issue in another state makes the delivery moot.
CLAIMED_STATE = {"closed": "closed", "reopened": "open"}


class Freshness:
    """The newest issue version handled per issue: in memory, and from the journal after a
    start (or always, when other replicas apply deliveries too)."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._newest: cachetools.LRUCache[tuple[str, int], str] = cachetools.LRUCache(65536)

    async def newest_handled(self, repo: str, number: int) -> str:
        key = (repo, number)
        if key not in self._newest or self._journal.SHARED:
            stored = await self._journal.newest_issue_version(repo, number)
            self._newest[key] = max(stored, self._newest.get(key, ""))
        return self._newest[key]

    def handled(self, event: sansio.Event) -> None:
        found = _issue_key(event)
        if found is None:
            return
        key, updated = found
        if updated > self._newest.get(key, ""):
            self._newest[key] = updated

    async def refresh(self, event: sansio.Event, gh: GitHubClient | None) -> Refreshed:
        """The event to run, with a note when its payload was stale.

        An ``issues`` event older than one already handled gets the issue as it
        is now; if the issue is no longer in the state the action claims (a
        late "closed" for an issue reopened since), the note says so and the
        caller skips the delivery.
        """
        found = _issue_key(event)
        if gh is None or event.event != "issues" or found is None:
            return Refreshed(event)
        (repo, number), updated = found
        newest = await self.newest_handled(repo, number)
        if not updated or updated >= newest:
            return Refreshed(event)
        try:
            current = await gh.getitem(f"/repos/{repo}/issues/{number}")
        except Exception as exc:
            error = classify(exc)
            if isinstance(error, PermanentGitHubError) and error.status in (404, 410):
                return Refreshed(event)  # deleted since: the payload is all there is
            raise error from exc
        data = {**event.data, "issue": current}
        note = f"payload of {updated} older than one handled ({newest}): issue read again"
        claimed = CLAIMED_STATE.get(str(event.data.get("action")))
        moot = claimed is not None and current.get("state") != claimed
        if moot:
            note += f"; it is {current.get('state')} now, so this {event.data['action']} is moot"
        fresh = sansio.Event(data, event=event.event, delivery_id=event.delivery_id)
        return Refreshed(fresh, note, moot)


@dataclass(frozen=True)
class Refreshed:
    event: sansio.Event
    note: str = ""  # why the issue was read again ("" when the payload was current)
    moot: bool = False  # the action no longer holds: skip the delivery


def _issue_key(event: sansio.Event) -> tuple[tuple[str, int], str] | None:
    repo = (event.data.get("repository") or {}).get("full_name")
    issue = event.data.get("issue")
    if not isinstance(repo, str) or not isinstance(issue, dict):
        return None
    number, updated = issue.get("number"), issue.get("updated_at")
    if not isinstance(number, int):
        return None
    return (repo, number), updated if isinstance(updated, str) else ""
