"""The request index answers the same on SQLite and PostgreSQL: same candidates, same scores.

PostgreSQL has no BM25, so ``app/linking/lexical.py`` ranks its matches with FTS5's own
formula; these tests hold it to SQLite's ``bm25()`` number for number, and the whole index
(words and meaning) to the same related requests with the same scores.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.linking import embeddings, lexical
from app.linking.index import RequestIndex
from app.linking.scoring import Request, Scoring
from app.store.facts import Facts, IssueFact
from tests import linking_eval

WORDS = st.sampled_from(["gpu", "quota", "storag", "home", "director", "login", "cuda", "ram"])


def sqlite_bm25(rows: list[tuple[str, str]], phrases: list[tuple[str, ...]]) -> list[float]:
    index = RequestIndex(":memory:")
    index.upsert_many(Request(1, "org/r", n, "t", "b", community=f"c{n}") for n in range(len(rows)))
    index.db.executemany(  # the stems exactly as generated, bypassing the stemmer
        "UPDATE requests SET title_terms=?, body_terms=? WHERE number=?",
        [(t, b, n) for n, (t, b) in enumerate(rows)],
    )
    query = " OR ".join(f'"{" ".join(p)}"' for p in phrases)
    found = index.db.execute(
        "SELECT r.number, -bm25(requests_text, 2.0, 1.0) FROM requests_text"
        " JOIN requests r ON r.rowid = requests_text.rowid WHERE requests_text MATCH ?",
        (query,),
    ).fetchall()
    scores = dict(found)
    return [scores.get(n, 0.0) for n in range(len(rows))]


def python_bm25(rows: list[tuple[str, str]], phrases: list[tuple[str, ...]]) -> list[float]:
    split = [(t.split(), b.split()) for t, b in rows]
    average = sum(len(t) + len(b) for t, b in split) / len(rows)

    def uses(phrase: tuple[str, ...], t: list[str], b: list[str]) -> bool:
        return bool(lexical._hits(phrase, t) or lexical._hits(phrase, b))

    idf = [lexical.phrase_idf(sum(uses(p, t, b) for t, b in split), len(rows)) for p in phrases]
    return [lexical.bm25(phrases, idf, t, b, average) or 0.0 for t, b in split]


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.lists(WORDS, max_size=6).map(" ".join), st.lists(WORDS, max_size=30).map(" ".join)
        ),
        min_size=1,
        max_size=12,
    ),
    phrases=st.lists(st.lists(WORDS, min_size=1, max_size=2).map(tuple), min_size=1, max_size=4),
)
def test_bm25_here_is_fts5s_bm25_number_for_number(
    rows: list[tuple[str, str]], phrases: list[tuple[str, ...]]
) -> None:
    expected = sqlite_bm25(rows, phrases)
    assert python_bm25(rows, phrases) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def related_everywhere(index: RequestIndex, scoring: Scoring) -> dict[str, list[tuple]]:
    evalset = linking_eval.load()
    return {
        ref: [
            (r.request.ref, round(r.score, 9), r.shared_terms) for r in index.related(req, scoring)
        ]
        for ref, req in evalset.requests.items()
    }


def filled(location: str | Path, embedder: object = None) -> RequestIndex:
    index = RequestIndex(location, embedder)  # type: ignore[arg-type]
    requests = list(linking_eval.load().requests.values())
    index.upsert_many(requests)
    if index.meaning is not None:
        index.meaning.embed_missing(requests)
    return index


def test_words_link_the_same_requests_with_the_same_scores_on_both_engines(
    tmp_path: Path, postgres_dsn: str
) -> None:
    lite, pg = filled(tmp_path / "i.db"), filled(postgres_dsn)
    scoring = Scoring(candidates=8)  # few candidates: the ranking decides who is compared
    try:
        expected = related_everywhere(lite, scoring)
        assert sum(map(len, expected.values())) > 20  # the set links plenty by words
        assert related_everywhere(pg, scoring) == expected
        a, b = list(linking_eval.load().requests.values())[:2]
        assert pg.score(a, b) == lite.score(a, b)
        assert pg.document_frequency("quota") == lite.document_frequency("quota")
    finally:
        lite.close()
        pg.close()


def test_meaning_links_the_same_requests_with_the_same_scores_on_both_engines(
    tmp_path: Path, postgres_dsn: str
) -> None:
    embedder = embeddings.load().embedder
    if embedder is None:
        pytest.skip("no embedding model here")
    lite, pg = filled(tmp_path / "m.db", embedder), filled(postgres_dsn, embedder)
    try:
        scoring = Scoring()
        expected = related_everywhere(lite, scoring)
        assert sum(map(len, expected.values())) > 20
        assert related_everywhere(pg, scoring) == expected
        assert pg.meaning is not None and pg.meaning.vectors.count(1) == len(expected)
    finally:
        lite.close()
        pg.close()


def test_index_writes_and_decisions_read_back_the_same_on_both_engines(
    tmp_path: Path, postgres_dsn: str
) -> None:
    answers = []
    for location in (tmp_path / "w.db", postgres_dsn):
        index = filled(location)
        gone = next(iter(linking_eval.load().requests.values()))
        index.delete(1, gone.repo, gone.number)
        index.set_private(1, "org/alpha", True)
        index.decisions.record(1, "org/a#1", "org/b#2", "dismiss", score=0.5, by="ada")
        index.decisions.record(1, "org/b#2", "org/a#1", "confirm", score=0.6, by="ada")
        answers.append(
            (
                [r.ref for r in index.all(1)],
                index.private_repos(),
                index.installations(),
                index.decisions.decided(1),
                index.decisions.summary(1),
                index.get(1, gone.repo, gone.number),
            )
        )
        index.replace_installation(1, [])
        answers.append(index.all(1))
        index.close()
    assert answers[0] == answers[2] and answers[1] == answers[3] == []


def test_facts_read_back_the_same_on_both_engines(tmp_path: Path, postgres_dsn: str) -> None:
    answers = []
    for location in (tmp_path / "f.db", postgres_dsn):
        facts = Facts(location)
        issue = IssueFact("Org/B", 2, "onboarding", "Hypatia", "Onboard", "open", False, "")
        facts.workflow_issue(issue)
        facts.workflow_issue(IssueFact("org/a", 1, "consortium", "", "GPUs", "open", True, ""))
        facts.workflow_issue(issue.__class__(**{**issue.__dict__, "title": "x"}), replace=False)
        facts.links("org/a", 1, {"auto": ["Org/B#2"], "pinned": ["org/c#3"]})
        facts.board_status("org/a", 1, "Community", "In progress")
        facts.board_status("org/a", 1, "Another", "Todo")
        facts.forget([("org/c", 3)])
        answers.append((facts.workflow_issues(), facts.all_links(), facts.statuses()))
        facts.close()
    assert answers[0] == answers[1]
    assert answers[0][0][0].title == "Onboard"  # replace=False kept the first


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_another_processes_vectors_are_searched_without_reading_all_again(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    import time

    import numpy as np

    from app.linking.vectors import VectorIndex

    location = (
        request.getfixturevalue("postgres_dsn") if engine == "postgresql" else tmp_path / "v.db"
    )
    mine, theirs = RequestIndex(location), RequestIndex(location)  # two replicas (or processes)
    a = VectorIndex(mine.db, mine.lock, "m", 2)
    b = VectorIndex(theirs.db, theirs.lock, "m", 2)
    a.store(1, [(("org/r", 1), "one")], np.array([[1.0, 0.0]], dtype=np.float32))
    assert [k for k, _ in a.nearest(1, np.array([1.0, 0.0]), 5, 0.5)] == [("org/r", 1)]
    b.store(1, [(("org/r", 2), "two")], np.array([[0.8, 0.6]], dtype=np.float32))
    time.sleep(0.25)  # PostgreSQL: the version is asked for at most every 0.2 s
    loaded = a._loaded[1]
    found = [k for k, _ in a.nearest(1, np.array([1.0, 0.0]), 5, 0.5)]
    assert found == [("org/r", 1), ("org/r", 2)] and a._loaded[1] is loaded  # caught up, kept
    b.forget(1, [("org/r", 1)])
    time.sleep(0.25)
    assert [k for k, _ in a.nearest(1, np.array([1.0, 0.0]), 5, 0.5)] == [("org/r", 2)]
    mine.close()
    theirs.close()
