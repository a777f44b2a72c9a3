"""The request index's tables (SQLite with FTS5, or PostgreSQL) and how a Request becomes a
row and back."""

from __future__ import annotations

from collections.abc import Sequence

from ..store.migrations import Steps
from .scoring import (
    Request,
)
from .text import plain_text, terms

SCHEMA_VERSION = 3  # the index is a cache: a different version is dropped and rebuilt

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    rowid INTEGER PRIMARY KEY,
    installation INTEGER NOT NULL,
    repo TEXT NOT NULL,
    number INTEGER NOT NULL,
    node_id TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    community TEXT NOT NULL DEFAULT '',
    labels TEXT NOT NULL DEFAULT '',
    workflow TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'open',
    private INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL DEFAULT '',
    closed_at TEXT NOT NULL DEFAULT '',
    title_terms TEXT NOT NULL DEFAULT '',
    body_terms TEXT NOT NULL DEFAULT '',
    UNIQUE (installation, repo, number)
);
CREATE INDEX IF NOT EXISTS requests_by_repo ON requests (installation, repo);
CREATE VIRTUAL TABLE IF NOT EXISTS requests_text USING fts5(
    title_terms, body_terms, content='requests', content_rowid='rowid', tokenize='unicode61'
);
-- How many requests use each term, kept by the writers: IDF without scanning postings.
CREATE TABLE IF NOT EXISTS term_docs (term TEXT PRIMARY KEY, docs INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS index_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS requests_ai AFTER INSERT ON requests BEGIN
    INSERT INTO requests_text(rowid, title_terms, body_terms)
    VALUES (new.rowid, new.title_terms, new.body_terms);
END;
CREATE TRIGGER IF NOT EXISTS requests_ad AFTER DELETE ON requests BEGIN
    INSERT INTO requests_text(requests_text, rowid, title_terms, body_terms)
    VALUES ('delete', old.rowid, old.title_terms, old.body_terms);
END;
CREATE TRIGGER IF NOT EXISTS requests_au AFTER UPDATE ON requests BEGIN
    INSERT INTO requests_text(requests_text, rowid, title_terms, body_terms)
    VALUES ('delete', old.rowid, old.title_terms, old.body_terms);
    INSERT INTO requests_text(rowid, title_terms, body_terms)
    VALUES (new.rowid, new.title_terms, new.body_terms);
END;
"""
DROP = """
DROP TRIGGER IF EXISTS requests_ai; DROP TRIGGER IF EXISTS requests_ad;
DROP TRIGGER IF EXISTS requests_au; DROP TABLE IF EXISTS requests_vocab;
DROP TABLE IF EXISTS requests_text; DROP TABLE IF EXISTS requests;
DROP TABLE IF EXISTS term_docs; DROP TABLE IF EXISTS index_meta;
"""

# The same on PostgreSQL, as versioned steps (append, never edit a released one). The
# words of a request are one GIN-indexed tsvector made from its stems as they are (no
# parser, no dictionary: a stem is a lexeme), so both engines search the same words.
PG_STEPS = Steps(
    "request_index",
    (
        """
        CREATE TABLE IF NOT EXISTS requests (
            rowid BIGSERIAL PRIMARY KEY,
            installation BIGINT NOT NULL,
            repo TEXT COLLATE "C" NOT NULL,
            number INTEGER NOT NULL,
            node_id TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            community TEXT NOT NULL DEFAULT '',
            labels TEXT NOT NULL DEFAULT '',
            workflow TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL DEFAULT 'open',
            private INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL DEFAULT '',
            closed_at TEXT NOT NULL DEFAULT '',
            title_terms TEXT NOT NULL DEFAULT '',
            body_terms TEXT NOT NULL DEFAULT '',
            terms TSVECTOR GENERATED ALWAYS AS (array_to_tsvector(array_remove(
                string_to_array(title_terms || ' ' || body_terms, ' '), ''))) STORED,
            UNIQUE (installation, repo, number)
        );
        CREATE INDEX IF NOT EXISTS requests_by_repo ON requests (installation, repo);
        CREATE INDEX IF NOT EXISTS requests_terms ON requests USING GIN (terms);
        CREATE TABLE IF NOT EXISTS term_docs (term TEXT PRIMARY KEY, docs INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS index_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
        CREATE TABLE IF NOT EXISTS link_decisions (
            installation BIGINT NOT NULL,
            a TEXT NOT NULL,
            b TEXT NOT NULL,
            decision TEXT NOT NULL,
            score DOUBLE PRECISION,
            decided_by TEXT NOT NULL DEFAULT '',
            decided_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (installation, a, b)
        );
        CREATE TABLE IF NOT EXISTS request_vectors (
            installation BIGINT NOT NULL,
            repo TEXT COLLATE "C" NOT NULL,
            number INTEGER NOT NULL,
            model TEXT NOT NULL,
            digest TEXT NOT NULL,
            vec BYTEA NOT NULL,
            PRIMARY KEY (installation, repo, number)
        );
        CREATE TABLE IF NOT EXISTS vector_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
        """,
        # Each vector carries the version that wrote it: a replica reads only what is new.
        """
        ALTER TABLE request_vectors ADD COLUMN IF NOT EXISTS written BIGINT NOT NULL DEFAULT 0;
        CREATE INDEX IF NOT EXISTS request_vectors_written ON request_vectors (written);
        """,
    ),
)

UPSERT = (
    "INSERT INTO requests (installation, repo, number, node_id, title, body, community, labels,"
    " workflow, state, private, updated_at, closed_at, title_terms, body_terms)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (installation, repo, number) DO UPDATE SET node_id=excluded.node_id,"
    " title=excluded.title, body=excluded.body, community=excluded.community,"
    " labels=excluded.labels, workflow=excluded.workflow, state=excluded.state,"
    " private=excluded.private, updated_at=excluded.updated_at, closed_at=excluded.closed_at,"
    " title_terms=excluded.title_terms, body_terms=excluded.body_terms"
)
COLUMNS = (
    "installation, repo, number, title, body, community, labels, workflow, state, private,"
    " node_id, updated_at, closed_at"
)
COLUMNS_R = ", ".join(f"r.{c.strip()}" for c in COLUMNS.split(","))


def row_of(r: Request) -> tuple[object, ...]:
    body = plain_text(r.body)
    return (
        r.installation,
        r.repo,
        r.number,
        r.node_id,
        r.title,
        body,
        r.community,
        "\n".join(r.labels),
        r.workflow,
        r.state,
        int(r.private),
        r.updated_at,
        r.closed_at,
        " ".join(terms(r.title)),
        " ".join(terms(body)),
    )


def request_of_row(row: Sequence[object]) -> Request:
    labels = str(row[6])
    return Request(
        installation=int(row[0]),  # type: ignore[call-overload]
        repo=str(row[1]),
        number=int(row[2]),  # type: ignore[call-overload]
        title=str(row[3]),
        body=str(row[4]),
        community=str(row[5]),
        labels=tuple(labels.split("\n")) if labels else (),
        workflow=str(row[7]),
        state=str(row[8]),
        private=bool(row[9]),
        node_id=str(row[10]),
        updated_at=str(row[11]),
        closed_at=str(row[12]),
    )
