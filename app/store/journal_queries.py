"""What the journal answers about deliveries past: the dashboard, ``/why``, freshness, redelivery.

Read-only queries, run on the journal's reader connection; the writes and the threads that
make them durable are ``journal.py``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from .delivery import DONE, FAILED, PENDING, RUNNING
from .journal_sql import LISTED, row_summary


class JournalQueries:
    """The queries, written once for both engines: ``?`` placeholders, and the expressions
    that differ (reading a value out of a stored payload) as attributes."""

    LISTED = LISTED
    PRIVATE = "json_extract(CAST(payload AS TEXT), '$.repository.private')"
    UPDATED_AT = "json_extract(CAST(payload AS TEXT), '$.issue.updated_at')"
    # Whether other processes apply deliveries from this journal too (replicas): what one
    # process remembers of deliveries applied is then not the whole story.
    SHARED = False

    async def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

    async def counts(self) -> dict[str, int]:
        rows = await self.query("SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state")
        counts = {PENDING: 0, RUNNING: 0, DONE: 0, FAILED: 0}
        counts.update({r["state"]: r["n"] for r in rows})
        return counts

    async def get(self, delivery_id: str) -> dict[str, Any] | None:
        rows = await self.query("SELECT * FROM deliveries WHERE id=?", (delivery_id,))
        return row_summary(rows[0]) if rows else None

    async def recent(
        self, limit: int = 100, *, state: str = "", repo: str = ""
    ) -> list[dict[str, Any]]:
        """The latest deliveries, newest first, for the dashboard (no payloads, but privacy)."""
        where, params = [], []
        if state:
            where.append("state=?")
            params.append(state)
        if repo:
            where.append("repo=?")
            params.append(repo)
        rows = await self.query(
            f"SELECT {self.LISTED} FROM deliveries"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY seq DESC LIMIT ?",
            [*params, limit],
        )  # fmt: skip
        return [dict(r) for r in rows]

    async def retrying(self, limit: int = 50) -> list[dict[str, Any]]:
        """Deliveries waiting for another attempt after a failed one, soonest first."""
        rows = await self.query(
            f"SELECT {self.LISTED} FROM deliveries WHERE state='pending' AND attempts > 0"
            " ORDER BY next_attempt_at LIMIT ?",
            (limit,),
        )
        return [dict(r) for r in rows]

    async def repos(self) -> dict[str, bool]:
        """Repository → whether it is private, as its latest delivery says."""
        rows = await self.query(
            f"SELECT repo, {self.PRIVATE} AS private"
            " FROM deliveries WHERE seq IN"
            " (SELECT MAX(seq) FROM deliveries WHERE repo IS NOT NULL GROUP BY repo)"
        )
        return {r["repo"]: bool(r["private"]) for r in sorted(rows, key=lambda r: r["repo"])}

    async def payload(self, delivery_id: str) -> bytes:
        """A delivery's body, as received (the dispatcher does not keep it while it waits)."""
        rows = await self.query("SELECT payload FROM deliveries WHERE id=?", (delivery_id,))
        return bytes(rows[0]["payload"]) if rows else b""

    async def known(self, delivery_ids: list[str]) -> set[str]:
        """Which of these delivery ids the journal holds, in whatever state."""
        found: set[str] = set()
        for start in range(0, len(delivery_ids), 500):
            chunk = delivery_ids[start : start + 500]
            rows = await self.query(
                f"SELECT id FROM deliveries WHERE id IN ({','.join('?' * len(chunk))})", chunk
            )
            found.update(r["id"] for r in rows)
        return found

    async def newest_issue_version(self, repo: str, number: int, limit: int = 20) -> str:
        """The newest ``issue.updated_at`` among the latest applied deliveries about an issue
        ("" for none): what an older payload arriving late is measured against."""
        rows = await self.query(
            f"SELECT MAX(v) AS newest FROM (SELECT {self.UPDATED_AT} AS v FROM deliveries"
            " WHERE repo=? AND issue_number=? AND state=? ORDER BY seq DESC LIMIT ?) latest",
            (repo, number, DONE, limit),
        )
        newest = rows[0]["newest"] if rows else None
        return newest if isinstance(newest, str) else ""

    async def decided_after(
        self, repo: str, number: int, comment_id: int, limit: int = 100
    ) -> set[str]:
        """What the applied command comments on an issue written after ``comment_id`` decided.

        Each such delivery's outcome carries ``decided``: its comment's id and
        the keys its commands settled (see ``slash/overtaken.py``).
        """
        rows = await self.query(
            "SELECT outcome FROM deliveries WHERE repo=? AND issue_number=? AND state=?"
            " AND event='issue_comment' AND outcome LIKE '%\"decided\"%'"
            " ORDER BY seq DESC LIMIT ?",
            (repo, number, DONE, limit),
        )
        keys: set[str] = set()
        for row in rows:
            decided = json.loads(row["outcome"]).get("decided") or {}
            later = decided.get("comment")
            if isinstance(later, int) and later > comment_id:
                keys.update(str(k) for k in decided.get("keys") or ())
        return keys

    async def for_issue(self, repo: str, number: int, limit: int = 20) -> list[dict[str, Any]]:
        """The latest deliveries about one issue, newest first (for /why)."""
        rows = await self.query(
            "SELECT * FROM deliveries WHERE repo=? AND issue_number=? ORDER BY seq DESC LIMIT ?",
            (repo, number, limit),
        )
        return [row_summary(r) for r in rows]
