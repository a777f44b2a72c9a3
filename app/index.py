"""The request index: every community request of an installation, searchable by meaning-ish.

A cache in SQLite (FTS5, BM25 ranking) of issues from every repository of
an installation: it can always be rebuilt from GitHub. Relatedness is BM25
candidates re-scored by how much of the need two requests share (their
distinctive terms), their shared labels and whether they are the same
workflow; a request is never related to itself or to the same community's
other requests, because that is not a network effect.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

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
    UNIQUE (installation, repo, number)
);
CREATE VIRTUAL TABLE IF NOT EXISTS requests_text USING fts5(
    title, body, content='requests', content_rowid='rowid', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS requests_ai AFTER INSERT ON requests BEGIN
    INSERT INTO requests_text(rowid, title, body) VALUES (new.rowid, new.title, new.body);
END;
CREATE TRIGGER IF NOT EXISTS requests_ad AFTER DELETE ON requests BEGIN
    INSERT INTO requests_text(requests_text, rowid, title, body)
    VALUES ('delete', old.rowid, old.title, old.body);
END;
CREATE TRIGGER IF NOT EXISTS requests_au AFTER UPDATE ON requests BEGIN
    INSERT INTO requests_text(requests_text, rowid, title, body)
    VALUES ('delete', old.rowid, old.title, old.body);
    INSERT INTO requests_text(rowid, title, body) VALUES (new.rowid, new.title, new.body);
END;
"""

