"""The journal's table and the statements that write and list it, apart from the threads
that run them.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

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


ROWS_PER_STATEMENT = 500  # 9 parameters a row, well under SQLite's 32,766
INSERT_PREFIX = (
    "INSERT OR IGNORE INTO deliveries (id, event, action, installation_id, repo, issue_number,"
    " lane, payload, received_at) VALUES "
)
ROW_PLACEHOLDERS = "(?,?,?,?,?,?,?,?,?)"
INSERT_SUFFIX = " RETURNING id, seq"

# What the dashboard lists of a delivery: no payload, but whether its repository is private.
LISTED = (
    "id, event, action, repo, issue_number, state, attempts, received_at, duration, error,"
    " next_attempt_at, json_extract(CAST(payload AS TEXT), '$.repository.private') AS private"
)

COLUMNS = (
    "seq, id, event, action, installation_id, repo, issue_number, lane, payload, "
    "received_at, attempts"
)


def row_summary(row: sqlite3.Row) -> dict[str, Any]:
    summary = {k: row[k] for k in row.keys() if k != "payload"}  # noqa: SIM118 - sqlite3.Row
    if summary.get("outcome"):
        summary["outcome"] = json.loads(summary["outcome"])
    return summary
