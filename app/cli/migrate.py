"""``flywheel migrate-db --to postgresql://…``: move a SQLite database's state to PostgreSQL.

Everything the file holds is copied: the journal (a delivery left running by a
stopped process becomes pending, to run again), the dashboard's facts, the
request index with its vectors and the link decisions people made. The file
is opened read-only and left as it was; rows already at the target are kept
(each is keyed), so a copy interrupted halfway can simply be run again. Run it
with ``serve`` stopped, then start ``serve`` with ``FLYWHEEL_DB`` set to the URL.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from ..settings import Settings, SettingsError, is_postgres, without_password

JOURNAL_COLUMNS = (
    "id, event, action, installation_id, repo, issue_number, lane, payload, received_at,"
    " state, attempts, next_attempt_at, started_at, finished_at, duration, error, outcome"
)
FACT_TABLES = {  # table → its columns and key
    "fact_issues": ("repo, number, workflow, community, title, state, private, parent",
                    "repo, number"),
    "fact_links": ("repo, number, other_repo, other_number, pinned",
                   "repo, number, other_repo, other_number"),
    "fact_members": ("repo, number, community, roles, joined, by_login", "repo, number, community"),
    "fact_board_status": ("repo, number, board, status", "repo, number, board"),
}  # fmt: skip
DECISION_COLUMNS = "installation, a, b, decision, score, decided_by, decided_at"
VECTOR_COLUMNS = "installation, repo, number, model, digest, vec"
CHUNK = 500


def cmd_migrate_db(args: argparse.Namespace) -> int:
    target = args.to
    if not is_postgres(target):
        print("flywheel migrate-db: --to must be a postgresql:// URL", file=sys.stderr)
        return 2
    try:
        source = Path(args.source) if args.source else Settings.from_env().db_path
    except SettingsError as exc:
        print(f"flywheel migrate-db: {exc}", file=sys.stderr)
        return 2
    if not source.is_file():
        print(f"flywheel migrate-db: no SQLite database at {source}", file=sys.stderr)
        return 2
    counts = migrate(source, target)
    shown = without_password(target)
    print(
        f"copied {counts['deliveries']} deliveries, {counts['facts']} facts, "
        f"{counts['requests']} indexed requests ({counts['vectors']} vectors) and "
        f"{counts['decisions']} link decisions from {source} to {shown}"
    )
    print(f"Start serve with FLYWHEEL_DB={shown} (its password as you gave it).")
    return 0


def migrate(source: Path, target: str) -> dict[str, int]:
    """Copy every store of the SQLite file at ``source`` to the PostgreSQL at ``target``."""
    from ..linking.index import RequestIndex
    from ..linking.index_sql import COLUMNS, request_of_row
    from ..store.facts import Facts
    from ..store.migrations import JOURNAL, migrate_dsn

    migrate_dsn(target, JOURNAL)
    counts = {"deliveries": 0, "facts": 0, "requests": 0, "vectors": 0, "decisions": 0}
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as lite:
        tables = {r[0] for r in lite.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        facts = Facts(target)
        index = RequestIndex(target)
        try:
            pg = facts.db
            if "deliveries" in tables:
                counts["deliveries"] = _copy(
                    lite, pg, "deliveries", JOURNAL_COLUMNS, "id",
                    order="seq", fix=_pending_again,
                )  # fmt: skip
            for table, (columns, key) in FACT_TABLES.items():
                if table in tables:
                    counts["facts"] += _copy(lite, pg, table, columns, key)
            if "requests" in tables:
                rows = lite.execute(f"SELECT {COLUMNS} FROM requests ORDER BY rowid")
                for chunk in _chunks(rows):  # through the index: its word counts follow
                    counts["requests"] += index.upsert_many(request_of_row(r) for r in chunk)
            if "link_decisions" in tables:
                counts["decisions"] = _copy(
                    lite, index.db, "link_decisions", DECISION_COLUMNS, "installation, a, b"
                )
            if "request_vectors" in tables:
                counts["vectors"] = _copy(
                    lite, index.db, "request_vectors", VECTOR_COLUMNS,
                    "installation, repo, number", fix=_bytes,
                )  # fmt: skip
                index.db.execute(  # searches on running replicas read the vectors again
                    "INSERT INTO vector_meta (key, value) VALUES ('version', 1)"
                    " ON CONFLICT (key) DO UPDATE SET value = vector_meta.value + 1"
                )
        finally:
            facts.close()
            index.close()
    return counts


def _copy(
    lite: sqlite3.Connection,
    pg: Any,
    table: str,
    columns: str,
    key: str,
    *,
    order: str | None = None,
    fix: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None,
) -> int:
    """Rows of ``table`` into the same table at the target; rows already there are kept."""
    marks = ",".join("?" * len(columns.split(",")))
    insert = f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT ({key}) DO NOTHING"
    copied = 0
    for chunk in _chunks(lite.execute(f"SELECT {columns} FROM {table} ORDER BY {order or key}")):
        with pg:
            pg.executemany(insert, [fix(r) if fix else r for r in chunk])
        copied += len(chunk)
    return copied


def _chunks(rows: Any) -> Iterator[list[Any]]:
    while chunk := rows.fetchmany(CHUNK):
        yield chunk


def _pending_again(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A delivery a stopped process left running runs again (bodies as bytes)."""
    values = list(row)
    values[7] = bytes(values[7])
    if values[9] == "running":
        values[9] = "pending"
    return tuple(values)


def _bytes(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (*row[:-1], bytes(row[-1]))
