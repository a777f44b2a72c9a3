"""The request index: every community request of an installation, searchable by meaning-ish.

A cache (SQLite with FTS5, or PostgreSQL with a GIN-indexed ``tsvector``; BM25
ranking on both, ``lexical.py``) of issues from every repository of an
installation: it can always be rebuilt from GitHub. Relatedness is BM25
candidates re-scored by how much of the need two requests share (their
distinctive terms), their shared labels and whether they are the same
workflow; a request is never related to itself or to the same community's
other requests, because that is not a network effect.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..store.engine import connect, on_postgres
from . import lexical
from .decisions import Decisions
from .index_sql import (
    COLUMNS,
    DROP,
    PG_STEPS,
    SCHEMA,
    SCHEMA_VERSION,
    UPSERT,
    request_of_row,
    row_of,
)
from .meaning import Meaning
from .scoring import (
    CONCEPT,
    DEFAULT_SCORING,
    Related,
    Request,
    Scoring,
    Thesaurus,
    _counts,
    compare_requests,
    in_words,
    may_link,
    weigh,
    weighted_terms_of,
)
from .text import stem
from .vectors import VectorIndex

if TYPE_CHECKING:
    from .embeddings import Embedder


TOTAL = ""  # the term-count cache's entry for the number of requests (no term is empty)


def _length(terms: tuple[object, ...] | None) -> int:
    """Words in a request's title and body terms (FTS5's row length for BM25)."""
    return 0 if terms is None else len(f"{terms[0]} {terms[1]}".split())


class RequestIndex:
    """The journal's database (a SQLite file, or PostgreSQL); calls are synchronous and
    take milliseconds, serialised by a lock."""

    def __init__(self, location: Path | str = ":memory:", embedder: Embedder | None = None) -> None:
        self.db = connect(
            location, sqlite_pragmas=("journal_mode=WAL", "synchronous=NORMAL"), cache=True
        )
        self.lock = threading.Lock()
        self._df_cache: dict[str, int] = {}
        self._df_cache_since = time.monotonic()
        self.version = 0
        if on_postgres(self.db):
            self.db.migrate(PG_STEPS)
            self._candidates = lexical.pg_candidates
        else:
            if self.db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                self.db.executescript(DROP)
            self.db.executescript(SCHEMA + f"PRAGMA user_version={SCHEMA_VERSION};")
            self._candidates = lexical.sqlite_candidates
        self.decisions = Decisions(self.db, self.lock)  # people's verdicts on links
        self.meaning: Meaning | None = None
        if embedder is not None:
            vectors = VectorIndex(self.db, self.lock, embedder.model_id, embedder.dim)
            self.meaning = Meaning(embedder, vectors)

    def close(self) -> None:
        self.db.close()

    # -- writing ---------------------------------------------------------------------

    def upsert_many(self, requests: Iterable[Request]) -> int:
        rows = [row_of(r) for r in requests]
        with self.lock, self.db:
            self._write(rows, [])
        return len(rows)

    def replace_installation(
        self, installation: int, requests: Iterable[Request], repos: Iterable[str] | None = None
    ) -> int:
        """The installation's requests (or those in ``repos``) become exactly these: a rebuild."""
        rows = [row_of(r) for r in requests]
        with self.lock, self.db:
            self._write([], self._keys_in(installation, repos))
            self._write(rows, [])
        return len(rows)

    def delete(self, installation: int, repo: str, number: int) -> None:
        with self.lock, self.db:
            self._write([], [(installation, repo, number)])

    def delete_repos(self, installation: int, repos: Iterable[str] | None = None) -> None:
        """A repository left the installation (or the whole installation went)."""
        with self.lock, self.db:
            self._write([], self._keys_in(installation, repos))

    def _keys_in(
        self, installation: int, repos: Iterable[str] | None
    ) -> list[tuple[int, str, int]]:
        if repos is None:
            found = self.db.execute(
                "SELECT installation, repo, number FROM requests WHERE installation=?",
                (installation,),
            ).fetchall()
        else:
            found = []
            for repo in repos:
                found += self.db.execute(
                    "SELECT installation, repo, number FROM requests"
                    " WHERE installation=? AND repo=?",
                    (installation, repo),
                ).fetchall()
        return [(int(i), str(r), int(n)) for i, r, n in found]

    def _write(self, rows: list[tuple[object, ...]], deletes: list[tuple[int, str, int]]) -> None:
        """Rows in, keys out, and the term counts IDF reads kept in step (in one transaction)."""
        self.version += 1  # the dashboard's cached network is stale from here
        delta: dict[str, int] = {}
        added = tokens = 0
        changes = [(row[:3], row[-2:]) for row in rows] + [(key, None) for key in deletes]
        for key, new_terms in changes:
            old = self.db.execute(
                "SELECT title_terms, body_terms FROM requests"
                " WHERE installation=? AND repo=? AND number=?",
                key,
            ).fetchone()
            if old is not None:
                for term in set(f"{old[0]} {old[1]}".split()):
                    delta[term] = delta.get(term, 0) - 1
            if new_terms is not None:
                for term in set(f"{new_terms[0]} {new_terms[1]}".split()):
                    delta[term] = delta.get(term, 0) + 1
            added += (new_terms is not None) - (old is not None)
            tokens += _length(new_terms) - _length(old)
        if rows:
            self.db.executemany(UPSERT, rows)
        if deletes:
            self.db.executemany(
                "DELETE FROM requests WHERE installation=? AND repo=? AND number=?", deletes
            )
            if self.meaning is not None:
                self.meaning.vectors.forget_locked(deletes)
        changed = [(t, d) for t, d in delta.items() if d]
        for term in [TOTAL, *(t for t, _ in changed)]:
            self._df_cache.pop(term, None)
        self.db.executemany(
            "INSERT INTO term_docs (term, docs) VALUES (?, ?)"
            " ON CONFLICT (term) DO UPDATE SET docs = term_docs.docs + excluded.docs",
            changed,
        )
        self.db.executemany(
            "DELETE FROM term_docs WHERE term=? AND docs <= 0", [(t,) for t, d in changed if d < 0]
        )
        self.db.executemany(  # requests, and words in all (PostgreSQL's BM25 reads both)
            "INSERT INTO index_meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = index_meta.value + excluded.value",
            [("requests", added), ("tokens", tokens)],
        )

    def set_private(self, installation: int, repo: str, private: bool) -> None:
        with self.lock, self.db:
            self.version += 1
            self.db.execute(
                "UPDATE requests SET private=? WHERE installation=? AND repo=?",
                (int(private), installation, repo),
            )

    # -- reading ---------------------------------------------------------------------

    def get(self, installation: int, repo: str, number: int) -> Request | None:
        with self.lock:
            row = self.db.execute(
                f"SELECT {COLUMNS} FROM requests WHERE installation=? AND repo=? AND number=?",
                (installation, repo, number),
            ).fetchone()
        return request_of_row(row) if row else None

    def all(self, installation: int, *, private_only: bool = False) -> list[Request]:
        only = " AND private=1" if private_only else ""
        with self.lock:
            rows = self.db.execute(
                f"SELECT {COLUMNS} FROM requests WHERE installation=?{only} ORDER BY repo, number",
                (installation,),
            ).fetchall()
        return [request_of_row(row) for row in rows]

    def everything(self) -> list[Request]:
        """Every installation's requests, without their bodies (the dashboard's network)."""
        columns = COLUMNS.replace("body,", "'' AS body,")
        with self.lock:
            found = self.db.execute(f"SELECT {columns} FROM requests ORDER BY repo, number")
            rows = found.fetchall()
        return [request_of_row(row) for row in rows]

    def installations(self) -> list[int]:
        with self.lock:
            rows = self.db.execute("SELECT DISTINCT installation FROM requests").fetchall()
        return sorted(int(r[0]) for r in rows)

    def private_repos(self) -> set[str]:
        with self.lock:
            rows = self.db.execute("SELECT DISTINCT repo FROM requests WHERE private=1").fetchall()
        return {r[0] for r in rows}

    def _total(self) -> int:
        """Requests, every installation's: cached with the term counts, and for as long."""
        known = self._df_cache.get(TOTAL)
        if known is None:
            row = self.db.execute("SELECT value FROM index_meta WHERE key='requests'").fetchone()
            known = self._df_cache[TOTAL] = int(row[0]) if row else 0
        return known

    def related(self, request: Request, scoring: Scoring = DEFAULT_SCORING) -> list[Related]:
        """Other communities' requests about the same need, best first, above the threshold:
        by meaning when the request has a vector, else by the words both use."""
        if self.meaning is not None:
            floor = min(scoring.suggest_threshold, scoring.meaning_threshold)
            found = self.meaning.related(request, scoring, self.fetch, floor=floor)
            if found is not None:
                return self.judged(request, found, scoring)
        thesaurus = scoring.thesaurus
        counts = weighted_terms_of(request, thesaurus)
        if not counts:
            return []
        with self.lock:
            # Candidates come from the rarest of its words: short posting lists, fast BM25.
            idf = self._idf(set(counts), thesaurus)
            rarity = {t: (1.0 + math.log(c)) * idf[t] for t, c in counts.items()}
            ranked = sorted(rarity, key=lambda t: (-rarity[t], t))
            # A word in more than 2% of requests makes BM25 read a long posting list and
            # finds little: searched only when a request has almost no rarer word.
            common = math.log(1.0 + (self._total() + 1) / (max(200, self._total() / 50) + 0.5))
            distinctive = [t for t in ranked if idf[t] >= common][: scoring.query_terms]
            if len(distinctive) < 2:
                distinctive = ranked[:2]
            words = [w for t in distinctive for w in (thesaurus.members(t) or (t,))]
            phrases = [tuple(w.split()) for w in words]
            rows = self._candidates(self.db, phrases, request.installation, scoring.candidates)
            candidates = [
                (request_of_row(row), _counts(str(row[-2]), str(row[-1]), thesaurus))
                for row in rows
            ]
            idf = self._idf({t for _, c in candidates for t in c} | set(counts), thesaurus)
        mine = weigh(counts, idf)
        found = []
        for other, theirs in candidates:
            if not may_link(request, other, scoring):
                continue
            related = compare_requests(request, mine, other, weigh(theirs, idf), scoring)
            if related.score >= scoring.threshold:
                found.append(related)
        found.sort(key=lambda r: (-r.score, r.request.ref))
        return in_words(request, found)

    def score(self, a: Request, b: Request, scoring: Scoring = DEFAULT_SCORING) -> Related | None:
        """How related two given requests are (the same measure as ``related``), or None."""
        if not may_link(a, b, scoring):
            return None
        meant = self.meaning.score(a, b, scoring) if self.meaning is not None else None
        if meant is not None and self.meaning is not None:
            labels = self.meaning.bonus(a, b, scoring)[1]
            judged = self.judged(a, [Related(b, meant, (), labels, by_meaning=True)], scoring)
            return judged[0] if judged else None
        counts_a = weighted_terms_of(a, scoring.thesaurus)
        counts_b = weighted_terms_of(b, scoring.thesaurus)
        with self.lock:
            idf = self._idf(set(counts_a) | set(counts_b), scoring.thesaurus)
        related = compare_requests(a, weigh(counts_a, idf), b, weigh(counts_b, idf), scoring)
        return in_words(a, [related])[0] if related.score >= scoring.threshold else None

    def judged(
        self, a: Request, found: list[Related], scoring: Scoring, *, posted_only: bool = True
    ) -> list[Related]:
        """Of the requests close in meaning, those linked: from ``meaning_threshold`` on, or
        from ``suggest_threshold`` when their words agree too (the word linker's threshold),
        each with the words both use, most telling first, to say why.

        The words rescue pairs the model ranks a little low that say the same thing in the
        same terms ("GPU", "PyTorch"): on the development set, recall 0.31 → 0.37 at the
        same precision (0.67 → 0.66).
        """
        counts_a = weighted_terms_of(a, scoring.thesaurus)
        others = [(r, weighted_terms_of(r.request, scoring.thesaurus)) for r in found]
        with self.lock:
            keys = set(counts_a).union(*(set(c) for _, c in others))
            idf = self._idf(keys, scoring.thesaurus)
        mine = weigh(counts_a, idf)
        kept = []
        for r, counts in others:
            words = compare_requests(a, mine, r.request, weigh(counts, idf), scoring)
            posted = r.score >= scoring.meaning_threshold or (
                r.score >= scoring.suggest_threshold and words.score >= scoring.threshold
            )
            if posted or not posted_only:
                kept.append(replace(r, shared_terms=words.shared_terms))
        return in_words(a, kept)

    def fetch(self, installation: int, keys: Iterable[tuple[str, int]]) -> list[Request]:
        """The indexed requests with these (repo, number) keys, in their order (one query
        for up to 200 keys: on PostgreSQL each query is a round trip)."""
        wanted = list(dict.fromkeys(keys))
        rows: dict[tuple[str, int], Request] = {}
        with self.lock:
            for start in range(0, len(wanted), 200):
                chunk = wanted[start : start + 200]
                found = self.db.execute(
                    f"SELECT {COLUMNS} FROM requests WHERE installation=?"
                    f" AND (repo, number) IN ({','.join('(?,?)' for _ in chunk)})",
                    [installation, *(v for key in chunk for v in key)],
                ).fetchall()
                for row in found:
                    request = request_of_row(row)
                    rows[(request.repo, request.number)] = request
        return [rows[key] for key in wanted if key in rows]

    def document_frequency(self, term: str) -> int:
        with self.lock:
            return self._idf_rows([stem(term)]).get(stem(term), 0)

    def _idf(self, keys: set[str], thesaurus: Thesaurus) -> dict[str, float]:
        """Inverse document frequency: a word most requests use weighs little.

        A thesaurus group's frequency is its words' summed (an over-count when
        one request uses two of them: the group then weighs a little less).
        """
        total = self._total()
        groups = {k: thesaurus.members(k) for k in keys if k.startswith(CONCEPT)}
        words = {w for entries in groups.values() for entry in entries for w in entry.split()}
        df = self._idf_rows([*(k for k in keys if k not in groups), *words])

        def docs(entry: str) -> int:  # a phrase is used at most as often as its rarest word
            return min(df.get(w, 0) for w in entry.split())

        for key, entries in groups.items():
            df[key] = min(total, sum(map(docs, entries)))
        return {k: math.log(1.0 + (total + 1) / (df.get(k, 0) + 0.5)) for k in keys}

    def _idf_rows(self, stems: Sequence[str]) -> dict[str, int]:
        """Requests per term, cached: this process's writes drop what they change; another
        process's (``flywheel index``) show within a minute, and IDF drifts slowly anyway."""
        if time.monotonic() - self._df_cache_since > 60 or len(self._df_cache) > 500_000:
            self._df_cache.clear()
            self._df_cache_since = time.monotonic()
        found: dict[str, int] = {}
        missing = []
        for term in stems:
            known = self._df_cache.get(term)
            if known is None:
                missing.append(term)
            else:
                found[term] = known
        for start in range(0, len(missing), 400):
            chunk = missing[start : start + 400]
            marks = ",".join("?" * len(chunk))
            answered = dict(
                self.db.execute(f"SELECT term, docs FROM term_docs WHERE term IN ({marks})", chunk)
            )
            for term in chunk:
                found[term] = self._df_cache[term] = int(answered.get(term, 0))
        return found
