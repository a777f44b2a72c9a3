"""How related two requests are: damped tf-idf over their stems and thesaurus concepts,
need labels and workflow as small bonuses; never within one community.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from .text import WORD, plain_text, stem, terms


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
    by_meaning: bool = False  # judged by sentence embeddings (else by shared words)


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
                    phrases[key] = f"{CONCEPT}{name}"
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


CONCEPT = "~"  # never produced by the tokenizer: concept names cannot collide with words


@dataclass(frozen=True)
class Scoring:
    """How relatedness is weighed (``linking:`` in flywheel.yaml sets these)."""

    threshold: float = 0.25  # words only: when the embedding model is unavailable
    meaning_threshold: float = 0.45  # cosine of embeddings (+ bonuses): posted on both issues
    suggest_threshold: float = 0.25  # from here up to the above: possible connections
    label_weight: float = 0.1  # added when the two share a need label (not community: etc.)
    workflow_weight: float = 0.05  # added when both belong to the same workflow
    candidates: int = 30  # BM25 candidates re-scored
    query_terms: int = 5  # the most distinctive terms BM25 searches with
    closed_since: str = ""  # ISO time: requests closed before it are no longer offered
    thesaurus: Thesaurus = Thesaurus()


DEFAULT_SCORING = Scoring()


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


def may_link(a: Request, b: Request, scoring: Scoring) -> bool:
    """Never itself, another installation, the same community, or a request long closed."""
    if a.installation != b.installation or a.ref == b.ref:
        return False
    if a.community and b.community == a.community:
        return False  # the same community's requests: not a network effect
    long_closed = b.state == "closed" and b.closed_at < scoring.closed_since
    return not (scoring.closed_since and long_closed)


def compare_requests(
    a: Request, mine: dict[str, float], b: Request, theirs: dict[str, float], scoring: Scoring
) -> Related:
    common = set(mine) & set(theirs)
    labels = sorted(need_labels(a.labels) & need_labels(b.labels))
    score = _cosine(mine, theirs, common) + scoring.label_weight * bool(labels)
    if a.workflow and b.workflow == a.workflow:
        score += scoring.workflow_weight
    telling = sorted(common, key=lambda t: (-(mine[t] * theirs[t]), t))[:4]
    return Related(b, round(score, 3), tuple(telling), tuple(labels))


def in_words(a: Request, found: list[Related]) -> list[Related]:
    """The shared terms as ``a`` wrote them ("workers", not "work"; a group by its name)."""
    if not found:
        return found
    words = _surface(f"{a.title} {plain_text(a.body)}")
    return [
        replace(
            r, shared_terms=tuple(words.get(t, t.removeprefix(CONCEPT)) for t in r.shared_terms)
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


def weighted_terms_of(request: Request, thesaurus: Thesaurus) -> dict[str, float]:
    body = " ".join(terms(plain_text(request.body)))
    return _counts(" ".join(terms(request.title)), body, thesaurus)


def weigh(counts: dict[str, float], idf: dict[str, float]) -> dict[str, float]:
    """tf·idf with both damped: requests are a paragraph long, so one rare word
    (a place, a model name) must not outweigh the need they share."""
    return {t: (1.0 + math.log(c)) * math.sqrt(idf.get(t, 1.0)) for t, c in counts.items()}


def _surface(text: str) -> dict[str, str]:
    """Stem → the word as first written, so a reason reads "dask, workers", not "work"."""
    found: dict[str, str] = {}
    for word in WORD.findall(text.lower()):
        found.setdefault(stem(word), word)
    return found


def _cosine(a: dict[str, float], b: dict[str, float], common: set[str]) -> float:
    if not common:
        return 0.0
    dot = sum(a[t] * b[t] for t in common)
    return dot / (
        math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    )
