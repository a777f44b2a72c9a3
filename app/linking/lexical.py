"""The word search that finds a request's candidates: FTS5 on SQLite, ``tsvector`` on PostgreSQL.

Both engines must hand linking the same candidates, or a move to PostgreSQL
would change which requests are linked. SQLite ranks with FTS5's ``bm25()``;
PostgreSQL has no BM25 (``ts_rank`` is another measure), so there a GIN index
on the request's words finds the rows that use any searched word, and
``bm25`` below ranks them by FTS5's own formula (same constants, same column
weights, same IDF floor), from the counts the index keeps anyway: requests
(``index_meta``), words per request (``term_docs``) and words in all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .index_sql import COLUMNS_R

K1, B = 1.2, 0.75  # FTS5's bm25() constants
TITLE_WEIGHT, BODY_WEIGHT = 2.0, 1.0
IDF_FLOOR = 1e-6  # FTS5 replaces a non-positive IDF (a word in most rows) by this
PG_MATCHES_READ = 20_000  # a backstop: searched words are the rare ones (index.py)

Phrase = tuple[str, ...]


def sqlite_candidates(
    db: Any, phrases: Sequence[Phrase], installation: int, limit: int
) -> list[Sequence[Any]]:
    """Rows (``COLUMNS_R``, title_terms, body_terms) best first by FTS5's BM25."""
    query = " OR ".join(f'"{" ".join(p)}"' for p in phrases)
    return list(
        db.execute(
            f"SELECT {COLUMNS_R}, r.title_terms, r.body_terms FROM requests_text"
            " JOIN requests r ON r.rowid = requests_text.rowid"
            " WHERE requests_text MATCH ? AND r.installation = ?"
            " ORDER BY bm25(requests_text, 2.0, 1.0) LIMIT ?",
            (query, installation, limit),
        ).fetchall()
    )


def pg_candidates(
    db: Any, phrases: Sequence[Phrase], installation: int, limit: int
) -> list[Sequence[Any]]:
    """The same rows, in the same order, from PostgreSQL: GIN finds, ``bm25`` ranks."""
    # A phrase's words must all be there (the GIN index); that they are consecutive is
    # checked while scoring. The words are [a-z0-9]+ stems, quoted as tsquery lexemes.
    tsquery = " | ".join("(" + " & ".join(f"'{w}'" for w in p) + ")" for p in phrases)
    rows = db.execute(
        f"SELECT {COLUMNS_R}, r.title_terms, r.body_terms, r.rowid FROM requests r"
        " WHERE r.terms @@ ?::tsquery AND r.installation = ? LIMIT ?",
        (tsquery, installation, PG_MATCHES_READ),
    ).fetchall()
    if not rows:
        return []
    total = _meta(db, "requests")
    average = _meta(db, "tokens") / total if total else 0.0
    idf = [phrase_idf(_rows_using(db, p), total) for p in phrases]
    scored = []
    for row in rows:
        title, body = str(row[-3]).split(), str(row[-2]).split()
        score = bm25(phrases, idf, title, body, average)
        if score is not None:
            scored.append((-score, int(row[-1]), row[:-1]))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [row for _, _, row in scored[:limit]]


def phrase_idf(rows_using: int, total: int) -> float:
    idf = math.log((total - rows_using + 0.5) / (rows_using + 0.5))
    return idf if idf > 0 else IDF_FLOOR


def bm25(
    phrases: Sequence[Phrase],
    idf: Sequence[float],
    title: Sequence[str],
    body: Sequence[str],
    average_length: float,
) -> float | None:
    """FTS5's ``bm25(requests_text, 2.0, 1.0)`` of one row (positive: higher is better),
    or None when the row holds none of the phrases (FTS5 would not return it)."""
    length = len(title) + len(body)
    norm = K1 * (1 - B + B * length / average_length) if average_length else K1
    score, matched = 0.0, False
    for phrase, weight in zip(phrases, idf, strict=True):
        freq = TITLE_WEIGHT * _hits(phrase, title) + BODY_WEIGHT * _hits(phrase, body)
        if freq:
            matched = True
            score += weight * (freq * (K1 + 1.0)) / (freq + norm)
    return score if matched else None


def _hits(phrase: Phrase, words: Sequence[str]) -> int:
    size = len(phrase)
    if size == 1:
        return sum(1 for w in words if w == phrase[0])
    return sum(1 for i in range(len(words) - size + 1) if tuple(words[i : i + size]) == phrase)


def _meta(db: Any, key: str) -> int:
    row = db.execute("SELECT value FROM index_meta WHERE key=?", (key,)).fetchone()
    return int(row[0]) if row else 0


def _rows_using(db: Any, phrase: Phrase) -> int:
    """How many requests (every installation's, as FTS5 counts) use the phrase."""
    if len(phrase) == 1:
        row = db.execute("SELECT docs FROM term_docs WHERE term=?", (phrase[0],)).fetchone()
        return int(row[0]) if row else 0
    rows = db.execute(
        "SELECT title_terms, body_terms FROM requests WHERE terms @@ ?::tsquery",
        (" & ".join(f"'{w}'" for w in phrase),),
    ).fetchall()
    return sum(1 for t, b in rows if _hits(phrase, str(t).split()) or _hits(phrase, b.split()))
