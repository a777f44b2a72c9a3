"""Gives every indexed request a vector: after an upgrade, a new model, or a rebuilt index.

It runs beside the workers when ``serve`` starts (and in ``flywheel index``), a batch at a
time in a thread, and says how far it got in the log and in ``/healthz``. Until a request
has its vector, linking judges it by its words, as before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from .index import RequestIndex
from .meaning import embedding_text, key_of
from .scoring import Request

log = logging.getLogger("flywheel.linking")


@dataclass
class Progress:
    total: int = 0
    done: int = 0
    started: float = 0.0
    finished: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"requests": self.total, "embedded": self.done, "finished": self.finished}


def missing(index: RequestIndex) -> dict[int, list[Request]]:
    """Each installation's requests that have no vector for their current text."""
    meaning = index.meaning
    if meaning is None:
        return {}
    todo: dict[int, list[Request]] = {}
    for installation in index.installations():
        requests = index.all(installation)
        texts = {key_of(r): embedding_text(r) for r in requests}
        stale = set(meaning.vectors.stale(installation, texts.items()))
        if stale:
            todo[installation] = [r for r in requests if key_of(r) in stale]
    return todo


def embed_all(
    index: RequestIndex,
    progress: Progress,
    *,
    batch: int = 32,
    report: Callable[[Progress], None] | None = None,
) -> None:
    """Synchronous: for ``flywheel index`` and for the thread ``run`` starts."""
    meaning = index.meaning
    if meaning is None:
        progress.finished = True
        return
    todo = missing(index)
    progress.total = sum(len(rs) for rs in todo.values())
    progress.started = time.monotonic()
    for requests in todo.values():
        for start in range(0, len(requests), batch):
            chunk = requests[start : start + batch]
            progress.done += meaning.embed_missing(chunk)
            if report is not None:
                report(progress)
    progress.finished = True


async def run(index: RequestIndex, progress: Progress) -> None:
    """The pass inside ``serve``: logs every 10% and when done."""
    last = [-1]

    def report(p: Progress) -> None:
        tenth = int(10 * p.done / max(1, p.total))
        if tenth != last[0]:
            last[0] = tenth
            log.info("linking: embedded %d of %d indexed requests", p.done, p.total)

    try:
        await asyncio.to_thread(embed_all, index, progress, report=report)
    except Exception as exc:  # the index is a cache; words still link meanwhile
        log.warning("linking: embedding the index stopped: %s", exc)
    if progress.total:
        log.info("linking: every indexed request has its vector (%d embedded)", progress.done)
