"""A replica says it is alive by holding a session lock named after it, for as long as it runs.

A claim's lease tells a dead replica from a live one only once it runs out
(``FLYWHEEL_LEASE_SECONDS``, half a minute), so a replica restarted after a
crash, or the others after a SIGKILL, would wait that long for the work it
held. PostgreSQL already knows sooner: a dead process's connections close and
its session locks go with them. So every replica holds
``pg_advisory_lock(LIVENESS_CLASS, hashtext(name))`` on a connection of its own
(``session_lock.py``), and the others take back the claims of a name whose lock
nobody holds (``ClaimingDispatcher``, once seen so for ``GONE_GRACE_SECONDS``,
and not in the seconds after the server restarted: that drops every replica's
lock at once, and each takes its own again within a second or two).

The lock is tried, not waited for: another replica's name hashing like ours
(one pair in four billion) would otherwise stop this one starting. Until the
other lets go, ``held`` is False and the other's lock makes us look alive: the
safe way to be wrong.
"""

from __future__ import annotations

from ..store.journal_pg import LIVENESS_CLASS
from .session_lock import SessionLock

# A dropped connection is found, and the lock held again, this soon.
PING_SECONDS = 0.5


class Liveness(SessionLock):
    def __init__(self, dsn: str, name: str) -> None:
        super().__init__(
            dsn,
            "SELECT pg_try_advisory_lock(%s, hashtext(%s))",
            (LIVENESS_CLASS, name),
            what="that says this replica lives",
            every=PING_SECONDS,
        )
        self.name = name  # held before anything is claimed: no claim of ours looks orphaned
