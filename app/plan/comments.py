"""What one delivery, and the process, know of GitHub between calls: comment lists, boards, labels.

Comment lists are shared by the handlers and the executor of one delivery, and writes are
counted per issue across deliveries, so a delivery that listed before another wrote knows to
list again instead of writing a second comment.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import cachetools

from ..github import projects
from ..github.client import GitHubClient
from ..github.errors import PermanentGitHubError, TransientGitHubError
from ..workflows import markers
from .actions import IssueRef

LABEL_REMOVED = "label_removed"


class Caches:
    """What stays true for minutes across deliveries: board and field ids, labels a repo has.

    Kept per process; losing them costs a read, never a wrong write.
    """

    def __init__(self, ttl: float = 600.0) -> None:
        self._boards: cachetools.TTLCache[tuple[str, int], projects.Board] = cachetools.TTLCache(
            maxsize=256, ttl=ttl
        )
        # repo → its labels' GitHub ids by lower-case name ("" when not known)
        self.repo_labels: cachetools.TTLCache[str, dict[str, str]] = cachetools.TTLCache(
            maxsize=1024, ttl=ttl
        )
        # registry repo → community → logins that speak for it; a minute, as people change
        self.representatives: cachetools.TTLCache[str, Mapping[str, frozenset[str]]] = (
            cachetools.TTLCache(maxsize=256, ttl=60)
        )
        # Labels this process added to an issue and nobody removed since (an ``unlabeled``
        # delivery forgets one): a payload or index entry from before our write lacks them,
        # yet they need no second write, and a removal must not be skipped for that.
        self.labels_added: cachetools.LRUCache[IssueRef, set[str]] = cachetools.LRUCache(
            maxsize=65536
        )
        # (board id, issue node id) → the fields this process saw filled on its item: a
        # request put on a board "filling empty fields only" once needs no second call.
        self.board_items: cachetools.TTLCache[tuple[str, str], frozenset[str]] = (
            cachetools.TTLCache(maxsize=65536, ttl=ttl)
        )
        # Issues' GitHub node ids, as payloads and lists name them: what GraphQL writes take.
        self.node_ids: cachetools.LRUCache[IssueRef, str] = cachetools.LRUCache(maxsize=65536)
        self.reported: set[str] = set()
        self.comment_writes = CommentWrites()
        # Replicas: tells the others of a change to what they keep here (notices.py).
        self.announce: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None

    def heard(self, kind: str, body: Mapping[str, Any]) -> None:
        """Another replica's announcement (``announce``) applied to this one's caches."""
        if kind == LABEL_REMOVED:
            self.label_removed(IssueRef(str(body["repo"]), int(body["number"])), str(body["name"]))

    async def board(self, gh: GitHubClient, owner: str, number: int) -> projects.Board:
        key = (owner.lower(), number)
        board = self._boards.get(key)
        if board is None:
            data = await gh.graphql_data(projects.PROJECT_FIELDS, owner=owner, number=number)
            board = projects.parse_board(owner, number, data)
            if board is None:
                raise PermanentGitHubError(
                    f"board {owner}/{number} not found, or the App cannot see it "
                    "(it needs the Organization projects permission)"
                )
            self._boards[key] = board
        return board

    def note_node_id(self, issue: IssueRef, node_id: object) -> None:
        """GitHub's id of an issue, as a payload, a list or the index names it."""
        if isinstance(node_id, str) and node_id:
            self.node_ids[issue] = node_id

    def label_removed(self, issue: IssueRef, name: str) -> None:
        self.labels_added.get(issue, set()).discard(name.lower())

    def report_once(self, problem: str) -> bool:
        """True the first time a problem is seen in this process, so it is logged once."""
        if problem in self.reported:
            return False
        self.reported.add(problem)
        return True


class CommentConflict(TransientGitHubError):
    """Another delivery wrote on an issue after this one read it: run this one again.

    A race among our own deliveries, not trouble at GitHub: it is run again at
    once (a short jittered pause), however many times it raced before.
    """

    escalates = False


