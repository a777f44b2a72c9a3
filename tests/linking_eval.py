"""The linking evaluation set (tests/data/linking-eval.yaml): how well relatedness is judged.

Shared by the test that guards the quality goal and by ``bench/linking.py``,
which prints it, so both read the set the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from app.linking.index import RequestIndex
from app.linking.scoring import Request, Scoring

EVAL_FILE = Path(__file__).resolve().parent / "data" / "linking-eval.yaml"


@dataclass(frozen=True)
class EvalSet:
    requests: Mapping[str, Request]  # id → request
    need_of: Mapping[str, str]  # id → need
    related: list[tuple[str, str]]  # labelled related: every cross-community pair in a need
    unrelated: list[tuple[str, str]]  # labelled unrelated (shared words, different need)

    def all_unrelated(self) -> list[tuple[str, str]]:
        """Every cross-community pair of different needs: the stricter precision check."""
        return [
            (a, b)
            for a, b in itertools.combinations(sorted(self.requests), 2)
            if self.need_of[a] != self.need_of[b]
            and self.requests[a].community != self.requests[b].community
        ]


def load(path: Path = EVAL_FILE, installation: int = 1) -> EvalSet:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    private = set(data["repos"]["private"])
    requests: dict[str, Request] = {}
    need_of: dict[str, str] = {}
    related: list[tuple[str, str]] = []
    for need, items in data["needs"].items():
        for number, item in enumerate(items, start=len(requests) + 1):
            requests[item["id"]] = Request(
                installation=installation,
                repo=item["repo"],
                number=number,
                title=item["title"],
                body=item["body"],
                community=item["community"],
                labels=tuple(item.get("labels", ())),
                private=item["repo"] in private,
            )
            need_of[item["id"]] = need
        related += [
            (a["id"], b["id"])
            for a, b in itertools.combinations(items, 2)
            if a["community"] != b["community"]
        ]
    unrelated = [(str(a), str(b)) for a, b in data["unrelated"]]
    return EvalSet(requests, need_of, related, unrelated)


@dataclass(frozen=True)
class Result:
    true_positives: int
    false_negatives: int
    false_positives: int  # among the labelled unrelated pairs
    strict_false_positives: int  # among every pair of different needs
    strict_negatives: int

    @property
    def recall(self) -> float:
        found = self.true_positives + self.false_negatives
        return self.true_positives / found if found else 0.0

    @property
    def precision(self) -> float:
        said = self.true_positives + self.false_positives
        return self.true_positives / said if said else 1.0

    @property
    def strict_precision(self) -> float:
        said = self.true_positives + self.strict_false_positives
        return self.true_positives / said if said else 1.0


def evaluate(evalset: EvalSet, scoring: Scoring, index: RequestIndex | None = None) -> Result:
    """Index every request, then ask the index, as Flywheel would, what each is related to."""
    index = index or RequestIndex()
    index.upsert_many(evalset.requests.values())
    linked: set[frozenset[str]] = set()
    by_ref = {r.ref: key for key, r in evalset.requests.items()}
    for key, request in evalset.requests.items():
        for found in index.related(request, scoring):
            other = by_ref.get(found.request.ref)
            if other is not None:
                linked.add(frozenset((key, other)))
    tp = sum(frozenset(p) in linked for p in evalset.related)
    fp = sum(frozenset(p) in linked for p in evalset.unrelated)
    strict = evalset.all_unrelated()
    return Result(
        true_positives=tp,
        false_negatives=len(evalset.related) - tp,
        false_positives=fp,
        strict_false_positives=sum(frozenset(p) in linked for p in strict),
        strict_negatives=len(strict),
    )
