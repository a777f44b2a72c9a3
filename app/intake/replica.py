"""One of several Flywheel processes on one PostgreSQL database: what makes it a replica.

It gets a name (its claims and notices carry it), listens to the others, and
keeps its caches current with theirs: comment writes go through the shared
clock and lock (``replica_writes.py``), a label someone removed is announced,
and a gap in what it heard drops the labels it remembers adding.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass

from ..plan.comments import LABEL_REMOVED, Caches
from ..store.journal_pg import PgJournal
from .notices import Notices
from .replica_writes import SharedCommentWrites


def replica_name() -> str:
    """Unique per process: a restarted replica does not inherit its old claims' leases."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass
class Replica:
    name: str
    notices: Notices

    async def stop(self) -> None:
        await self.notices.stop()


async def join(journal: PgJournal, dsn: str, caches: Caches) -> Replica:
    name = replica_name()
    notices = Notices(dsn, name, journal.pool)
    caches.comment_writes = SharedCommentWrites(journal.pool, notices)
    caches.announce = notices.publish
    notices.handlers[LABEL_REMOVED] = lambda body: caches.heard(LABEL_REMOVED, body)
    notices.on_gap.append(caches.labels_added.clear)
    await notices.start()
    return Replica(name, notices)
