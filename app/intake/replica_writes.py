"""Comment writes on one issue, one replica at a time, with conflicts seen across replicas.

In one process, ``CommentWrites`` serialises the comment writes on an issue
with a lock and counts them on a clock, so a delivery whose comment list
predates another delivery's write there runs again instead of undoing it.
Several replicas need the same across processes: the lock is also a
PostgreSQL advisory lock, and the clock is shared (``comment_clock``). Under
the lock a replica reads the issue's last write moment (the authority: a
write by any replica since its list was read is a conflict). Just before it
writes to GitHub it stores the moment of its write (``intend``), committed
before the write leaves: a replica killed between its write and anything after
it has still told the others, who then read the comments again rather than
write a second one. The others *hear* of the moment (a notice) only once the
write is answered: a list read while the write is on its way does not show
it, so it must not count as current from that moment.

A moment a replica has not heard of yet only makes it list again (a conflict
its retry resolves), never write over another replica's comment.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ..plan.actions import IssueRef
from ..plan.comments import CommentWrites
from .notices import Notices

log = logging.getLogger("flywheel.replicas")

KIND = "comment"
INTEND = (  # stored and committed (autocommit) before the write leaves
    "INSERT INTO comment_clock (issue, moment) VALUES (%s, nextval('comment_moments'))"
    " ON CONFLICT (issue) DO UPDATE SET moment = GREATEST(comment_clock.moment,"
    " excluded.moment) RETURNING moment"
)


class SharedCommentWrites(CommentWrites):
    def __init__(self, pool: Any, notices: Notices) -> None:
        super().__init__()
        self._pool, self._notices = pool, notices
        self._held: dict[IssueRef, Any] = {}  # issue → the connection holding its lock
        self._reserved: dict[IssueRef, int] = {}  # issue → the moment its write carries
        notices.handlers[KIND] = self._heard_notice

    def heard(self, issue: IssueRef, moment: int) -> None:
        """Another replica wrote on the issue at this moment (or the clock says so)."""
        if moment > self._writes.get(issue, 0):
            self._writes[issue] = moment
        self._clock = max(self._clock, moment)

    def wrote(self, issue: IssueRef) -> None:
        moment = self._reserved.get(issue)
        if moment is None:  # no write was announced (a read failed): count it here alone
            super().wrote(issue)
        else:
            self.heard(issue, moment)

    async def intend(self, issue: IssueRef) -> None:
        conn = self._held.get(issue)
        if conn is None:
            return
        row = await (await conn.execute(INTEND, (_key(issue),))).fetchone()
        self._reserved[issue] = int(row["moment"])

    @asynccontextmanager
    async def lock(self, issue: IssueRef) -> AsyncIterator[None]:  # type: ignore[override]
        key = _key(issue)
        async with super().lock(issue), self._pool.connection() as conn:
            await conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
            try:
                # A statement of its own: its snapshot is taken once the lock is ours.
                row = await (
                    await conn.execute("SELECT moment FROM comment_clock WHERE issue=%s", (key,))
                ).fetchone()
                self.heard(issue, int(row["moment"]) if row else 0)
                self._held[issue] = conn
                yield
            finally:
                self._held.pop(issue, None)
                moment = self._reserved.pop(issue, None)
                try:
                    if moment is not None:  # the write is answered (or failed): now say so
                        body = {"repo": issue.repo, "number": issue.number, "moment": moment}
                        await self._notices.publish(KIND, body, conn)
                    await conn.execute("SELECT pg_advisory_unlock_all()")
                except Exception as exc:  # the connection died: its locks died with it
                    log.warning("releasing the comment lock on %s: %s", issue, exc)

    def _heard_notice(self, body: dict[str, Any]) -> None:
        self.heard(IssueRef(str(body["repo"]), int(body["number"])), int(body["moment"]))


def _key(issue: IssueRef) -> str:
    return f"{issue.repo.lower()}#{issue.number}"
