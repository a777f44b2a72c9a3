"""Which engine a store opens: a SQLite file for a path, PostgreSQL for a ``postgresql://`` URL.

The facts and the request index make small synchronous calls (a millisecond or
less) under their own lock, and were written against ``sqlite3``'s connection.
``PgConnection`` answers the same few calls over a psycopg 3 connection, so one
store class holds the queries for both engines and only the schema (and the
request index's full-text search) differs by engine. The queries keep SQLite's
``?`` placeholders and are rewritten for psycopg once, when run.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from ..settings import is_postgres
from .files import database
from .migrations import Steps, connect_creating, migrate


class Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the synchronous stores use of a connection: sqlite3's, or ``PgConnection``."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Cursor: ...
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any: ...
    def executescript(self, sql: str, /) -> Any: ...
    def close(self) -> None: ...
    def __enter__(self) -> Any: ...
    def __exit__(self, *exc: object) -> Any: ...


_PLACEHOLDER = re.compile(r"\?")


def pg_sql(sql: str) -> str:
    """SQLite's ``?`` placeholders as psycopg's ``%s`` (and a literal ``%`` doubled)."""
    return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))


class PgConnection:
    """A psycopg connection that answers like ``sqlite3.Connection`` for our stores.

    Autocommit outside ``with connection:``, one transaction inside it (as
    sqlite3's context manager). A connection the server dropped (a restart, a
    failover) is opened again on the next statement outside a transaction.
    """

    dialect = "postgresql"

    def __init__(self, dsn: str, settings: Sequence[str] = ()) -> None:
        self.dsn, self.settings = dsn, tuple(settings)
        self._lock = threading.RLock()
        self._tx: Any = None
        self._conn = self._connect()

    def _connect(self) -> Any:
        conn = connect_creating(self.dsn)  # `flywheel index` may come before any serve
        for setting in self.settings:  # e.g. "synchronous_commit = off", ours: not user text
            conn.execute(f"SET {setting}")
        return conn

    def _live(self) -> Any:
        if self._conn.closed and self._tx is None:
            self._conn = self._connect()
        return self._conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        import psycopg

        try:
            return self._live().execute(pg_sql(sql), tuple(params))
        except psycopg.OperationalError:
            if self._tx is not None or not self._conn.closed:
                raise
            return self._live().execute(pg_sql(sql), tuple(params))  # reconnected once

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in rows]
        if rows:
            with self._live().cursor() as cursor:
                cursor.executemany(pg_sql(sql), rows)

    def executescript(self, sql: str) -> None:
        self._live().execute(sql)

    def migrate(self, steps: Steps) -> list[int]:
        return migrate(self._live(), steps)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> PgConnection:
        self._lock.acquire()
        self._tx = self._live().transaction()
        self._tx.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        tx, self._tx = self._tx, None
        try:
            tx.__exit__(*exc)
        finally:
            self._lock.release()


def connect(location: str | Path, *, sqlite_pragmas: Sequence[str] = (), cache: bool) -> Any:
    """A connection to the store at ``location``: PostgreSQL for a URL, else a SQLite file.

    A ``cache`` (facts, the request index: rebuilt from GitHub if lost) does not wait for
    its commits to reach the disk: ``synchronous_commit = off`` on PostgreSQL, as the
    SQLite pragmas the store passes do. A crash may lose its last moments, never its
    consistency; the calls it makes on the event loop then take no disk flush.
    """
    if isinstance(location, str) and is_postgres(location):
        return PgConnection(location, ["synchronous_commit = off"] if cache else [])
    db = sqlite3.connect(database(location), check_same_thread=False, timeout=10)
    for pragma in sqlite_pragmas:
        db.execute(f"PRAGMA {pragma}")
    return db


def on_postgres(db: object) -> bool:
    return isinstance(db, PgConnection)


def journal_at(location: str | Path) -> Any:
    """The journal for ``location``: the SQLite journal, or PostgreSQL's for a URL."""
    if isinstance(location, str) and is_postgres(location):
        from .journal_pg import PgJournal

        return PgJournal(location)
    from .journal import Journal

    return Journal(location)
