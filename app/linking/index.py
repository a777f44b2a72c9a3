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
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
_DROP = """
DROP TRIGGER IF EXISTS requests_ai; DROP TRIGGER IF EXISTS requests_ad;
DROP TRIGGER IF EXISTS requests_au; DROP TABLE IF EXISTS requests_vocab;
DROP TABLE IF EXISTS requests_text; DROP TABLE IF EXISTS requests;
DROP TABLE IF EXISTS term_docs; DROP TABLE IF EXISTS index_meta;
"""

_CODE = re.compile(r"```.*?```|`[^`]*`", re.S)
_FORM_NOISE = re.compile(r"^#{1,6} .*$|_No response_|https?://\S+|\S+@\S+|@[\w-]+", re.M)
_LINKS = re.compile(r"<!--.*?-->|<[^>]+>|!\[[^\]]*\]\([^)]*\)|\]\([^)]*\)", re.S)
_MARKS = re.compile(r"[#>*_~|\[\]-]+")
_WORD = re.compile(r"[a-z0-9]+")
# Words any request may use: they say nothing about the need.
_STOPWORDS_TEXT = """
a about after all also am an and any are as at be been being but by can could did do does done
for from get got has have hub hubs how i if in into is it its just like may me more most much my
need needs no not now of on one or our out please should so some such than that the their them
then there these they this those to too up us use used using very want was way we were what when
where which while who why will with would you your response none other others thanks thank hello
hi able make new etc
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def plain_text(markdown: str | None) -> str:
    """Markdown reduced to the words people wrote: no code, links, markup, headings, handles."""
    text = _FORM_NOISE.sub(" ", _LINKS.sub(" ", _CODE.sub(" ", markdown or "")))
    return " ".join(_MARKS.sub(" ", text).split())


def terms(text: str) -> list[str]:
    """The stems of a text's meaningful words, in order (stopwords, numbers, short words out)."""
    return [
        stem(w)
        for w in _WORD.findall(text.lower())
        if len(w) > 2 and w not in STOPWORDS and not w.isdigit()
    ]


_SUFFIXES = ("ations", "ation", "ising", "izing", "ised", "ized", "ise", "ize", "ments", "ment")


