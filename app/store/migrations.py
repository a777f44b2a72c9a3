"""Versioned schema changes for the PostgreSQL stores, applied at start, once.

Each store lists its steps in order; a step is applied once and recorded in
``schema_migrations``. All of it runs in one transaction holding an advisory
lock, so two replicas starting at the same moment apply each step once: the
second waits for the first and then finds every step recorded.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

LOCK = 0x466C7977  # "Flyw": the advisory lock every replica takes to migrate

log = logging.getLogger("flywheel.store")


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
        # What replicas tell each other: the moment of each issue's last comment write
        # (a shared clock: conflicts across replicas are seen), and numbered notices.
        """
        CREATE SEQUENCE IF NOT EXISTS comment_moments;
        CREATE SEQUENCE IF NOT EXISTS replica_notices;
        CREATE TABLE IF NOT EXISTS comment_clock (
            issue TEXT PRIMARY KEY, moment BIGINT NOT NULL
        );
        """,
        # When each moment was taken (the server's clock): a write a replica died sending may
        # still land at GitHub for a few seconds, and the next writer waits for it.
        """
        ALTER TABLE comment_clock ADD COLUMN IF NOT EXISTS intended_at DOUBLE PRECISION;
        """,
    ),
)


def migrate(conn: Any, steps: Steps) -> list[int]:
    """Apply the steps not yet recorded, on a psycopg connection; the versions applied now."""
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (store TEXT NOT NULL,"
            " version INTEGER NOT NULL, applied_at DOUBLE PRECISION NOT NULL,"
            " PRIMARY KEY (store, version))"
        )
        rows = conn.execute(
            "SELECT version FROM schema_migrations WHERE store=%s", (steps.store,)
        ).fetchall()
        done = {int(row[0]) for row in rows}
        for version, sql in enumerate(steps.sql, 1):
            if version in done:
                continue
            conn.execute(sql)
            conn.execute(
                "INSERT INTO schema_migrations (store, version, applied_at) VALUES (%s, %s, %s)",
                (steps.store, version, time.time()),
            )
            applied.append(version)
    return applied


def migrate_dsn(dsn: str, steps: Steps) -> list[int]:
    """``migrate`` on a connection of its own (the async journal runs it in a thread)."""
    with connect_creating(dsn) as conn:
        return migrate(conn, steps)


def connect_creating(dsn: str) -> Any:
    """A connection to ``dsn``'s database, created first if the server has none by that name.

    The first start on a new server then needs no ``createdb``; a role that may not create
    databases gets the reason and the command to run instead.
    """
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = str(conninfo_to_dict(dsn).get("dbname") or "")
    try:
        return psycopg.connect(dsn, autocommit=True)
    except psycopg.OperationalError as exc:
        if not name or f'database "{name}" does not exist' not in str(exc):
            raise
    try:
        with psycopg.connect(make_conninfo(dsn, dbname="postgres"), autocommit=True) as server:
            server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.errors.DuplicateDatabase:
        pass  # another replica starting at the same moment made it
    except psycopg.Error as exc:
        raise psycopg.OperationalError(
            f'database "{name}" does not exist and could not be created ({exc});'
            f" create it (createdb {name}) or name another in FLYWHEEL_DB"
        ) from None
    log.info('created the database "%s" (the server had none by that name)', name)
    return psycopg.connect(dsn, autocommit=True)
