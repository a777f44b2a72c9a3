"""Versioned schema changes for the PostgreSQL stores, applied at start, once.

Each store lists its steps in order; a step is applied once and recorded in
``schema_migrations``. All of it runs in one transaction holding an advisory
lock, so two replicas starting at the same moment apply each step once: the
second waits for the first and then finds every step recorded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

LOCK = 0x466C7977  # "Flyw": the advisory lock every replica takes to migrate


@dataclass(frozen=True)
class Steps:
    store: str
    sql: tuple[str, ...]  # step n is sql[n - 1]; append, never edit a released step


JOURNAL = Steps(
    "journal",
    (
        """
        CREATE TABLE IF NOT EXISTS deliveries (
            seq BIGSERIAL PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            event TEXT NOT NULL,
            action TEXT,
            installation_id BIGINT,
            repo TEXT,
            issue_number INTEGER,
            lane TEXT NOT NULL,
            payload BYTEA NOT NULL,
            received_at DOUBLE PRECISION NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at DOUBLE PRECISION NOT NULL DEFAULT 0,
            started_at DOUBLE PRECISION,
            finished_at DOUBLE PRECISION,
            duration DOUBLE PRECISION,
            error TEXT,
            outcome TEXT
        );
        CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries (state, seq);
        CREATE INDEX IF NOT EXISTS deliveries_issue ON deliveries (repo, issue_number, seq);
        """,
        # Claims by replicas: who holds a running delivery, and until when.
        """
        ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS claimed_by TEXT;
        ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS lease_until DOUBLE PRECISION;
        CREATE INDEX IF NOT EXISTS deliveries_lane ON deliveries (lane, seq);
        """,
    ),
)


async def migrate(conn: Any, steps: Steps) -> list[int]:
    """Apply the steps not yet recorded; the versions applied now."""
    applied: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (store TEXT NOT NULL,"
            " version INTEGER NOT NULL, applied_at DOUBLE PRECISION NOT NULL,"
            " PRIMARY KEY (store, version))"
        )
        cursor = await conn.execute(
            "SELECT version FROM schema_migrations WHERE store=%s", (steps.store,)
        )
        done = {row["version"] for row in await cursor.fetchall()}
        for version, sql in enumerate(steps.sql, 1):
            if version in done:
                continue
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO schema_migrations (store, version, applied_at) VALUES (%s, %s, %s)",
                (steps.store, version, time.time()),
            )
            applied.append(version)
    return applied