_CODE = re.compile(r"```.*?```|`[^`]*`", re.S)
_MARKUP = re.compile(r"<!--.*?-->|<[^>]+>|!\[[^\]]*\]\([^)]*\)|\]\([^)]*\)|[#>*_~|\[\]-]+", re.S)
_WORD = re.compile(r"[a-z0-9]+")
# Words every request has: they say nothing about the need.
_STOPWORDS_TEXT = """
a about after all also an and any are as at be been but by can could do does for from get has
have hub hubs i if in into is it its just like may me more my need needs no not of on or our
please should so some that the their them then there these they this to up us use using want
was we were what when which while who will with would you your response none
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def plain_text(markdown: str | None) -> str:
    """Markdown reduced to the words people wrote (code, links, markup and markers removed)."""
    text = _CODE.sub(" ", markdown or "")
    return " ".join(_MARKUP.sub(" ", text).split())


def terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 2]


@dataclass(frozen=True)
class Request:
    installation: int
    repo: str
    number: int
    title: str
    body: str
    community: str = ""
    labels: tuple[str, ...] = ()
    workflow: str = ""
    state: str = "open"
    private: bool = False
    node_id: str = ""
    updated_at: str = ""

    @property
    def ref(self) -> str:
        return f"{self.repo}#{self.number}"


@dataclass(frozen=True)
class Related:
    request: Request
    score: float
    shared_terms: tuple[str, ...]
    shared_labels: tuple[str, ...]


@dataclass(frozen=True)
class Scoring:
    threshold: float = 0.35
    label_weight: float = 0.15
    workflow_weight: float = 0.05
    candidates: int = 40


# Labels every workflow issue carries say nothing about the need.
_GENERIC_LABELS = ("community:", "type:", "needs:", "error:", "interested:", "co-funded:")


class RequestIndex:
    """One SQLite file; all calls are synchronous and fast (run them off the event loop)."""

    def __init__(self, path: Path | str = ":memory:") -> None:
        self.db = sqlite3.connect(str(path), check_same_thread=False)
        self.db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" + SCHEMA)

    def close(self) -> None:
        self.db.close()

    def upsert_many(self, requests: Iterable[Request]) -> int:
        rows = [
            (
                r.installation,
                r.repo,
                r.number,
                r.node_id,
                r.title,
                plain_text(r.body),
                r.community,
                "\n".join(r.labels),
                r.workflow,
                r.state,
                int(r.private),
                r.updated_at,
            )
            for r in requests
        ]
        with self.db:
            self.db.executemany(
                "INSERT INTO requests (installation, repo, number, node_id, title, body, community,"
                " labels, workflow, state, private, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (installation, repo, number) DO UPDATE SET node_id=excluded.node_id,"
                " title=excluded.title, body=excluded.body, community=excluded.community,"
                " labels=excluded.labels, workflow=excluded.workflow, state=excluded.state,"
                " private=excluded.private, updated_at=excluded.updated_at",
                rows,
            )
        return len(rows)

    def delete(self, installation: int, repo: str, number: int) -> None:
        with self.db:
            self.db.execute(
                "DELETE FROM requests WHERE installation=? AND repo=? AND number=?",
                (installation, repo, number),
            )

    def get(self, installation: int, repo: str, number: int) -> Request | None:
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM requests WHERE installation=? AND repo=? AND number=?",
            (installation, repo, number),
        ).fetchone()
        return _request(row) if row else None

    def all(self, installation: int) -> list[Request]:
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM requests WHERE installation=? ORDER BY repo, number",
            (installation,),
        )
        return [_request(row) for row in rows]

    def related(self, request: Request, scoring: Scoring = Scoring()) -> list[Related]:
        """Other communities' requests about the same need, best first, above the threshold."""
        words = sorted(set(terms(f"{request.title} {request.title} {plain_text(request.body)}")))
        if not words:
            return []
        query = " OR ".join(f'"{w}"' for w in words[:64])
        rows = self.db.execute(
            f"SELECT {_COLUMNS_R} FROM requests_text"
            " JOIN requests r ON r.rowid = requests_text.rowid"
            " WHERE requests_text MATCH ? AND r.installation = ?"
            " ORDER BY bm25(requests_text, 2.0, 1.0) LIMIT ?",
            (query, request.installation, scoring.candidates),
        ).fetchall()
        found = []
        mine = _weighted_terms(request.title, request.body)
        for row in rows:
            other = _request(row)
            if other.ref == request.ref:
                continue
            if request.community and other.community == request.community:
                continue  # the same community's requests: not a network effect
            theirs = _weighted_terms(other.title, other.body)
            shared = sorted(set(mine) & set(theirs), key=lambda t: -(mine[t] + theirs[t]))
            text_score = _cosine(mine, theirs)
            labels = sorted(_need_labels(request.labels) & _need_labels(other.labels))
            score = text_score + scoring.label_weight * bool(labels)
            if request.workflow and other.workflow == request.workflow:
                score += scoring.workflow_weight
            if score >= scoring.threshold:
                found.append(Related(other, round(score, 3), tuple(shared[:5]), tuple(labels)))
        found.sort(key=lambda r: -r.score)
        return found

    def document_frequency(self, term: str) -> int:
        row = self.db.execute(
            "SELECT count(*) FROM requests_text WHERE requests_text MATCH ?", (f'"{term}"',)
        ).fetchone()
        return int(row[0])


_COLUMNS = (
    "installation, repo, number, title, body, community, labels, workflow, state, private,"
    " node_id, updated_at"
)
_COLUMNS_R = ", ".join(f"r.{c.strip()}" for c in _COLUMNS.split(","))


def _request(row: Sequence[object]) -> Request:
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
    )


def _need_labels(labels: Iterable[str]) -> set[str]:
    return {name.lower() for name in labels if not name.lower().startswith(_GENERIC_LABELS)}


def _stem(word: str) -> str:
    """A crude stemmer, enough to meet "quotas"/"quota" and "timing"/"times" half-way."""
    for suffix in ("ing", "ies", "es", "s", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _weighted_terms(title: str, body: str) -> dict[str, float]:
    """Term → weight: title words count double; each term's weight is damped (log)."""
    counts: dict[str, float] = {}
    for word in terms(title):
        counts[_stem(word)] = counts.get(_stem(word), 0.0) + 2.0
    for word in terms(plain_text(body)):
        counts[_stem(word)] = counts.get(_stem(word), 0.0) + 1.0
    return {t: 1.0 + math.log(c) for t, c in counts.items()}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    common = set(a) & set(b)
    if not common:
        return 0.0
    dot = sum(a[t] * b[t] for t in common)
    return dot / (
        math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    )
