"""What people decided about links: the labelled pairs that say how well linking does here.

Every ``/link`` and ``/unlink``, and every possible connection the team confirms or
dismisses on the dashboard, is kept as a pair with the score linking gave it. They say
what precision people's decisions imply (of the links posted, how many were removed; of
the suggestions, how many were confirmed), and, once there are enough of them, where this
installation's posting threshold should be (``calibrated``). A dismissed pair is never
suggested again.

Kept in the request index's file beside it, but not part of the index: rebuilding the
index keeps them. Links pinned and removed by hand also live on GitHub (the comment's
marker data); dismissals live here only.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ..store.engine import Connection, on_postgres

SCHEMA = """
CREATE TABLE IF NOT EXISTS link_decisions (
    installation INTEGER NOT NULL,
    a TEXT NOT NULL,
    b TEXT NOT NULL,
    decision TEXT NOT NULL,
    score REAL,
    decided_by TEXT NOT NULL DEFAULT '',
    decided_at REAL NOT NULL,
    PRIMARY KEY (installation, a, b)
) WITHOUT ROWID;
"""

DECISIONS = ("confirm", "dismiss", "link", "unlink")
POSITIVE = ("confirm", "link")
CALIBRATION_FLOOR = 20  # decided pairs with a score before an installation's threshold moves
TARGET_PRECISION = 0.8
MAX_SHIFT = 0.1  # calibration moves the shipped threshold by at most this, either way


@dataclass(frozen=True)
class Summary:
    confirmed: int = 0
    dismissed: int = 0
    linked: int = 0
    unlinked: int = 0

    @property
    def suggestion_precision(self) -> float | None:
        """Of the suggestions decided, the share confirmed."""
        decided = self.confirmed + self.dismissed
        return self.confirmed / decided if decided else None

    @property
    def total(self) -> int:
        return self.confirmed + self.dismissed + self.linked + self.unlinked


def pair(a: str, b: str) -> tuple[str, str]:
    first, second = sorted((a.lower(), b.lower()))
    return first, second


class Decisions:
    def __init__(self, db: Connection, lock: threading.Lock) -> None:
        self.db, self.lock = db, lock
        if not on_postgres(db):  # PostgreSQL: the index's migrations made the table
            with lock:
                db.executescript(SCHEMA)

    def record(
        self,
        installation: int,
        a: str,
        b: str,
        decision: str,
        *,
        score: float | None = None,
        by: str = "",
    ) -> None:
        """The latest decision about a pair is the one that counts."""
        if decision not in DECISIONS:
            raise ValueError(f"unknown decision {decision!r}")
        first, second = pair(a, b)
        with self.lock, self.db:
            self.db.execute(
                "INSERT INTO link_decisions (installation, a, b, decision, score, decided_by,"
                " decided_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT (installation, a, b)"
                " DO UPDATE SET decision=excluded.decision, score=excluded.score,"
                " decided_by=excluded.decided_by, decided_at=excluded.decided_at",
                (installation, first, second, decision, score, by, time.time()),
            )

    def decided(self, installation: int) -> dict[tuple[str, str], str]:
        with self.lock:
            rows = self.db.execute(
                "SELECT a, b, decision FROM link_decisions WHERE installation=?", (installation,)
            ).fetchall()
        return {(str(a), str(b)): str(d) for a, b, d in rows}

    def summary(self, installation: int) -> Summary:
        with self.lock:
            rows = self.db.execute(
                "SELECT decision, COUNT(*) FROM link_decisions WHERE installation=?"
                " GROUP BY decision",
                (installation,),
            ).fetchall()
        counts = {str(d): int(n) for d, n in rows}
        return Summary(
            counts.get("confirm", 0),
            counts.get("dismiss", 0),
            counts.get("link", 0),
            counts.get("unlink", 0),
        )

    def calibrated(self, installation: int, shipped: float) -> float:
        """The posting threshold people's decisions support here, or ``shipped``.

        With at least ``CALIBRATION_FLOOR`` decided pairs that carry a score: the lowest
        threshold above which at least 80% of the decided pairs were kept (confirmed or
        linked by hand), moved at most ``MAX_SHIFT`` from the shipped one. Fewer decisions
        say too little, and the shipped threshold stands.
        """
        with self.lock:
            rows = self.db.execute(
                "SELECT score, decision FROM link_decisions"
                " WHERE installation=? AND score IS NOT NULL",
                (installation,),
            ).fetchall()
        if len(rows) < CALIBRATION_FLOOR:
            return shipped
        scored = sorted(((float(s), d in POSITIVE) for s, d in rows), reverse=True)
        best = None
        kept = 0
        for total, (score, positive) in enumerate(scored, start=1):
            kept += positive
            if kept / total >= TARGET_PRECISION:
                best = score
        if best is None:
            return round(shipped + MAX_SHIFT, 3)
        return round(min(shipped + MAX_SHIFT, max(shipped - MAX_SHIFT, best)), 3)
