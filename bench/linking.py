"""Linking: how well related requests are found, and how fast, at the configured threshold.

Quality, on the evaluation set (tests/data/linking-eval.yaml): precision and
recall over its labelled pairs at several thresholds, with and without the
shipped thesaurus; "strict precision" counts every pair of different needs as
a wrong link, not only the labelled hard negatives.

Speed, on synthetic requests generated here (the evaluation set's words plus
a Zipf-distributed vocabulary, 500 communities): indexing rate, related-request
lookup latency (p50/p95/p99) against the cost of the bare BM25 query it starts
from (the baseline, same process), and the process's peak RSS.

    python bench/linking.py [--requests 100000] [--lookups 1000]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config.loader import load_config
from app.linking.index import RequestIndex
from app.linking.requests import scoring_of
from app.linking.scoring import Request, Scoring, Thesaurus
from app.linking.text import plain_text, terms
from tests.linking_eval import evaluate, load

THRESHOLDS = (0.15, 0.2, 0.225, 0.25, 0.275, 0.3, 0.35)


def quality(configured: Scoring) -> None:
    evalset = load()
    print(
        f"Evaluation set: {len(evalset.requests)} requests, {len(evalset.related)} related pairs, "
        f"{len(evalset.unrelated)} labelled unrelated pairs "
        f"({len(evalset.all_unrelated())} pairs of different needs in all)\n"
    )
    print("| thesaurus | threshold | precision | recall | strict precision | wrong links |")
    print("|---|---|---|---|---|---|")
    for label, thesaurus in (("shipped", configured.thesaurus), ("none", Thesaurus())):
        for threshold in THRESHOLDS:
            changed = {"threshold": threshold, "thesaurus": thesaurus}
            r = evaluate(evalset, Scoring(**{**configured.__dict__, **changed}))
            chosen = threshold == configured.threshold and label == "shipped"
            mark = " ← configured" if chosen else ""
            print(
                f"| {label} | {threshold}{mark} | {r.precision:.3f} | {r.recall:.3f} | "
                f"{r.strict_precision:.3f} | {r.strict_false_positives} |"
            )
    print()


def synthetic(count: int, seed: int = 7) -> list[Request]:
    """Requests that look like the real ones to an index: real domain words, a long tail."""
    rng = random.Random(seed)
    evalset = load()
    domain = sorted(
        {w for r in evalset.requests.values() for w in plain_text(f"{r.title} {r.body}").split()}
    )
    tail = [f"{rng.choice('bcdfghklmnprstvz')}{rng.choice('aeiou')}{i:x}x" for i in range(20000)]
    weights = [1.0 / (rank + 1) for rank in range(len(tail))]
    repos = [f"example-org/repo{i}" for i in range(40)]
    found = []
    for n in range(count):
        words = rng.choices(domain, k=18) + rng.choices(tail, weights=weights, k=22)
        rng.shuffle(words)
        found.append(
            Request(
                installation=1,
                repo=rng.choice(repos),
                number=n + 1,
                title=" ".join(words[:6]),
                body=" ".join(words[6:]),
                community=f"community-{rng.randrange(500)}",
                labels=(rng.choice(("support", "event", "", "priority: high")),),
                private=rng.random() < 0.2,
            )
        )
    return found


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def speed(scoring: Scoring, count: int, lookups: int) -> None:
    requests = synthetic(count)
    with tempfile.TemporaryDirectory() as tmp:
        index = RequestIndex(Path(tmp) / "bench.db")
        started = time.perf_counter()
        for start in range(0, len(requests), 1000):
            index.upsert_many(requests[start : start + 1000])
        indexing = time.perf_counter() - started
        rng = random.Random(11)
        sample = rng.sample(requests, min(lookups, len(requests)))
        bm25, full, found = [], [], []
        for request in sample:
            words = sorted(set(terms(request.title)))[:12]
            query = " OR ".join(f'"{w}"' for w in words)
            t0 = time.perf_counter()
            index.db.execute(
                "SELECT rowid FROM requests_text WHERE requests_text MATCH ?"
                " ORDER BY bm25(requests_text) LIMIT 50",
                (query,),
            ).fetchall()
            t1 = time.perf_counter()
            found.append(len(index.related(request, scoring)))
            t2 = time.perf_counter()
            bm25.append((t1 - t0) * 1000)
            full.append((t2 - t1) * 1000)
        index.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Synthetic index: {count:,} requests, {lookups:,} lookups\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| indexing rate | {count / indexing:,.0f} requests/s ({indexing:.1f} s) |")
    for name, values in (("bare BM25 query (baseline)", bm25), ("related() lookup", full)):
        print(
            f"| {name} p50 / p95 / p99 | {percentile(values, 0.5):.2f} / "
            f"{percentile(values, 0.95):.2f} / {percentile(values, 0.99):.2f} ms |"
        )
    ratio = percentile(full, 0.95) / max(percentile(bm25, 0.95), 1e-9)
    print(f"| lookup p95 / baseline p95 | {ratio:.1f} x |")
    print(f"| related requests found per lookup (mean) | {statistics.mean(found):.2f} |")
    print(f"| peak RSS of this process | {rss_mb:.0f} MB |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=1000)
    args = parser.parse_args()
    scoring = scoring_of(load_config(ROOT / "workflow-config").settings.linking)
    quality(scoring)
    speed(scoring, args.requests, args.lookups)


if __name__ == "__main__":
    main()
