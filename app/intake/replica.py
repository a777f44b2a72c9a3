"""One of several Flywheel processes on one PostgreSQL database: what makes it a replica.

It gets a name (its claims and notices carry it), listens to the others, and
keeps its caches current with theirs: comment writes go through the shared
clock and lock (``replica_writes.py``), a label someone removed is announced,
and a gap in what it heard drops the labels it remembers adding. When its
facts or index change it says so (every ``CHANGES_EVERY`` seconds at most), so
a dashboard page another replica built before is built again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..plan.comments import LABEL_REMOVED, Caches
from ..store.journal_pg import PgJournal, autocommit_pool
from .notices import Notices
from .replica_writes import SharedCommentWrites

log = logging.getLogger("flywheel.replicas")


def replica_name() -> str:
    """Unique per process: a restarted replica does not inherit its old claims' leases."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


CHANGED = "data_changed"
LOCK_CONNECTIONS = 12  # + the journal's 10 + 6 single ones: about 28 a replica
CHANGES_EVERY = 2.0


@dataclass
class Replica:
    name: str
    notices: Notices
    locks: Any  # the comment locks' connection pool
    changed_elsewhere: int = 0  # the dashboard's pages are stale when this moves
    _watching: asyncio.Task[None] | None = None

    def watch(self, versions: Callable[[], int], every: float = CHANGES_EVERY) -> None:
        """Tell the others when what ``versions`` counts (our writes) has moved."""

        async def loop() -> None:
            said = versions()
            while True:
                await asyncio.sleep(every)
                now = versions()
                if now != said:
                    said = now
                    try:
                        await self.notices.publish(CHANGED, {})
                    except Exception as exc:  # the database restarting: say it next time
                        log.warning("could not tell the other replicas of a change: %s", exc)
                        said = -1

        self._watching = asyncio.create_task(loop())

    def _heard_change(self, body: dict[str, Any]) -> None:
        self.changed_elsewhere += 1

    async def stop(self) -> None:
        if self._watching is not None:
            self._watching.cancel()
            await asyncio.gather(self._watching, return_exceptions=True)
        await self.notices.stop()
        await self.locks.close()


async def join(journal: PgJournal, dsn: str, caches: Caches) -> Replica:
    name = replica_name()
    notices = Notices(dsn, name, journal.pool)
    # Comment locks hold a connection while their write is on its way to GitHub (seconds,
    # when GitHub is slow): a pool of their own, so intake and claims never wait behind them.
    locks = autocommit_pool(dsn, max_size=LOCK_CONNECTIONS)
    await locks.open(wait=True, timeout=30)
    caches.comment_writes = SharedCommentWrites(locks, notices)
    caches.announce = notices.publish
    notices.handlers[LABEL_REMOVED] = lambda body: caches.heard(LABEL_REMOVED, body)
    notices.on_gap.append(caches.labels_added.clear)
    replica = Replica(name, notices, locks)
    notices.handlers[CHANGED] = replica._heard_change
    notices.on_gap.append(lambda: replica._heard_change({}))
    await notices.start()
    return replica
