"""Linking quality on the evaluation set (tests/data/linking-eval.yaml), with the shipped config.

A guard, not a benchmark: `python bench/linking.py` prints the figures at
every threshold. This fails when a change makes linking miss the goal
(precision ≥ 0.9 at recall ≥ 0.7) at the configured threshold.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.config.model import Config
from app.linking.requests import scoring_of
from app.linking.scoring import Thesaurus
from app.linking.text import terms
from tests.linking_eval import evaluate, load


def test_the_evaluation_set_is_large_enough_and_well_formed() -> None:
    evalset = load()
    assert len(evalset.related) + len(evalset.unrelated) >= 60
    assert len(evalset.related) >= 30 and len(evalset.unrelated) >= 30
    for pair in evalset.unrelated:
        assert all(key in evalset.requests for key in pair), pair
        assert evalset.need_of[pair[0]] != evalset.need_of[pair[1]], pair


def test_shipped_scoring_meets_the_goal_on_the_evaluation_set(config: Config) -> None:
    result = evaluate(load(), scoring_of(config.settings.linking))
    assert result.precision >= 0.9, result
    assert result.recall >= 0.7, result


def test_without_the_thesaurus_precision_still_holds(config: Config) -> None:
    """The thesaurus adds recall; precision must not depend on it."""
    scoring = scoring_of(config.settings.linking)
    bare = type(scoring)(**{**scoring.__dict__, "thesaurus": Thesaurus()})
    result = evaluate(load(), bare)
    assert result.precision >= 0.9, result


words = st.lists(st.from_regex(r"[a-z]{1,12}", fullmatch=True), max_size=30)


@given(words, st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), words, max_size=5))
def test_thesaurus_folding_only_ever_merges_words(
    text: list[str], groups: dict[str, list[str]]
) -> None:
    thesaurus = Thesaurus.of({name: [" ".join(ws)] for name, ws in groups.items()})
    stems = terms(" ".join(text))
    folded = thesaurus.fold(stems)
    assert len(folded) <= len(stems)
    assert [t for t in folded if not t.startswith("~")] == [t for t in folded if t in set(stems)]
    assert Thesaurus().fold(stems) == stems


@given(st.text(max_size=200))
def test_any_text_yields_plain_lowercase_terms(text: str) -> None:
    for term in terms(text):
        assert term.isascii() and term.isalnum() and term == term.lower()
        assert not term.isdigit()
