"""SQLite journal of webhook deliveries: nothing verified is lost, nothing runs twice.

Two connections, each kept to its own thread. Writes go to the writer thread:
everything queued while it was committing commits together in the next
transaction (group commit), so one fsync covers a burst of deliveries and
intake answers each only after it is durable. SQLite releases the GIL while it
writes and syncs, so the event loop keeps reading requests meanwhile. Reads
and WAL checkpoints use a second connection on the reader thread, so neither
delays a commit (WAL readers never block the writer).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
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


_ROWS_PER_STATEMENT = 500  # 9 parameters a row, well under SQLite's 32,766
_INSERT_PREFIX = (
    "INSERT OR IGNORE INTO deliveries (id, event, action, installation_id, repo, issue_number,"
    " lane, payload, received_at) VALUES "
)
_ROW_PLACEHOLDERS = "(?,?,?,?,?,?,?,?,?)"
_INSERT_SUFFIX = " RETURNING id, seq"

# What the dashboard lists of a delivery: no payload, but whether its repository is private.
_LISTED = (
    "id, event, action, repo, issue_number, state, attempts, received_at, duration, error,"
    " next_attempt_at, json_extract(CAST(payload AS TEXT), '$.repository.private') AS private"
)

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
    """Async façade: commits on the writer thread's connection, reads on the reader thread's."""

    def __init__(self, path: Path | str, *, synchronous: str = "FULL") -> None:
        self.path = str(path)
        self._synchronous = synchronous
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal-read")
        self._reader: sqlite3.Connection | None = None  # reader thread only
        # Queued writes: a Delivery to insert, or a function of the connection.
        self._queued: list[tuple[Any, asyncio.Future[Any]]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._writer_thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._checkpoints: asyncio.Task[None] | None = None
        self.commits = 0

    # -- lifecycle -----------------------------------------------------------------

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = self._loop.create_future()
        self._writer_thread = threading.Thread(
            target=self._writer_main, args=(ready,), name="journal-write", daemon=True
        )
        self._writer_thread.start()
        await ready
        self._reader = await self._call(self._connect)
        self._checkpoints = asyncio.create_task(self._checkpoint_loop())

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    def _checkpoint_sync(self) -> None:
        if self._reader is not None:
            self._reader.execute("PRAGMA wal_checkpoint(PASSIVE)")

    async def _checkpoint_loop(self) -> None:
        """Copy the WAL into the database now and then, away from the commit path."""
        last = self.commits
        while True:
            await asyncio.sleep(0.5)
            if self.commits != last:
                last = self.commits
                await self._call(self._checkpoint_sync)

    async def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            await asyncio.gather(self._checkpoints, return_exceptions=True)
        if self._writer_thread is not None:
            with self._lock:
                self._closing = True  # the writer drains what is queued, then stops
            self._wake.set()
            await asyncio.to_thread(self._writer_thread.join)
            self._writer_thread = None
        await self._call(self._close_reader)
        self._thread.shutdown(wait=True)

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._reader.close()
            self._reader = None

    # -- plumbing ------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, fn, *args)

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        assert self._reader is not None, "journal is not open"
        return self._reader.execute(sql, tuple(params)).fetchall()

    async def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        return await self._call(self._read, sql, list(params))

    def _enqueue(self, item: Any) -> asyncio.Future[Any]:
        assert self._loop is not None and not self._closing, "journal is not open"
        future: asyncio.Future[Any] = self._loop.create_future()
        with self._lock:
            self._queued.append((item, future))
        self._wake.set()
        return future

    async def _write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Queue a write; it commits with whatever else is queued by then."""
        return await self._enqueue(op)

    # -- the writer thread ---------------------------------------------------------

    def _writer_main(self, ready: asyncio.Future[None]) -> None:
        """Commit whatever is queued, as one transaction, until closed and drained."""
        assert self._loop is not None
        loop = self._loop
        try:
            conn = self._connect()
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            # Checkpoints (copying the WAL into the database) run on the reader
            # thread instead, so a commit never waits for one.
            conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.executescript(SCHEMA)
        except Exception as exc:
            loop.call_soon_threadsafe(_settle, ready, None, exc)
            return
        loop.call_soon_threadsafe(_settle, ready, None, None)
        try:
            while True:
                self._wake.wait()
                with self._lock:
                    self._wake.clear()
                    batch, self._queued = self._queued, []
                    closing = self._closing
                if batch:
                    self._commit_and_answer(conn, batch)
                elif closing:
                    return
        finally:
            conn.close()

    def _commit_and_answer(
        self, conn: sqlite3.Connection, batch: list[tuple[Any, asyncio.Future[Any]]]
    ) -> None:
        assert self._loop is not None
        try:
            results: list[Any] = self._commit_batch(conn, [item for item, _ in batch])
            error: BaseException | None = None
        except Exception as exc:  # the whole transaction rolled back
            results, error = [None] * len(batch), exc
        # One wake-up of the loop answers the whole batch.
        self._loop.call_soon_threadsafe(_settle_all, batch, results, error)

    def _commit_batch(self, conn: sqlite3.Connection, items: list[Any]) -> list[Any]:
        """One transaction for everything queued: new deliveries in one statement, then updates."""
        deliveries = [item for item in items if isinstance(item, Delivery)]
        conn.execute("BEGIN IMMEDIATE")
        try:
            stored = self._insert_many(conn, deliveries) if deliveries else {}
            results = [
                stored.get(item.id) if isinstance(item, Delivery) else item(conn) for item in items
            ]
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.commits += 1
        return results

    @staticmethod
    def _insert_many(conn: sqlite3.Connection, deliveries: list[Delivery]) -> dict[str, Delivery]:
        """Insert new ids in one multi-row statement; ids seen before are left out of the answer."""
        stored: dict[str, Delivery] = {}
        first_of: dict[str, Delivery] = {}
        for delivery in deliveries:
            first_of.setdefault(delivery.id, delivery)  # the same id twice in one burst: once
        unique = list(first_of.values())
        for start in range(0, len(unique), _ROWS_PER_STATEMENT):
            chunk = unique[start : start + _ROWS_PER_STATEMENT]
            params: list[Any] = []
            for d in chunk:
                params += [
                    d.id,
                    d.event,
                    d.action,
                    d.installation_id,
                    d.repo,
                    d.issue_number,
                    d.lane,
                    d.payload,
                    d.received_at,
                ]
            rows = conn.execute(
                _INSERT_PREFIX + ",".join([_ROW_PLACEHOLDERS] * len(chunk)) + _INSERT_SUFFIX,
                params,
            ).fetchall()
            for row in rows:
                stored[row[0]] = replace(first_of[row[0]], seq=row[1])
        return stored

    # -- intake --------------------------------------------------------------------

    async def record(self, delivery: Delivery) -> Delivery | None:
        """Store a delivery durably; None when its id was journaled before."""
        result: Delivery | None = await self._enqueue(delivery)
        return result

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
            f"SELECT {_LISTED} FROM deliveries"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY seq DESC LIMIT ?",
            [*params, limit],
        )  # fmt: skip
        return [dict(r) for r in rows]

    async def retrying(self, limit: int = 50) -> list[dict[str, Any]]:
        """Deliveries waiting for another attempt after a failed one, soonest first."""
        rows = await self.query(
            f"SELECT {_LISTED} FROM deliveries WHERE state='pending' AND attempts > 0"
            " ORDER BY next_attempt_at LIMIT ?",
            (limit,),
        )
        return [dict(r) for r in rows]

    async def repos(self) -> dict[str, bool]:
        """Repository → whether it is private, as its latest delivery says."""
        rows = await self.query(
            "SELECT repo, json_extract(CAST(payload AS TEXT), '$.repository.private') AS private"
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

    async def done_payloads(self, repo: str, number: int, limit: int = 20) -> list[bytes]:
        """The payloads of the latest deliveries about one issue that were applied."""
        rows = await self.query(
            "SELECT payload FROM deliveries WHERE repo=? AND issue_number=? AND state=?"
            " ORDER BY seq DESC LIMIT ?",
            (repo, number, DONE, limit),
        )
        return [bytes(r["payload"]) for r in rows]

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
        return [_row_summary(r) for r in rows]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller gave up waiting (cancelled)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _settle_all(
    batch: list[tuple[Any, asyncio.Future[Any]]], results: list[Any], error: BaseException | None
) -> None:
    for (_, future), result in zip(batch, results, strict=True):
        _settle(future, result, error)


def _row_summary(row: sqlite3.Row) -> dict[str, Any]:
    summary = {k: row[k] for k in row.keys() if k != "payload"}  # noqa: SIM118 - sqlite3.Row
    if summary.get("outcome"):
        summary["outcome"] = json.loads(summary["outcome"])
    return summary
