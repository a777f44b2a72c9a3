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
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from .delivery import PENDING, RUNNING, Delivery, delivery_from_row
from .files import database
from .journal_queries import JournalQueries
from .journal_sql import (
    COLUMNS,
    INSERT_PREFIX,
    INSERT_SUFFIX,
    ROW_PLACEHOLDERS,
    ROWS_PER_STATEMENT,
    SCHEMA,
)

T = TypeVar("T")


class Journal(JournalQueries):
    """Async façade: commits on the writer thread's connection, reads on the reader thread's."""

    def __init__(self, path: Path | str, *, synchronous: str = "FULL") -> None:
        self.path = database(path)
        self._closed = False
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
        if self._closed:
            return  # closing twice (a test, a shutdown racing a failed start) is harmless
        self._closed = True
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

    async def writable(self) -> bool:
        """A round trip through the writer thread: what a delivery's record needs."""
        try:
            await asyncio.wait_for(self._write(lambda conn: conn.execute("SELECT 1")), 5)
        except Exception:
            return False
        return True

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
            results = [  # pop: the same id twice in one burst is one new delivery, not two
                stored.pop(item.id, None) if isinstance(item, Delivery) else item(conn)
                for item in items
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
        for start in range(0, len(unique), ROWS_PER_STATEMENT):
            chunk = unique[start : start + ROWS_PER_STATEMENT]
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
                INSERT_PREFIX + ",".join([ROW_PLACEHOLDERS] * len(chunk)) + INSERT_SUFFIX,
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
            f"SELECT {COLUMNS} FROM deliveries WHERE state=? ORDER BY seq", (PENDING,)
        )
        return [delivery_from_row(r) for r in rows]

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
