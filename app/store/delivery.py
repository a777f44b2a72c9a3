"""One webhook delivery as the journal keeps it, and the states it passes through."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
UNFINISHED = (PENDING, RUNNING)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One verified webhook delivery as the journal keeps it."""

    id: str
    event: str
    action: str | None
    installation_id: int | None
    repo: str | None
    issue_number: int | None
    lane: str
    payload: bytes
    received_at: float
    attempts: int = 0
    seq: int = 0

    @classmethod
    def from_body(cls, delivery_id: str, event: str, body: bytes, data: dict[str, Any]) -> Delivery:
        """Pull out what scheduling needs: deliveries about one issue share a lane."""
        repo = _get(data, "repository", "full_name")
        issue = data.get("issue") or data.get("pull_request")
        number = issue.get("number") if isinstance(issue, dict) else None
        installation = _get(data, "installation", "id")
        if repo and isinstance(number, int):
            lane = f"{repo}#{number}"
        elif event.startswith("installation") and installation is not None:
            lane = f"installation:{installation}"
        else:
            lane = f"delivery:{delivery_id}"
        action = data.get("action")
        return cls(
            id=delivery_id,
            event=event,
            action=action if isinstance(action, str) else None,
            installation_id=installation if isinstance(installation, int) else None,
            repo=repo if isinstance(repo, str) else None,
            issue_number=number if isinstance(number, int) else None,
            lane=lane,
            payload=body,
            received_at=time.time(),
        )

    @property
    def event_action(self) -> str:
        return f"{self.event}.{self.action}" if self.action else self.event


def _get(data: dict[str, Any], *path: str) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def delivery_from_row(row: sqlite3.Row | Mapping[str, Any]) -> Delivery:
    """A journal row (SQLite's or PostgreSQL's) as the Delivery it stores."""
    return Delivery(
        seq=row["seq"],
        id=row["id"],
        event=row["event"],
        action=row["action"],
        installation_id=row["installation_id"],
        repo=row["repo"],
        issue_number=row["issue_number"],
        lane=row["lane"],
        payload=bytes(row["payload"]),
        received_at=row["received_at"],
        attempts=row["attempts"],
    )