def stem(word: str) -> str:
    """A light English stemmer: "quotas"/"quota", "grading"/"grade", "culled"/"cull" meet.

    Light on purpose: it only has to be the same on both sides of a comparison,
    and over-stemming joins needs that differ ("stor-age", "stor-y").
    """
    w = word
    if len(w) <= 3:
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith(("sses", "xes", "ches", "shes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]  # running → run
            break
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            w = w[: -len(suffix)]
            break
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    return w


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
    closed_at: str = ""

    @property
    def ref(self) -> str:
        return f"{self.repo}#{self.number}"


@dataclass(frozen=True)
class Related:
    request: Request
    score: float
    shared_terms: tuple[str, ...]  # as the first request wrote them, most telling first
    shared_labels: tuple[str, ...]


@dataclass(frozen=True)
class Thesaurus:
    """Words a community-relations team knows mean one need ("login", "SSO", "CILogon").

    Applied when comparing, not when indexing: editing the list in config
    needs no rebuild. An entry may be a phrase ("home directory", "object
    storage"): it is matched as consecutive words, so "storage" alone stays
    itself. A group counts as one term, weighed by how rare the group is.
    """

    phrases: Mapping[tuple[str, ...], str] = field(default_factory=dict)  # stems → group
    stems_of: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # group → its entries
    phrase_starts: frozenset[str] = frozenset()  # first stems of the multi-word entries

    @classmethod
    def of(cls, groups: Mapping[str, Iterable[str]]) -> Thesaurus:
        phrases: dict[tuple[str, ...], str] = {}
        for name, entries in groups.items():
            for entry in entries:
                key = tuple(terms(entry))
                if key:
                    phrases[key] = f"{_CONCEPT}{name}"
        stems_of: dict[str, list[str]] = {}
        for key, concept in sorted(phrases.items()):
            stems_of.setdefault(concept, []).append(" ".join(key))
        starts = frozenset(key[0] for key in phrases if len(key) > 1)
        return cls(phrases, {k: tuple(v) for k, v in stems_of.items()}, starts)

    def members(self, concept: str) -> tuple[str, ...]:
        """What to search for a group: its words and phrases (FTS5 matches a phrase in quotes)."""
        return self.stems_of.get(concept, ())

    def fold(self, stems: Sequence[str]) -> list[str]:
        """The stems with each phrase of a group replaced by the group (longest phrase first)."""
        if not self.phrases:
            return list(stems)
        phrases, starts = self.phrases, self.phrase_starts
        out, i, n = [], 0, len(stems)
        while i < n:
            stem_here = stems[i]
            if stem_here in starts:
                for size in (3, 2):
                    concept = phrases.get(tuple(stems[i : i + size]))
                    if concept is not None:
                        out.append(concept)
                        i += size
                        break
                else:
                    out.append(phrases.get((stem_here,), stem_here))
                    i += 1
                continue
            out.append(phrases.get((stem_here,), stem_here))
            i += 1
        return out


_CONCEPT = "~"  # never produced by the tokenizer: concept names cannot collide with words


@dataclass(frozen=True)
class Scoring:
    """How relatedness is weighed (``linking:`` in flywheel.yaml sets these)."""

    threshold: float = 0.25
    label_weight: float = 0.1  # added when the two share a need label (not community: etc.)
    workflow_weight: float = 0.05  # added when both belong to the same workflow
    candidates: int = 30  # BM25 candidates re-scored
    query_terms: int = 5  # the most distinctive terms BM25 searches with
    closed_since: str = ""  # ISO time: requests closed before it are no longer offered
    thesaurus: Thesaurus = Thesaurus()


def same_for_linking(a: Request, b: Request) -> bool:
    """Whether linking would judge and show the two alike (an edit of punctuation is not news)."""
    shown = ("installation", "repo", "number", "title", "community", "state", "private")
    judged = ("workflow", "closed_at")
    if any(getattr(a, name) != getattr(b, name) for name in (*shown, *judged)):
        return False
    if need_labels(a.labels) != need_labels(b.labels):
        return False
    return terms(plain_text(a.body)) == terms(plain_text(b.body))


# Labels every workflow issue carries say nothing about the need.
_GENERIC_LABELS = ("community:", "type:", "needs:", "error:", "interested:", "co-funded:")


class RequestIndex:
    """One SQLite file; calls are synchronous and take milliseconds, serialised by a lock."""

    def __init__(self, path: Path | str = ":memory:") -> None:
        self.db = sqlite3.connect(str(path), check_same_thread=False, timeout=10)
        self.lock = threading.Lock()
        self._df_cache: dict[str, int] = {}
        self._df_cache_since = time.monotonic()
        self.version = 0
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        if self.db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            self.db.executescript(_DROP)
        self.db.executescript(SCHEMA + f"PRAGMA user_version={SCHEMA_VERSION};")

    def close(self) -> None:
        self.db.close()

    # -- writing ---------------------------------------------------------------------

    def upsert_many(self, requests: Iterable[Request]) -> int:
        rows = [_row(r) for r in requests]
        with self.lock, self.db:
            self._write(rows, [])
        return len(rows)

    def replace_installation(
        self, installation: int, requests: Iterable[Request], repos: Iterable[str] | None = None
    ) -> int:
        """The installation's requests (or those in ``repos``) become exactly these: a rebuild."""
        rows = [_row(r) for r in requests]
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
        added = 0
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
        if rows:
            self.db.executemany(_UPSERT, rows)
        if deletes:
            self.db.executemany(
                "DELETE FROM requests WHERE installation=? AND repo=? AND number=?", deletes
            )
        changed = [(t, d) for t, d in delta.items() if d]
        for term, _ in changed:
            self._df_cache.pop(term, None)
        self.db.executemany(
            "INSERT INTO term_docs (term, docs) VALUES (?, ?)"
            " ON CONFLICT (term) DO UPDATE SET docs = docs + excluded.docs",
            changed,
        )
        self.db.executemany(
            "DELETE FROM term_docs WHERE term=? AND docs <= 0", [(t,) for t, d in changed if d < 0]
        )
        self.db.execute(
            "INSERT INTO index_meta (key, value) VALUES ('requests', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
            (added,),
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
                f"SELECT {_COLUMNS} FROM requests WHERE installation=? AND repo=? AND number=?",
                (installation, repo, number),
            ).fetchone()
        return _request(row) if row else None

    def all(self, installation: int, *, private_only: bool = False) -> list[Request]:
        only = " AND private=1" if private_only else ""
        with self.lock:
            rows = self.db.execute(
                f"SELECT {_COLUMNS} FROM requests WHERE installation=?{only}"
                " ORDER BY repo, number",
                (installation,),
            ).fetchall()
        return [_request(row) for row in rows]

    def everything(self) -> list[Request]:
        """Every installation's requests, without their bodies (the dashboard's network)."""
        columns = _COLUMNS.replace("body,", "'' AS body,")
        with self.lock:
            found = self.db.execute(f"SELECT {columns} FROM requests ORDER BY repo, number")
            rows = found.fetchall()
        return [_request(row) for row in rows]

    def private_repos(self) -> set[str]:
        with self.lock:
            rows = self.db.execute("SELECT DISTINCT repo FROM requests WHERE private=1").fetchall()
        return {r[0] for r in rows}

    def _total(self) -> int:
        row = self.db.execute("SELECT value FROM index_meta WHERE key='requests'").fetchone()
        return int(row[0]) if row else 0

    def related(self, request: Request, scoring: Scoring = Scoring()) -> list[Related]:
        """Other communities' requests about the same need, best first, above the threshold."""
        thesaurus = scoring.thesaurus
        counts = _counts_of(request, thesaurus)
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
            query = " OR ".join(f'"{w}"' for w in words)
            rows = self.db.execute(
                f"SELECT {_COLUMNS_R}, r.title_terms, r.body_terms FROM requests_text"
                " JOIN requests r ON r.rowid = requests_text.rowid"
                " WHERE requests_text MATCH ? AND r.installation = ?"
                " ORDER BY bm25(requests_text, 2.0, 1.0) LIMIT ?",
                (query, request.installation, scoring.candidates),
            ).fetchall()
            candidates = [
                (_request(row), _counts(str(row[-2]), str(row[-1]), thesaurus)) for row in rows
            ]
            idf = self._idf({t for _, c in candidates for t in c} | set(counts), thesaurus)
        mine = _weigh(counts, idf)
        found = []
        for other, theirs in candidates:
            if not _may_link(request, other, scoring):
                continue
            related = _compare(request, mine, other, _weigh(theirs, idf), scoring)
            if related.score >= scoring.threshold:
                found.append(related)
        found.sort(key=lambda r: (-r.score, r.request.ref))
        return _in_words(request, found)

    def score(self, a: Request, b: Request, scoring: Scoring = Scoring()) -> Related | None:
        """How related two given requests are (the same measure as ``related``), or None."""
        if not _may_link(a, b, scoring):
            return None
        counts_a = _counts_of(a, scoring.thesaurus)
        counts_b = _counts_of(b, scoring.thesaurus)
        with self.lock:
            idf = self._idf(set(counts_a) | set(counts_b), scoring.thesaurus)
        related = _compare(a, _weigh(counts_a, idf), b, _weigh(counts_b, idf), scoring)
        return _in_words(a, [related])[0] if related.score >= scoring.threshold else None

    def document_frequency(self, term: str) -> int:
        with self.lock:
            return self._idf_rows([stem(term)]).get(stem(term), 0)

    def _idf(self, keys: set[str], thesaurus: Thesaurus) -> dict[str, float]:
        """Inverse document frequency: a word most requests use weighs little.

        A thesaurus group's frequency is its words' summed (an over-count when
        one request uses two of them: the group then weighs a little less).
        """
        total = self._total()
        groups = {k: thesaurus.members(k) for k in keys if k.startswith(_CONCEPT)}
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


_UPSERT = (
    "INSERT INTO requests (installation, repo, number, node_id, title, body, community, labels,"
    " workflow, state, private, updated_at, closed_at, title_terms, body_terms)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (installation, repo, number) DO UPDATE SET node_id=excluded.node_id,"
    " title=excluded.title, body=excluded.body, community=excluded.community,"
    " labels=excluded.labels, workflow=excluded.workflow, state=excluded.state,"
    " private=excluded.private, updated_at=excluded.updated_at, closed_at=excluded.closed_at,"
    " title_terms=excluded.title_terms, body_terms=excluded.body_terms"
)
_COLUMNS = (
    "installation, repo, number, title, body, community, labels, workflow, state, private,"
    " node_id, updated_at, closed_at"
)
_COLUMNS_R = ", ".join(f"r.{c.strip()}" for c in _COLUMNS.split(","))


def _row(r: Request) -> tuple[object, ...]:
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
        closed_at=str(row[12]),
    )


def _may_link(a: Request, b: Request, scoring: Scoring) -> bool:
    """Never itself, another installation, the same community, or a request long closed."""
    if a.installation != b.installation or a.ref == b.ref:
        return False
    if a.community and b.community == a.community:
        return False  # the same community's requests: not a network effect
    long_closed = b.state == "closed" and b.closed_at < scoring.closed_since
    return not (scoring.closed_since and long_closed)


def _compare(
    a: Request, mine: dict[str, float], b: Request, theirs: dict[str, float], scoring: Scoring
) -> Related:
    common = set(mine) & set(theirs)
    labels = sorted(need_labels(a.labels) & need_labels(b.labels))
    score = _cosine(mine, theirs, common) + scoring.label_weight * bool(labels)
    if a.workflow and b.workflow == a.workflow:
        score += scoring.workflow_weight
    telling = sorted(common, key=lambda t: (-(mine[t] * theirs[t]), t))[:4]
    return Related(b, round(score, 3), tuple(telling), tuple(labels))


def _in_words(a: Request, found: list[Related]) -> list[Related]:
    """The shared terms as ``a`` wrote them ("workers", not "work"; a group by its name)."""
    if not found:
        return found
    words = _surface(f"{a.title} {plain_text(a.body)}")
    return [
        Related(
            r.request,
            r.score,
            tuple(words.get(t, t.removeprefix(_CONCEPT)) for t in r.shared_terms),
            r.shared_labels,
        )
        for r in found
    ]


def is_need_label(name: str) -> bool:
    """``support``, ``gpu`` say something about the need; ``community: …``, ``type: …`` do not."""
    return not name.lower().startswith(_GENERIC_LABELS)


def need_labels(labels: Iterable[str]) -> set[str]:
    return {name.lower() for name in labels if is_need_label(name)}


def _counts(title_terms: str, body_terms: str, thesaurus: Thesaurus) -> dict[str, float]:
    """Term counts, a title's words counting double: titles say what the request is about."""
    counts: dict[str, float] = {}
    for text, weight in ((title_terms, 2.0), (body_terms, 1.0)):
        for term in thesaurus.fold(text.split()):
            counts[term] = counts.get(term, 0.0) + weight
    return counts


def _counts_of(request: Request, thesaurus: Thesaurus) -> dict[str, float]:
    body = " ".join(terms(plain_text(request.body)))
    return _counts(" ".join(terms(request.title)), body, thesaurus)


def _weigh(counts: dict[str, float], idf: dict[str, float]) -> dict[str, float]:
    """tf·idf with both damped: requests are a paragraph long, so one rare word
    (a place, a model name) must not outweigh the need they share."""
    return {t: (1.0 + math.log(c)) * math.sqrt(idf.get(t, 1.0)) for t, c in counts.items()}


def _surface(text: str) -> dict[str, str]:
    """Stem → the word as first written, so a reason reads "dask, workers", not "work"."""
    found: dict[str, str] = {}
    for word in _WORD.findall(text.lower()):
        found.setdefault(stem(word), word)
    return found


def _cosine(a: dict[str, float], b: dict[str, float], common: set[str]) -> float:
    if not common:
        return 0.0
    dot = sum(a[t] * b[t] for t in common)
    return dot / (
        math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    )
