"""The journal on PostgreSQL: what several replicas share, with the same answers as SQLite's.

psycopg 3 with its async pool: the maintained driver that speaks PostgreSQL's own
protocol (libpq, bundled by psycopg-binary), with server-side parameters and
``LISTEN/NOTIFY`` in the same library, where asyncpg would need a second driver
for anything sync (the CLI). Every write is its own transaction, committed
before it returns (``synchronous_commit`` stays on): PostgreSQL groups
concurrent commits into one WAL flush itself, as the SQLite journal's writer
thread does by hand.

Several replicas claim deliveries with ``FOR UPDATE SKIP LOCKED``: a delivery is
claimable only when no earlier delivery of its lane (its issue) is unfinished,
so one issue's deliveries still apply in order across replicas, and a claim is
a lease: a replica that dies loses its claims when the lease runs out, or sooner,
once its session (which holds a lock named after it) is gone.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from .delivery import PENDING, RUNNING, Delivery, delivery_from_row
from .journal_queries import JournalQueries
from .journal_sql import COLUMNS
from .migrations import JOURNAL, migrate_dsn

# A stored payload as jsonb. PostgreSQL refuses "\u0000" in jsonb (a NUL pasted into an issue
# body, which GitHub sends and orjson accepts): read as U+FFFD, which keeps the JSON valid.
PAYLOAD_PG = "replace(convert_from(payload, 'UTF8'), '\\u0000', '\\ufffd')::jsonb"
PRIVATE_PG = f"(({PAYLOAD_PG} #> '{{repository,private}}') = 'true'::jsonb)"
LISTED_PG = (
    "id, event, action, repo, issue_number, state, attempts, received_at, duration, error,"
    f" next_attempt_at, {PRIVATE_PG} AS private"
)


def _pg(sql: str) -> str:
    """Our queries use ``?`` (SQLite's style); psycopg takes ``%s`` and a literal ``%%``."""
    return sql.replace("%", "%%").replace("?", "%s")


DELIVERIES_CHANNEL = "flywheel_deliveries"
# pg_advisory_lock(LIVENESS_CLASS, hashtext(replica)) is held by a live replica (liveness.py).
LIVENESS_CLASS = 0x466C7958  # "FlyX": two-key locks, apart from the one-key ones
ROWS_PER_INSERT = 500  # 9 parameters a row: well under PostgreSQL's 65,535


def _record_values(delivery: Delivery) -> tuple[Any, ...]:
    return (
        delivery.id,
        delivery.event,
        delivery.action,
        delivery.installation_id,
        delivery.repo,
        delivery.issue_number,
        delivery.lane,
        delivery.payload,
        delivery.received_at,
    )


def autocommit_pool(dsn: str, *, max_size: int, min_size: int = 1) -> AsyncConnectionPool:
    """A pool of autocommit connections answering rows as dicts, opened by the caller."""
    return AsyncConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        open=False,
        kwargs={"autocommit": True, "row_factory": dict_row},
    )


