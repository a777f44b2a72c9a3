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

A moment nobody announced, once every notice so far is heard, is a write its
replica died sending (SIGKILL between ``intend`` and the answer). The request
may still land at GitHub after the lock passed on; a list read then would miss
it, and a write made on that list would be overwritten by it. So the next
writer waits until ``SETTLE_SECONDS`` have passed since that moment was taken.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import cachetools

from ..plan.actions import IssueRef
from ..plan.comments import CommentWrites
from .notices import Notices

log = logging.getLogger("flywheel.replicas")

KIND = "comment"
NOW = "EXTRACT(EPOCH FROM clock_timestamp())"  # the server's clock: one for every replica
INTEND = (  # stored and committed (autocommit) before the write leaves
    "INSERT INTO comment_clock (issue, moment, intended_at)"
    f" VALUES (%s, nextval('comment_moments'), {NOW})"
    " ON CONFLICT (issue) DO UPDATE SET moment = GREATEST(comment_clock.moment,"
    " excluded.moment), intended_at = excluded.intended_at RETURNING moment"
)
LAST_WRITE = f"SELECT moment, {NOW} - intended_at AS age FROM comment_clock WHERE issue=%s"
# How long a request a dying replica had sent may take to land at GitHub.
SETTLE_SECONDS = 3.0


class SharedCommentWrites(CommentWrites):
    def __init__(self, pool: Any, notices: Notices, *, settle: float = SETTLE_SECONDS) -> None:
        super().__init__()
        self._pool, self._notices, self.settle = pool, notices, settle
        self._held: dict[IssueRef, Any] = {}  # issue → the connection holding its lock
        self._reserved: dict[IssueRef, int] = {}  # issue → the moment its write carries
        # issue → the last moment whose write was answered (announced, or ours)
        self._answered: cachetools.LRUCache[IssueRef, int] = cachetools.LRUCache(maxsize=65536)
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
            self._was_answered(issue, moment)

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
                row = await (await conn.execute(LAST_WRITE, (key,))).fetchone()
                if row is not None:
                    self.heard(issue, int(row["moment"]))
                    await self._settle(issue, int(row["moment"]), row["age"])
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

    async def _settle(self, issue: IssueRef, moment: int, age: float | None) -> None:
        """Wait out a write its replica may have died sending (see the module's note)."""
        if age is None or age >= self.settle or moment <= self._answered.get(issue, 0):
            return
        await self._notices.caught_up()  # its answer may be announced and not yet heard
        if moment <= self._answered.get(issue, 0):
            return
        log.info("%s: the last comment write was never answered (its replica stopped?);"
                 " waiting %.1f s for it to land", issue, self.settle - age)  # fmt: skip
        await asyncio.sleep(self.settle - age)

    def _was_answered(self, issue: IssueRef, moment: int) -> None:
        if moment > self._answered.get(issue, 0):
            self._answered[issue] = moment

    def _heard_notice(self, body: dict[str, Any]) -> None:
        issue, moment = IssueRef(str(body["repo"]), int(body["number"])), int(body["moment"])
        self.heard(issue, moment)
        self._was_answered(issue, moment)


def _key(issue: IssueRef) -> str:
    return f"{issue.repo.lower()}#{issue.number}"
