"""Comment writes on one issue, one replica at a time, with conflicts seen across replicas.

In one process, ``CommentWrites`` serialises the comment writes on an issue
with a lock and counts them on a clock, so a delivery whose comment list
predates another delivery's write there runs again instead of undoing it.
Several replicas need the same across processes: the lock is also a
PostgreSQL advisory lock (transaction-scoped), and the clock is shared. Under
the lock a replica reads the issue's last write moment from ``comment_clock``
(the authority: a write by any replica since its list was read is a conflict)
and reserves the moment its own write will carry; the moment is stored and
announced (a notice, so the others' lists start from it) in the same
transaction that releases the lock.

A moment a replica has not heard of yet only makes it list again (a conflict
its retry resolves), never write over another replica's comment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ..plan.actions import IssueRef
from ..plan.comments import CommentWrites
from .notices import Notices

KIND = "comment"


class SharedCommentWrites(CommentWrites):
    def __init__(self, pool: Any, notices: Notices) -> None:
        super().__init__()
        self._pool, self._notices = pool, notices
        self._reserved: dict[IssueRef, int] = {}  # issues this replica holds the lock of
        self._written: set[IssueRef] = set()
        notices.handlers[KIND] = self._heard_notice

    def heard(self, issue: IssueRef, moment: int) -> None:
        """Another replica wrote on the issue at this moment (or the clock says so)."""
        if moment > self._writes.get(issue, 0):
            self._writes[issue] = moment
        self._clock = max(self._clock, moment)

    def wrote(self, issue: IssueRef) -> None:
        moment = self._reserved.get(issue)
        if moment is None:  # not under the shared lock (nothing writes so): count locally
            super().wrote(issue)
            return
        self._written.add(issue)
        self.heard(issue, moment)

    @asynccontextmanager
    async def lock(self, issue: IssueRef) -> AsyncIterator[None]:  # type: ignore[override]
        key = f"{issue.repo.lower()}#{issue.number}"
        async with super().lock(issue), self._pool.connection() as conn:
            failure: BaseException | None = None
            async with conn.transaction():
                row = await (
                    await conn.execute(
                        "SELECT pg_advisory_xact_lock(hashtext(%s)),"
                        " (SELECT moment FROM comment_clock WHERE issue=%s) AS last,"
                        " nextval('comment_moments') AS mine",
                        (key, key),
                    )
                ).fetchone()
                self.heard(issue, int(row["last"] or 0))
                self._reserved[issue] = int(row["mine"])
                try:
                    yield
                except BaseException as exc:  # the clock still learns of a write that failed
                    failure = exc
                finally:
                    moment = self._reserved.pop(issue)
                    if issue in self._written:
                        self._written.discard(issue)
                        await conn.execute(
                            "INSERT INTO comment_clock (issue, moment) VALUES (%s, %s)"
                            " ON CONFLICT (issue) DO UPDATE"
                            " SET moment = GREATEST(comment_clock.moment, excluded.moment)",
                            (key, moment),
                        )
                        await self._notices.publish(
                            KIND, {"repo": issue.repo, "number": issue.number, "moment": moment},
                            conn,
                        )  # fmt: skip
            if failure is not None:
                raise failure

    def _heard_notice(self, body: dict[str, Any]) -> None:
        self.heard(IssueRef(str(body["repo"]), int(body["number"])), int(body["moment"]))