class PgJournal(JournalQueries):
    LISTED = LISTED_PG
    PRIVATE = PRIVATE_PG
    UPDATED_AT = f"({PAYLOAD_PG} #>> '{{issue,updated_at}}')"
    SHARED = True

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.dsn = dsn
        self._pool = autocommit_pool(dsn, min_size=min_size, max_size=max_size)
        self._leases = autocommit_pool(dsn, max_size=1)  # renewals only (see extend)
        self.commits = 0
        self._incoming: list[tuple[Delivery, asyncio.Future[Delivery | None]]] = []
        self._inserting: asyncio.Future[None] | None = None

    async def open(self) -> None:
        await asyncio.to_thread(migrate_dsn, self.dsn, JOURNAL)
        await self._pool.open(wait=True, timeout=30)
        await self._leases.open(wait=True, timeout=30)

    @property
    def pool(self) -> AsyncConnectionPool:
        """Shared with what else a replica keeps here (the comment clock, notices)."""
        return self._pool

    async def close(self) -> None:
        await self._pool.close()
        await self._leases.close()

    async def query(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_pg(sql), tuple(params))
            return await cursor.fetchall()

    async def _execute(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(sql, tuple(params))
            rows = await cursor.fetchall() if cursor.description else []
        self.commits += 1
        return rows

    async def writable(self) -> bool:
        try:
            await self._execute("SELECT 1")
        except Exception:
            return False
        return True

    # -- intake --------------------------------------------------------------------

    async def record(self, delivery: Delivery) -> Delivery | None:
        """Store a delivery durably; None when its id was journaled before.

        Deliveries arriving while an insert is on its way go together in the next one:
        one statement, one commit, one WAL flush for them all (group commit, as the
        SQLite journal's writer does), and one wake-up for the other replicas.
        """
        answer: asyncio.Future[Delivery | None] = asyncio.get_running_loop().create_future()
        self._incoming.append((delivery, answer))
        if self._inserting is None or self._inserting.done():
            self._inserting = asyncio.ensure_future(self._insert_incoming())
        return await answer

    async def _insert_incoming(self) -> None:
        while self._incoming:
            batch = self._incoming[:ROWS_PER_INSERT]
            self._incoming = self._incoming[ROWS_PER_INSERT:]
            params = [value for delivery, _ in batch for value in _record_values(delivery)]
            marks = ",".join(["(%s,%s,%s,%s,%s,%s,%s,%s,%s)"] * len(batch))
            try:
                rows = await self._execute(
                    "WITH stored AS (INSERT INTO deliveries (id, event, action, installation_id,"
                    f" repo, issue_number, lane, payload, received_at) VALUES {marks}"
                    " ON CONFLICT (id) DO NOTHING RETURNING id, seq)"
                    f" SELECT id, seq, pg_notify('{DELIVERIES_CHANNEL}', '') FROM stored",
                    params,
                )
            except Exception as exc:  # each waiting request answers 503: GitHub sends again
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(exc)
                continue
            seqs = {row["id"]: int(row["seq"]) for row in rows}
            for delivery, answer in batch:
                seq = seqs.pop(delivery.id, None)  # the same id twice in a batch: stored once
                if not answer.done():
                    answer.set_result(None if seq is None else replace(delivery, seq=seq))

    # -- worker side ---------------------------------------------------------------

    async def recover(self) -> list[Delivery]:
        """Deliveries left unfinished (a single replica's restart: all of them are its own)."""
        await self._execute("UPDATE deliveries SET state=%s WHERE state=%s", (PENDING, RUNNING))
        rows = await self.query(
            f"SELECT {COLUMNS} FROM deliveries WHERE state=? ORDER BY seq", (PENDING,)
        )
        return [delivery_from_row(r) for r in rows]

    async def start(self, delivery_id: str) -> None:
        await self._execute(
            "UPDATE deliveries SET state=%s, attempts=attempts+1, started_at=%s WHERE id=%s",
            (RUNNING, time.time(), delivery_id),
        )

    async def finish(
        self,
        delivery_id: str,
        *,
        state: str,
        duration: float,
        outcome: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        await self._execute(
            "UPDATE deliveries SET state=%s, finished_at=%s, duration=%s, outcome=%s, error=%s,"
            " claimed_by=NULL, lease_until=NULL WHERE id=%s",
            (
                state,
                time.time(),
                duration,
                json.dumps(outcome) if outcome is not None else None,
                error,
                delivery_id,
            ),
        )

    async def postpone(self, delivery_id: str, *, at: float, error: str) -> None:
        await self._execute(
            "UPDATE deliveries SET state=%s, next_attempt_at=%s, error=%s, claimed_by=NULL,"
            " lease_until=NULL WHERE id=%s",
            (PENDING, at, error, delivery_id),
        )

    # -- several replicas ----------------------------------------------------------

    async def claim(self, replica: str, *, lease: float, limit: int = 8) -> list[Delivery]:
        """Take up to ``limit`` deliveries due now, each the oldest unfinished of its lane.

        Rows another replica is claiming at this moment are skipped, not waited for.
        """
        now = time.time()
        rows = await self._execute(
            "UPDATE deliveries SET state=%s, claimed_by=%s, lease_until=%s,"
            " attempts=attempts+1, started_at=%s"
            " WHERE seq IN ("
            "  SELECT d.seq FROM deliveries d"
            "  WHERE d.state=%s AND d.next_attempt_at <= %s AND NOT EXISTS ("
            "   SELECT 1 FROM deliveries e WHERE e.lane=d.lane AND e.seq < d.seq"
            "   AND e.state IN (%s, %s))"
            "  ORDER BY d.seq LIMIT %s FOR UPDATE SKIP LOCKED)"
            f" RETURNING {COLUMNS}",
            (RUNNING, replica, now + lease, now, PENDING, now, PENDING, RUNNING, limit),
        )
        return sorted((delivery_from_row(r) for r in rows), key=lambda d: d.seq)

    async def extend(self, replica: str, *, lease: float) -> set[str]:
        """Renew this replica's claims (it is alive); the deliveries it still holds.

        On a connection of its own: a renewal must not wait behind the pool's other
        work, or a busy replica would lose claims it is still running.
        """
        async with self._leases.connection() as conn:
            cursor = await conn.execute(
                "UPDATE deliveries SET lease_until=%s WHERE claimed_by=%s AND state=%s"
                " RETURNING id",
                (time.time() + lease, replica, RUNNING),
            )
            rows = await cursor.fetchall()
        return {row["id"] for row in rows}

    async def release(self, replica: str) -> int:
        """A replica stopping hands its unfinished claims back at once (no lease to wait)."""
        return await self._hand_back("claimed_by=%s", (replica,))

    async def release_expired(self) -> int:
        """Claims whose lease ran out (their replica died) become claimable again."""
        return await self._hand_back("lease_until < %s", (time.time(),))

    async def claimers_gone(self, replica: str) -> tuple[dict[str, bool], float]:
        """Replicas other than ``replica`` holding claims but no session (dead, or
        reconnecting after a database restart), each with whether the server restarted
        since it claimed; and the seconds since the server started."""
        rows = await self._execute(
            "SELECT d.claimed_by, bool_or(d.started_at < start) AS restarted_since,"
            " min(EXTRACT(EPOCH FROM now()) - start) AS up"
            " FROM deliveries d,"
            "  (SELECT EXTRACT(EPOCH FROM pg_postmaster_start_time())::float8 AS start) s"
            " WHERE d.state=%s AND d.claimed_by IS NOT NULL AND d.claimed_by <> %s"
            " AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype='advisory'"
            "  AND l.database=(SELECT oid FROM pg_database WHERE datname=current_database())"
            "  AND l.classid=%s::oid AND l.objid=hashtext(d.claimed_by)::oid"
            "  AND l.objsubid=2 AND l.granted)"
            " GROUP BY d.claimed_by",
            (RUNNING, replica, LIVENESS_CLASS),
        )
        gone = {row["claimed_by"]: row["restarted_since"] for row in rows}
        return gone, min((float(row["up"]) for row in rows), default=0.0)

    async def release_claims_of(self, replicas: Iterable[str]) -> int:
        """The claims of replicas found gone become claimable again, without their lease."""
        return await self._hand_back("claimed_by = ANY(%s)", (list(replicas),))

    async def _hand_back(self, which: str, params: tuple[Any, ...]) -> int:
        """Running claims matching ``which`` (our own SQL) made pending again; how many."""
        rows = await self._execute(
            "UPDATE deliveries SET state=%s, claimed_by=NULL, lease_until=NULL"
            f" WHERE state=%s AND {which} RETURNING seq",
            (PENDING, RUNNING, *params),
        )
        return len(rows)
