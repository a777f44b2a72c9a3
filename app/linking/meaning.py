"""Relatedness by meaning: the request index's semantic side.

A request's title and prose are embedded once (``embeddings.py``) and kept as a vector
beside its row (``vectors.py``). Two requests are related when their vectors' cosine, plus
the small bonuses config gives a shared need label and a shared workflow, reaches
``linking.meaning_threshold``. The score of a pair depends on the two requests only, so
the links shown do not depend on which other requests exist or the order they came in:
both sides always agree. Below that threshold, the best few partners above
``linking.suggest_threshold`` are *possible connections*, for the team to confirm or
dismiss on the dashboard, never posted on the issues.

Embedding costs about 40 ms a request on one core, so it runs in a thread, off the event
loop; lookups are one matrix product.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from .embeddings import Embedder
from .scoring import Related, Request, Scoring, may_link, need_labels
from .vectors import Key, VectorIndex

log = logging.getLogger("flywheel.linking")


def embedding_text(request: Request) -> str:
    """What is embedded: the title, then the prose that states the need (already cut to the
    workflow's ``link_fields`` for workflow issues)."""
    return f"{request.title}\n\n{request.body}".strip()


def key_of(request: Request) -> Key:
    return (request.repo, request.number)


class Meaning:
    def __init__(self, embedder: Embedder, vectors: VectorIndex) -> None:
        self.embedder, self.vectors = embedder, vectors

    # -- vectors ---------------------------------------------------------------------

    def embed_missing(self, requests: Sequence[Request], batch: int = 16) -> int:
        """Embed the requests whose text has no vector of this model yet; how many were."""
        done = 0
        by_installation: dict[int, list[Request]] = {}
        for request in requests:
            by_installation.setdefault(request.installation, []).append(request)
        for installation, group in by_installation.items():
            texts = {key_of(r): embedding_text(r) for r in group}
            stale = set(self.vectors.stale(installation, texts.items()))
            todo = [(key, text) for key, text in texts.items() if key in stale]
            for start in range(0, len(todo), batch):
                chunk = todo[start : start + batch]
                vectors = self.embedder.embed([text for _, text in chunk])
                self.vectors.store(installation, chunk, vectors)
                done += len(chunk)
        return done

    async def ensure(self, requests: Sequence[Request]) -> None:
        """``embed_missing`` in a thread: the event loop keeps answering webhooks meanwhile."""
        if requests:
            await asyncio.to_thread(self.embed_missing, list(requests))

    def vector(self, request: Request) -> np.ndarray | None:
        return self.vectors.get(request.installation, key_of(request))

    # -- scores ----------------------------------------------------------------------

    def bonus(self, a: Request, b: Request, scoring: Scoring) -> tuple[float, tuple[str, ...]]:
        labels = tuple(sorted(need_labels(a.labels) & need_labels(b.labels)))
        extra = scoring.label_weight * bool(labels)
        if a.workflow and b.workflow == a.workflow:
            extra += scoring.workflow_weight
        return extra, labels

    def score(self, a: Request, b: Request, scoring: Scoring) -> float | None:
        va, vb = self.vector(a), self.vector(b)
        if va is None or vb is None:
            return None
        return round(float(va @ vb) + self.bonus(a, b, scoring)[0], 3)

    def related(
        self,
        request: Request,
        scoring: Scoring,
        fetch: Callable[[int, Iterable[Key]], list[Request]],
        *,
        floor: float | None = None,
        limit: int | None = None,
    ) -> list[Related] | None:
        """Other communities' requests at or above ``floor`` (the meaning threshold), best
        first; None when this request has no vector (linking then compares words)."""
        vector = self.vector(request)
        if vector is None:
            return None
        floor = scoring.meaning_threshold if floor is None else floor
        # The bonuses can lift a pair over the threshold: look a little below it.
        reach = floor - scoring.label_weight - scoring.workflow_weight
        near = self.vectors.nearest(
            request.installation, vector, limit or scoring.candidates, reach
        )
        cosine = dict(near)
        found = []
        for other in fetch(request.installation, cosine):
            if not may_link(request, other, scoring):
                continue
            extra, labels = self.bonus(request, other, scoring)
            score = round(cosine[key_of(other)] + extra, 3)
            if score >= floor:
                found.append(Related(other, score, (), labels, by_meaning=True))
        found.sort(key=lambda r: (-r.score, r.request.ref))
        return found

    def possible(
        self,
        installation: int,
        scoring: Scoring,
        fetch: Callable[[int, Iterable[Key]], list[Request]],
        per_request: int,
    ) -> list[tuple[Request, Request, float]]:
        """Pairs below the meaning threshold and at or above the suggestion one, each among
        the ``per_request`` best of one of its two requests: what the team may introduce."""
        pairs = self.vectors.pairs_above(
            installation, scoring.suggest_threshold - scoring.label_weight, per_request
        )
        known = {r.ref: r for r in fetch(installation, {k for p in pairs for k in p[:2]})}
        ranked: dict[str, list[tuple[float, str, str]]] = {}
        for a_key, b_key, cosine in pairs:
            a = known.get(f"{a_key[0]}#{a_key[1]}")
            b = known.get(f"{b_key[0]}#{b_key[1]}")
            if a is None or b is None or not may_link(a, b, scoring):
                continue
            score = round(cosine + self.bonus(a, b, scoring)[0], 3)
            if scoring.suggest_threshold <= score < scoring.meaning_threshold:
                for one, other in ((a, b), (b, a)):
                    ranked.setdefault(one.ref, []).append((score, one.ref, other.ref))
        chosen: dict[tuple[str, str], float] = {}
        for entries in ranked.values():
            for score, one, other in sorted(entries, reverse=True)[:per_request]:
                chosen[tuple(sorted((one, other)))] = score  # type: ignore[index]
        return [
            (known[a], known[b], score)
            for (a, b), score in sorted(chosen.items(), key=lambda item: (-item[1], item[0]))
        ]
