"""What Flywheel last wrote or read on GitHub about the network, for the dashboard to show.

The workflow issues, the links between requests, a consortium's members
and the Status of an issue on a board all live on GitHub (the issue, a
comment's marker data, a board item).
Reading them back for every page view would cost hundreds of calls, so the
processor notes the workflow issues it handles, and the executor what it
writes or checks: a related-requests comment, a consortium comment, a board
item. Like the
request index it shares ``FLYWHEEL_DB`` with, this is a cache: losing it
loses nothing, and it fills again as Flywheel acts (``/sync`` on an issue
refreshes that issue's facts).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config.model import Config
from ..workflows import forms, membership
from ..workflows import rules as workflows
from ..workflows.markers import LINKS_KEY
from .engine import connect, on_postgres
from .migrations import Steps

SCHEMA = """
CREATE TABLE IF NOT EXISTS fact_links (
    repo TEXT NOT NULL, number INTEGER NOT NULL,
    other_repo TEXT NOT NULL, other_number INTEGER NOT NULL,
    pinned INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (repo, number, other_repo, other_number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fact_members (
    repo TEXT NOT NULL, number INTEGER NOT NULL,
    community TEXT NOT NULL, roles TEXT NOT NULL, joined TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (repo, number, community)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fact_issues (
    repo TEXT NOT NULL, number INTEGER NOT NULL,
    workflow TEXT NOT NULL, community TEXT NOT NULL, title TEXT NOT NULL, state TEXT NOT NULL,
    private INTEGER NOT NULL, parent TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (repo, number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fact_board_status (
    repo TEXT NOT NULL, number INTEGER NOT NULL,
    board TEXT NOT NULL, status TEXT NOT NULL,
    PRIMARY KEY (repo, number, board)
) WITHOUT ROWID;
"""

# The same tables on PostgreSQL (versioned steps: append, never edit a released one).
STEPS = Steps(
    "facts",
    (
        """
        CREATE TABLE IF NOT EXISTS fact_links (
            repo TEXT COLLATE "C" NOT NULL, number INTEGER NOT NULL,
            other_repo TEXT COLLATE "C" NOT NULL, other_number INTEGER NOT NULL,
            pinned INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (repo, number, other_repo, other_number));
        CREATE TABLE IF NOT EXISTS fact_members (
            repo TEXT COLLATE "C" NOT NULL, number INTEGER NOT NULL,
            community TEXT NOT NULL, roles TEXT NOT NULL, joined TEXT NOT NULL DEFAULT '',
            by_login TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (repo, number, community));
        CREATE TABLE IF NOT EXISTS fact_issues (
            repo TEXT COLLATE "C" NOT NULL, number INTEGER NOT NULL,
            workflow TEXT NOT NULL, community TEXT NOT NULL, title TEXT NOT NULL,
            state TEXT NOT NULL, private INTEGER NOT NULL, parent TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (repo, number));
        CREATE TABLE IF NOT EXISTS fact_board_status (
            repo TEXT COLLATE "C" NOT NULL, number INTEGER NOT NULL,
            board TEXT COLLATE "C" NOT NULL, status TEXT NOT NULL,
            PRIMARY KEY (repo, number, board));
        """,
    ),
)
ISSUE_COLUMNS = "repo, number, workflow, community, title, state, private, parent"


@dataclass(frozen=True)
class Link:
    repo: str
    number: int
    other_repo: str
    other_number: int
    pinned: bool


@dataclass(frozen=True)
class Membership:
    repo: str  # the consortium issue
    number: int
    community: str
    roles: tuple[str, ...]
    joined: str
    by: str = ""  # who wrote the /join (the consortium comment's "joined by")


@dataclass(frozen=True)
class IssueFact:
    """A workflow issue (onboarding, offboarding, initiative, consortium) as last seen."""

    repo: str
    number: int
    workflow: str
    community: str
    title: str
    state: str
    private: bool
    parent: str  # "owner/repo#N" its backlink field names (an initiative's consortium), or ""


def issue_fact(
    config: Config, repository: Mapping[str, Any], issue: Mapping[str, Any]
) -> IssueFact | None:
    """The facts of a workflow issue from a payload; None for any other issue."""
    workflow = workflows.match_workflow(config, issue)
    repo, number = repository.get("full_name"), issue.get("number")
    if workflow is None or not isinstance(repo, str) or not isinstance(number, int):
        return None
    values = forms.read(workflow, issue.get("body"))
    labels = workflows.label_names(issue)
    parent = ""
    for other in config.workflows.values():
        for link in other.backlinks:
            if link.workflow == workflow.id and values.get(link.field):
                target = forms.resolve_issue_ref(values.get(link.field), repo)
                parent = f"{target[0]}#{target[1]}" if target else ""
    return IssueFact(
        repo=repo,
        number=number,
        workflow=workflow.id,
        community=workflows.community_of(workflow, values, labels),
        title=str(issue.get("title") or ""),
        state=str(issue.get("state") or "open"),
        private=bool(repository.get("private", True)),
        parent=parent,
    )


def _issue(ref: str) -> tuple[str, int] | None:
    repo, _, number = ref.partition("#")
    return (repo, int(number)) if "/" in repo and number.isdigit() else None


class Facts:
    """The journal's database (a SQLite file or PostgreSQL); writes are small and rare,
    reads serve the pages."""

    def __init__(self, location: Path | str = ":memory:") -> None:
        # A cache: a write lost to a crash is refilled later (synchronous=OFF, or off on PG).
        self.db = connect(
            location, sqlite_pragmas=("journal_mode=WAL", "synchronous=OFF"), cache=True
        )
        self.lock = threading.Lock()
        if on_postgres(self.db):
            self.db.migrate(STEPS)
        else:
            self.db.executescript(SCHEMA)
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(fact_members)")}
            if "by_login" not in columns:  # a file from before "joined by" was kept
                self.db.execute(
                    "ALTER TABLE fact_members ADD COLUMN by_login TEXT NOT NULL DEFAULT ''"
                )
        self.version = 0  # grows with every write: pages built from an older one are stale

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One transaction under the lock; pages built from the version before are stale."""
        with self.lock, self.db:
            self.version += 1
            yield

    # -- what the executor saw ----------------------------------------------------------

    def workflow_issue(self, fact: IssueFact, *, replace: bool = True) -> None:
        """Note a workflow issue; ``replace=False`` keeps what an issue event noted before."""
        on_conflict = (
            "DO UPDATE SET workflow=excluded.workflow, community=excluded.community,"
            " title=excluded.title, state=excluded.state, private=excluded.private,"
            " parent=excluded.parent"
            if replace
            else "DO NOTHING"
        )
        with self._writing():
            self.db.execute(
                f"INSERT INTO fact_issues ({ISSUE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)"
                f" ON CONFLICT (repo, number) {on_conflict}",
                (fact.repo, fact.number, fact.workflow, fact.community, fact.title, fact.state,
                 int(fact.private), fact.parent),
            )  # fmt: skip

    def comment(self, repo: str, number: int, key: str, data: Mapping[str, Any] | None) -> None:
        """A comment of ours holds this marker data now (written or found unchanged)."""
        if key == LINKS_KEY:
            self.links(repo, number, data or {})
        elif key.startswith(workflows.COMMENT_KEY_PREFIX) and "history" in (data or {}):
            history = membership.entries((data or {}).get("history"))  # a consortium's members
            self.members(repo, number, membership.members(history))

    def links(self, repo: str, number: int, data: Mapping[str, Any]) -> None:
        """The issue's related requests: automatic and pinned ones (private ones are hashes)."""
        rows = []
        for kind in ("auto", "pinned"):
            for ref in data.get(kind) or ():
                other = _issue(str(ref))
                if other is not None and other != (repo, number):
                    rows.append((repo, number, *other, int(kind == "pinned")))
        with self._writing():
            self.db.execute("DELETE FROM fact_links WHERE repo=? AND number=?", (repo, number))
            self.db.executemany(
                "INSERT INTO fact_links (repo, number, other_repo, other_number, pinned)"
                " VALUES (?,?,?,?,?) ON CONFLICT (repo, number, other_repo, other_number)"
                " DO UPDATE SET pinned=excluded.pinned",
                rows,
            )

    def members(self, repo: str, number: int, members: Sequence[membership.Member]) -> None:
        rows = [(repo, number, m.community, ",".join(m.roles), m.joined, m.by) for m in members]
        with self._writing():
            self.db.execute("DELETE FROM fact_members WHERE repo=? AND number=?", (repo, number))
            self.db.executemany(
                "INSERT INTO fact_members (repo, number, community, roles, joined, by_login)"
                " VALUES (?,?,?,?,?,?)",
                rows,
            )

    def board_status(self, repo: str, number: int, board: str, status: str | None) -> None:
        with self._writing():
            if status:
                self.db.execute(
                    "INSERT INTO fact_board_status (repo, number, board, status) VALUES (?,?,?,?)"
                    " ON CONFLICT (repo, number, board) DO UPDATE SET status=excluded.status",
                    (repo, number, board, status),
                )
            else:
                self.db.execute(
                    "DELETE FROM fact_board_status WHERE repo=? AND number=? AND board=?",
                    (repo, number, board),
                )

    # -- what the pages read ----------------------------------------------------------------

    def workflow_issues(self) -> list[IssueFact]:
        with self.lock:
            rows = self.db.execute(
                f"SELECT {ISSUE_COLUMNS} FROM fact_issues ORDER BY repo, number"
            ).fetchall()
        return [IssueFact(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7]) for r in rows]

    def all_links(self) -> list[Link]:
        with self.lock:
            rows = self.db.execute(
                "SELECT repo, number, other_repo, other_number, pinned FROM fact_links"
            ).fetchall()
        return [Link(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]

    def all_members(self) -> list[Membership]:
        with self.lock:
            rows = self.db.execute(
                "SELECT repo, number, community, roles, joined, by_login FROM fact_members"
            ).fetchall()
        return [Membership(r[0], r[1], r[2], tuple(filter(None, r[3].split(","))), r[4], r[5])
                for r in rows]  # fmt: skip

    def statuses(self) -> dict[tuple[str, int], str]:
        """Issue → its Status on a board (the first board, when it is on several)."""
        with self.lock:
            rows = self.db.execute(
                "SELECT repo, number, status FROM fact_board_status ORDER BY board"
            ).fetchall()
        found: dict[tuple[str, int], str] = {}
        for repo, number, status in rows:
            found.setdefault((repo, number), status)
        return found

    def forget(self, issues: Iterable[tuple[str, int]]) -> None:
        """Issues deleted or gone from the installation."""
        keys = list(issues)
        with self._writing():
            for table in ("fact_issues", "fact_links", "fact_members", "fact_board_status"):
                self.db.executemany(f"DELETE FROM {table} WHERE repo=? AND number=?", keys)
