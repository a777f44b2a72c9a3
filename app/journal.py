"""SQLite journal of webhook deliveries: nothing verified is lost, nothing runs twice.

Every write goes through one thread that owns the connection. Writes that
arrive while a commit is in progress are committed together in the next
transaction (group commit): one fsync then covers many deliveries, which is
what lets intake answer each delivery only after it is durable and still keep
up with a burst.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    event TEXT NOT NULL,
    action TEXT,
    installation_id INTEGER,
    repo TEXT,
    issue_number INTEGER,
    lane TEXT NOT NULL,
    payload BLOB NOT NULL,
    received_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    started_at REAL,
    finished_at REAL,
    duration REAL,
    error TEXT,
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries(state, seq);
CREATE INDEX IF NOT EXISTS deliveries_issue ON deliveries(repo, issue_number, seq);
"""

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
UNFINISHED = (PENDING, RUNNING)


@dataclass(frozen=True)
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


_COLUMNS = (
    "seq, id, event, action, installation_id, repo, issue_number, lane, payload, "
    "received_at, attempts"
)


def _row_to_delivery(row: sqlite3.Row) -> Delivery:
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


class Journal:
    """Async façade over one SQLite connection owned by one thread."""

    def __init__(self, path: Path | str, *, synchronous: str = "FULL") -> None:
        self.path = str(path)
        self._synchronous = synchronous
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        self._conn: sqlite3.Connection | None = None
        self._queued: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.commits = 0

    # -- lifecycle -----------------------------------------------------------------

    async def open(self) -> None:
        await self._call(self._open_sync)

    def _open_sync(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.executescript(SCHEMA)
        self._conn = conn

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
        await self._call(self._close_sync)
        self._thread.shutdown(wait=True)

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- plumbing ------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, fn, *args)

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        assert self._conn is not None, "journal is not open"
        return self._conn.execute(sql, tuple(params)).fetchall()

    async def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        return await self._call(self._read, sql, list(params))

    async def _write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Queue a write; it commits with whatever else is queued by then."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queued.append((op, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._queued:
            batch, self._queued = self._queued, []
            try:
                results = await self._call(self._commit_batch, [op for op, _ in batch])
            except Exception as exc:  # the whole transaction rolled back
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def _commit_batch(self, ops: list[Callable[[sqlite3.Connection], Any]]) -> list[Any]:
        assert self._conn is not None, "journal is not open"
        conn = self._conn
        results: list[Any] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for op in ops:
                conn.execute("SAVEPOINT op")
                try:
                    results.append(op(conn))
                    conn.execute("RELEASE op")
                except sqlite3.Error as exc:  # one bad op must not sink its neighbours
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    results.append(exc)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.commits += 1
        return results

    # -- intake --------------------------------------------------------------------

    async def record(self, delivery: Delivery) -> Delivery | None:
        """Store a delivery durably; None when its id was journaled before."""

        def insert(conn: sqlite3.Connection) -> Delivery | None:
            cur = conn.execute(
                "INSERT OR IGNORE INTO deliveries (id, event, action, installation_id, repo,"
                " issue_number, lane, payload, received_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    delivery.id,
                    delivery.event,
                    delivery.action,
                    delivery.installation_id,
                    delivery.repo,
                    delivery.issue_number,
                    delivery.lane,
                    delivery.payload,
                    delivery.received_at,
                ),
            )
            if cur.rowcount == 0:
                return None
            return replace(delivery, seq=cur.lastrowid or 0)

        return await self._write(insert)

    # -- worker side ---------------------------------------------------------------

    async def recover(self) -> list[Delivery]:
        """Deliveries a previous process left unfinished, in arrival order."""

        def reset(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE deliveries SET state=? WHERE state=?", (PENDING, RUNNING))

        await self._write(reset)
        rows = await self.query(
            f"SELECT {_COLUMNS} FROM deliveries WHERE state=? ORDER BY seq", (PENDING,)
        )
        return [_row_to_delivery(r) for r in rows]

    async def start(self, delivery_id: str) -> None:
        def mark(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE deliveries SET state=?, attempts=attempts+1, started_at=? WHERE id=?",
                (RUNNING, time.time(), delivery_id),
            )

        await self._write(mark)

    async def finish(
        self,
        delivery_id: str,
        *,
        state: str,
        duration: float,
        outcome: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        def mark(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE deliveries SET state=?, finished_at=?, duration=?, outcome=?, error=?"
                " WHERE id=?",
                (
                    state,
                    time.time(),
                    duration,
                    json.dumps(outcome) if outcome is not None else None,
                    error,
                    delivery_id,
                ),
            )

        await self._write(mark)

    async def postpone(self, delivery_id: str, *, at: float, error: str) -> None:
        def mark(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE deliveries SET state=?, next_attempt_at=?, error=? WHERE id=?",
                (PENDING, at, error, delivery_id),
            )

        await self._write(mark)

    # -- reading -------------------------------------------------------------------

    async def counts(self) -> dict[str, int]:
        rows = await self.query("SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state")
        counts = {PENDING: 0, RUNNING: 0, DONE: 0, FAILED: 0}
        counts.update({r["state"]: r["n"] for r in rows})
        return counts

    async def get(self, delivery_id: str) -> dict[str, Any] | None:
        rows = await self.query("SELECT * FROM deliveries WHERE id=?", (delivery_id,))
        return _row_summary(rows[0]) if rows else None

    async def for_issue(self, repo: str, number: int, limit: int = 20) -> list[dict[str, Any]]:
        """The latest deliveries about one issue, newest first (for /why)."""
        rows = await self.query(
            "SELECT * FROM deliveries WHERE repo=? AND issue_number=? ORDER BY seq DESC LIMIT ?",
            (repo, number, limit),
        )
        return [_row_summary(r) for r in rows]


def _row_summary(row: sqlite3.Row) -> dict[str, Any]:
    summary = {k: row[k] for k in row.keys() if k != "payload"}  # noqa: SIM118 - sqlite3.Row
    if summary.get("outcome"):
        summary["outcome"] = json.loads(summary["outcome"])
    return summary