class CommentWrites:
    """Per-issue locks and the moment of each issue's last write, shared by every delivery.

    Deliveries about one issue run one at a time, but linking and consortia
    write comments on *other* issues too: two deliveries could both list a
    third issue's comments, find no comment of ours, and both create one, or
    one could overwrite what the other just wrote. A comment is therefore
    written under its issue's lock, and a delivery whose list predates another
    delivery's write there runs again (``CommentLists.current``). Moments are a
    process-wide counter, so a delivery can also take "now" before it reads an
    issue some other way (in a list of issues) and count from then.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[IssueRef, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._writes: cachetools.LRUCache[IssueRef, int] = cachetools.LRUCache(maxsize=65536)
        self._clock = 0
        self.since = time.time()  # writes before this (another process's) were not counted

    def lock(self, issue: IssueRef) -> asyncio.Lock:
        lock = self._locks.get(issue)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[issue] = lock
        return lock

    def now(self) -> int:
        return self._clock

    def last(self, issue: IssueRef) -> int:
        """The moment of our last write on the issue (0: none since the process started)."""
        return self._writes.get(issue, 0)

    def wrote(self, issue: IssueRef) -> None:
        self._clock += 1
        self._writes[issue] = self._clock

    async def intend(self, issue: IssueRef) -> None:
        """A write on the issue is about to leave (its lock held). Replicas record it
        before it does; one process has nothing to do."""


class CommentLists:
    """An issue's comments, listed once per delivery and shared by whoever needs them.

    Handlers read our marked comments' data (members) and the executor then
    finds the same comments to edit: one list serves both, and the executor's
    own writes are appended so later actions in the plan see them.
    """

    def __init__(self, writes: CommentWrites | None = None) -> None:
        self._lists: dict[IssueRef, asyncio.Future[list[dict[str, Any]]]] = {}
        self._writes = writes or CommentWrites()
        self._listed_at: dict[IssueRef, int] = {}

    def now(self) -> int:
        return self._writes.now()

    async def get(
        self, gh: GitHubClient, issue: IssueRef, *, since: int | None = None
    ) -> list[dict[str, Any]]:
        """``since``: the moment this delivery read the issue itself, when that was before
        this list (a write between the two is then a conflict too)."""
        task = self._lists.get(issue)
        if task is None:
            self._listed_at[issue] = self._writes.last(issue) if since is None else since
            task = asyncio.ensure_future(self._list(gh, issue))
            self._lists[issue] = task
        return await task

    def known_empty(self, issue: IssueRef) -> None:
        """The delivery's payload already says the issue has no comments, and nothing of ours
        was written there since (the caller checks both): no list to read."""
        if issue not in self._lists:
            self._listed_at[issue] = self._writes.last(issue)
            done: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
            done.set_result([])
            self._lists[issue] = done

    def wrote(self, issue: IssueRef) -> None:
        """This delivery wrote there (and updated its list): the list stays current."""
        self._writes.wrote(issue)
        if issue in self._listed_at:
            self._listed_at[issue] = self._writes.last(issue)

    def may_have_written(self, issue: IssueRef) -> None:
        """A write there failed without an answer: no list read before it is current."""
        self._writes.wrote(issue)

    async def current(self, gh: GitHubClient, issue: IssueRef) -> list[dict[str, Any]]:
        """The list, if no other delivery wrote on the issue since this one read it.

        Call it holding the issue's lock from ``CommentWrites``. When another
        delivery wrote there meanwhile, what this delivery planned may rest on
        the comment as it was (a pin, a member, a link): writing it would undo
        the other write. ``CommentConflict`` makes the worker run the delivery
        again, and its handlers then read the comment as it is.
        """
        listed = await self.get(gh, issue)
        if self._writes.last(issue) > self._listed_at.get(issue, 0):
            raise CommentConflict(f"{issue} was written by another delivery meanwhile")
        return listed

    async def marker_data(
        self, gh: GitHubClient, issue: IssueRef, key: str
    ) -> dict[str, Any] | None:
        """The data of our comment marked ``key``, or None when the issue has no such comment."""
        for comment in await self.get(gh, issue):
            found = markers.bot_markers(comment)
            if key in found:
                return found[key]
        return None

    @staticmethod
    async def _list(gh: GitHubClient, issue: IssueRef) -> list[dict[str, Any]]:
        url = f"/repos/{issue.repo}/issues/{issue.number}/comments?per_page=100"
        return [c async for c in gh.getiter(url)]
