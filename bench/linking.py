"""Linking: how well related requests are found, and how fast.

Quality, on the development set (``../shared/linking-dev``: 154 requests, 28 communities,
143 related pairs among 11,431 cross-community pairs, 622 of them hard negatives), for three
linkers scored over every cross-community pair:

- words: Flywheel's lexical linker (BM25 candidates, damped tf-idf, thesaurus), the one
  used when the embedding model is unavailable;
- plain cosine: the same MiniLM vectors, not centred;
- meaning: what Flywheel ships (centred MiniLM cosine, ``linking.meaning_threshold`` posts,
  the best ``linking.suggestions`` per request from ``linking.suggest_threshold`` suggested).

Each at the shipped setting where it has one, at its best threshold, and cross-validated:
2-fold by need (the needs and the singletons split in halves, 5 seeds), the threshold chosen
on one half by the rule used to choose the shipped one and measured on the other.

Speed and size: embedding per request on one core, related-request lookup p50/p95 with
100,000 indexed vectors, the process's RSS with the model and those vectors, and quality
with the dev set hidden among embedded distractors.

    python bench/linking.py [--dev ../shared/linking-dev] [--vectors 100000] [--distractors 2000]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config.loader import load_config
from app.linking import embeddings
from app.linking.index import RequestIndex
from app.linking.meaning import embedding_text
from app.linking.requests import scoring_of
from app.linking.scoring import Request, Scoring


class DevSet:
    def __init__(self, folder: Path) -> None:
        raw = json.loads((folder / "requests.json").read_text())
        needs = json.loads((folder / "needs.json").read_text())
        self.requests = [
            Request(1, r["repo"], i + 1, r["title"], r["body"], community=r["community"])
            for i, r in enumerate(raw)
        ]
        self.ids = [r["id"] for r in raw]
        position = {rid: i for i, rid in enumerate(self.ids)}
        lines = (folder / "pairs.json").read_text().splitlines()
        pairs = [json.loads(line.rstrip(",")) for line in lines if line.startswith("{")]
        self.a = np.array([position[p["a"]] for p in pairs])
        self.b = np.array([position[p["b"]] for p in pairs])
        self.related = np.array([p["related"] for p in pairs])
        self.hard = np.array([p["kind"] == "hard-negative" for p in pairs])
        self.need = {rid: n["key"] for n in needs["needs"] for rid in n["ids"]}
        self.singletons = sorted(needs["singletons"])

    def folds(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Pairs touching each half: needs and singletons split at random, by need."""
        rng = random.Random(seed)
        keys = sorted(set(self.need.values()))
        rng.shuffle(keys)
        singles = list(self.singletons)
        rng.shuffle(singles)
        half = set(keys[: len(keys) // 2]) | set(singles[: len(singles) // 2])
        side = np.array([self.need.get(i, i) in half for i in self.ids])
        return side[self.a] | side[self.b], ~side[self.a] | ~side[self.b]


def prf(dev: DevSet, predicted: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, ...]:
    m = np.ones(len(predicted), bool) if mask is None else mask
    y = dev.related
    tp = int((predicted & y & m).sum())
    fp = int((predicted & ~y & m).sum())
    fn = int((~predicted & y & m).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    hard = int((predicted & dev.hard & m).sum()) / max(1, int((dev.hard & m).sum()))
    return p, r, 2 * p * r / (p + r) if p + r else 0.0, hard


def f_beta(p: float, r: float, beta: float) -> float:
    return (1 + beta**2) * p * r / (beta**2 * p + r) if p + r else 0.0


def best(dev: DevSet, scores: np.ndarray, mask: np.ndarray | None, beta: float) -> float:
    """The threshold with the best F-beta on the masked pairs."""
    top, chosen = -1.0, float(scores.max())
    for t in np.unique(np.round(scores, 3)):
        p, r, _, _ = prf(dev, scores >= t, mask)
        if (f := f_beta(p, r, beta)) > top:
            top, chosen = f, float(t)
    return chosen


def precision_at_recall(dev: DevSet, scores: np.ndarray, recall: float) -> float:
    found = 0.0
    for t in np.unique(np.round(scores, 3)):
        p, r, _, _ = prf(dev, scores >= t)
        if r >= recall:
            found = max(found, p)
    return found


def cross_validated(dev: DevSet, scores: np.ndarray, beta: float) -> tuple[float, ...]:
    results = []
    for seed in range(5):
        first, second = dev.folds(seed)
        for tune, test in ((first, second), (second, first)):
            results.append(prf(dev, scores >= best(dev, scores, tune, beta), test))
    return tuple(float(x) for x in np.mean(results, axis=0))


def lexical_scores(dev: DevSet, scoring: Scoring) -> np.ndarray:
    index = RequestIndex()
    index.upsert_many(dev.requests)
    everything = replace(scoring, threshold=-1.0)
    out = np.zeros(len(dev.a))
    for k, (i, j) in enumerate(zip(dev.a, dev.b, strict=True)):
        found = index.score(dev.requests[i], dev.requests[j], everything)
        out[k] = found.score if found else 0.0
    index.close()
    return out


def row(
    name: str, setting: str, dev: DevSet, scores: np.ndarray, t: float | np.ndarray | None
) -> str:
    """``t``: the shipped threshold, or the pairs the App itself posts (a mask)."""
    shipped = "—"
    if t is not None:
        p, r, f, h = prf(dev, t if isinstance(t, np.ndarray) else scores >= t)
        shipped = f"P {p:.2f}, R {r:.2f}, F1 {f:.2f} (hard-neg. FPR {h:.3f})"
    best_t = best(dev, scores, None, 1.0)
    bp, br, bf, _ = prf(dev, scores >= best_t)
    cp, cr, cf, _ = cross_validated(dev, scores, 1.0)
    return (
        f"| {name} | {setting} | {shipped} | {bf:.3f} (P {bp:.2f}, R {br:.2f}) | "
        f"{precision_at_recall(dev, scores, 0.6):.2f} | P {cp:.2f}, R {cr:.2f}, F1 {cf:.3f} |"
    )


def quality(dev: DevSet, scoring: Scoring, suggestions: int) -> None:
    loaded = embeddings.load()
    assert loaded.embedder is not None, loaded.problem
    embedder = loaded.embedder
    texts = [embedding_text(r) for r in dev.requests]
    started = time.perf_counter()
    ours = np.vstack([embedder.embed([t]) for t in texts])
    per_request = (time.perf_counter() - started) / len(texts) * 1000
    plain = ours * 0  # the same model without the centre
    centre, embedder.centre = embedder.centre, None
    plain = np.vstack([embedder.embed([t]) for t in texts])
    embedder.centre = centre
    words = lexical_scores(dev, scoring)
    cosine = np.einsum("ij,ij->i", plain[dev.a], plain[dev.b])
    meaning = np.einsum("ij,ij->i", ours[dev.a], ours[dev.b])
    print(f"Development set: {len(dev.requests)} requests, {int(dev.related.sum())} related pairs "
          f"of {len(dev.a):,}, {int(dev.hard.sum())} hard negatives\n")  # fmt: skip
    print("| linker | setting | at the shipped setting | best F1 | best P at R ≥ 0.6 |"
          " cross-validated (2-fold by need) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    print(row("words (old)", f"threshold {scoring.threshold}", dev, words, scoring.threshold))
    print(row("plain cosine", "—", dev, cosine, None))
    posted = posted_by_the_app(dev, ours, scoring)
    setting = (f"{scoring.meaning_threshold}, or {scoring.suggest_threshold} with words "
               f"≥ {scoring.threshold}")  # fmt: skip
    print(row("meaning (posted)", setting, dev, meaning, posted))
    cp, cr, _, _ = precision_tuned(dev, meaning)
    print(f"\nPosted links, threshold chosen for precision (F0.5) on one half, measured on the "
          f"other: P {cp:.2f}, R {cr:.2f}")  # fmt: skip
    suggested = two_tiers(dev, ours, scoring, suggestions)
    both = posted | suggested
    per = np.bincount(np.concatenate([dev.a[suggested], dev.b[suggested]]),
                      minlength=len(dev.requests))  # fmt: skip
    p, r, _, _ = prf(dev, both)
    print(f"Both tiers (posted + possible connections): recall {r:.3f}, precision {p:.2f}; "
          f"{int(suggested.sum())} suggestions, each request's own list at most {suggestions} "
          f"(the scorer's --k {suggestions}); a request is in {per.mean():.2f} suggested pairs "
          f"on average, {per.max()} at most")  # fmt: skip
    print(f"Embedding: {per_request:.1f} ms a request (one core, {embedder.model_id})\n")


def posted_by_the_app(dev: DevSet, vectors: np.ndarray, scoring: Scoring) -> np.ndarray:
    """The pairs RequestIndex.related posts, request by request (the App's own rule)."""
    with tempfile.TemporaryDirectory() as tmp:
        index = RequestIndex(Path(tmp) / "p.db", embeddings.load().embedder)
        assert index.meaning is not None
        index.upsert_many(dev.requests)
        index.meaning.vectors.store(
            1, [((r.repo, r.number), embedding_text(r)) for r in dev.requests], vectors
        )
        number = {r.number: i for i, r in enumerate(dev.requests)}
        linked = set()
        for i, request in enumerate(dev.requests):
            for found in index.related(request, scoring):
                linked.add(tuple(sorted((i, number[found.request.number]))))
        index.close()
    return np.array([tuple(sorted((i, j))) in linked for i, j in zip(dev.a, dev.b, strict=True)])


def precision_tuned(dev: DevSet, scores: np.ndarray) -> tuple[float, ...]:
    return cross_validated(dev, scores, 0.5)


def two_tiers(dev: DevSet, vectors: np.ndarray, scoring: Scoring, k: int) -> np.ndarray:
    """Possible connections as the App computes them (Meaning.possible), as a pair mask."""
    with tempfile.TemporaryDirectory() as tmp:
        index = RequestIndex(Path(tmp) / "d.db", embeddings.load().embedder)
        index.upsert_many(dev.requests)
        assert index.meaning is not None
        index.meaning.vectors.store(
            1, [((r.repo, r.number), embedding_text(r)) for r in dev.requests], vectors
        )
        found = index.meaning.possible(1, scoring, index.fetch, k)
        index.close()
    key = {(r.repo, r.number): i for i, r in enumerate(dev.requests)}
    chosen = {tuple(sorted((key[(a.repo, a.number)], key[(b.repo, b.number)])))
              for a, b, _ in found}  # fmt: skip
    return np.array([tuple(sorted((i, j))) in chosen for i, j in zip(dev.a, dev.b, strict=True)])


def speed(dev: DevSet, scoring: Scoring, count: int, lookups: int) -> None:
    embedder = embeddings.load().embedder
    assert embedder is not None
    real = embedder.embed([embedding_text(r) for r in dev.requests[:32]])
    rng = np.random.default_rng(5)
    with tempfile.TemporaryDirectory() as tmp:
        index = RequestIndex(Path(tmp) / "s.db", embedder)
        assert index.meaning is not None

        def made(i: int) -> Request:
            return Request(1, f"o/r{i % 50}", i, f"t{i}", "", community=f"c{i % 500}")

        for start in range(1, count + 1, 5000):
            chunk = [made(i) for i in range(start, min(count + 1, start + 5000))]
            index.upsert_many(chunk)
            base = real[rng.integers(0, len(real), len(chunk))]
            noisy = base + rng.normal(0, 0.6 / np.sqrt(base.shape[1]), base.shape)
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
            index.meaning.vectors.store(1, [((r.repo, r.number), r.title) for r in chunk], noisy)
        del chunk, base, noisy
        times = []
        for number in rng.integers(1, count + 1, lookups):
            started = time.perf_counter()
            index.related(made(int(number)), scoring)
            times.append((time.perf_counter() - started) * 1000)
        rss = int(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0]) / 1024
        index.close()
    print(f"| {count:,} vectors | lookup p50 {np.percentile(times, 50):.1f} ms, "
          f"p95 {np.percentile(times, 95):.1f} ms | RSS {rss:.0f} MB with the model and the "
          f"vectors loaded |")  # fmt: skip


def hidden_among(dev: DevSet, scoring: Scoring, count: int, suggestions: int) -> None:
    """The dev set among ``count`` distractors drawn from a Gaussian fitted to its vectors
    (its mean and covariance, plus isotropic noise of 0.02, the level at which a distractor's
    similarity to a dev request is distributed as the dev set's own unrelated pairs are: mean
    0, standard deviation 0.14 against 0.12). A pair's score does not change with them; what
    changes is how many unrelated requests pass the threshold, and each request's best few."""
    embedder = embeddings.load().embedder
    assert embedder is not None
    ours = np.vstack([embedder.embed([embedding_text(r)]) for r in dev.requests])
    rng = np.random.default_rng(3)
    centred = ours - ours.mean(axis=0)
    fake = ours.mean(axis=0) + rng.standard_normal((count, len(dev.requests))) @ centred \
        / np.sqrt(len(dev.requests)) + rng.normal(0, 0.02, (count, ours.shape[1]))  # fmt: skip
    fake = (fake / np.linalg.norm(fake, axis=1, keepdims=True)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        index = RequestIndex(Path(tmp) / "h.db", embedder)
        assert index.meaning is not None
        index.upsert_many(dev.requests)
        index.meaning.vectors.store(
            1, [((r.repo, r.number), embedding_text(r)) for r in dev.requests], ours
        )
        extra = [Request(1, "o/distractors", 10_000 + i, f"d{i}", "", community=f"x{i % 997}")
                 for i in range(count)]  # fmt: skip
        for start in range(0, count, 5000):
            chunk = extra[start : start + 5000]
            index.upsert_many(chunk)
            index.meaning.vectors.store(
                1, [((r.repo, r.number), r.title) for r in chunk], fake[start : start + 5000]
            )
        posted_to_distractors = 0
        for request in dev.requests:
            found = index.related(request, scoring)
            posted_to_distractors += sum(r.request.repo == "o/distractors" for r in found)
        possible = index.meaning.possible(1, scoring, index.fetch, suggestions)
        index.close()
    key = {(r.repo, r.number): i for i, r in enumerate(dev.requests)}
    chosen = {
        tuple(sorted((key[(a.repo, a.number)], key[(b.repo, b.number)])))
        for a, b, _ in possible
        if (a.repo, a.number) in key and (b.repo, b.number) in key
    }
    suggested = np.array([tuple(sorted((i, j))) in chosen
                          for i, j in zip(dev.a, dev.b, strict=True)])  # fmt: skip
    posted = posted_by_the_app(dev, ours, scoring)
    p, r, f, _ = prf(dev, posted)
    _, both, _, _ = prf(dev, posted | suggested)
    print(
        f"| dev set among {count:,} distractors | posted P {p:.2f}, R {r:.2f}, F1 {f:.2f} "
        f"(unchanged: a pair's score is its own) | {posted_to_distractors} links posted to "
        f"distractors from {len(dev.requests)} requests | both tiers' recall {both:.3f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "linking-dev")
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--distractors", type=int, default=100_000)
    parser.add_argument("--speed-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.speed_only:  # a process of its own, so that its RSS is the lookup's alone
        speed(DevSet(args.dev), scoring_of(load_config(ROOT / "workflow-config").settings.linking),
              args.vectors, args.lookups)  # fmt: skip
        return
    settings = load_config(ROOT / "workflow-config").settings.linking
    scoring = scoring_of(settings)
    dev = DevSet(args.dev)
    quality(dev, scoring, settings.suggestions)
    print("| scale | posted links | stray links | possible connections |\n|---|---|---|---|")
    hidden_among(dev, scoring, args.distractors, settings.suggestions)
    print()
    print("| index | lookup | memory |\n|---|---|---|", flush=True)
    subprocess.run(
        [sys.executable, __file__, "--speed-only", "--dev", str(args.dev),
         "--vectors", str(args.vectors), "--lookups", str(args.lookups)],
        check=True,
    )  # fmt: skip


if __name__ == "__main__":
    main()
