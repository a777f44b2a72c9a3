"""What every handler is given: the delivery, the config, read access, and the plan it adds to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gidgethub import sansio

from .actions import Action, IssueRef
from .comments import CommentLists

if TYPE_CHECKING:
    from ..config.model import Config
    from ..github.client import GitHubClient
    from ..github.permissions import PermissionChecker
    from ..linking.index import RequestIndex
    from ..store.journal import Journal
    from .comments import Caches


@dataclass
class HandlerContext:
    delivery_id: str
    event: sansio.Event
    config: Config
    journal: Journal
    gh: GitHubClient | None  # None in dry-run: handlers plan from the payload alone
    plan: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    comments: CommentLists = field(default_factory=CommentLists)  # shared with the executor
    caches: Caches | None = None  # process-wide: boards, repo labels, representatives
    permissions: PermissionChecker | None = None  # process-wide, answers cached briefly
    index: RequestIndex | None = None  # every community request: what linking searches
    app_login: str = ""  # our own bot's login ("slug[bot]"), "" when GitHub could not say
    link_key: bytes = b""  # keys the digests that name private issues in public markers
    retry: bool = False  # an earlier attempt of this delivery ran (and may have written locally)
    # What a comment's commands settled ({"comment": id, "keys": [...]}): kept in the
    # journal so that a late, older command does not undo it (slash/overtaken.py).
    decided: dict[str, Any] | None = None

    @property
    def data(self) -> dict[str, Any]:
        return self.event.data

    @property
    def can_read(self) -> bool:
        return self.gh is not None

    def add(self, *actions: Action) -> None:
        self.plan.extend(actions)

    def note(self, text: str) -> None:
        """Why something was (or was not) planned: kept in the journal for /why and the log."""
        self.notes.append(text)

    def issue_ref(self) -> IssueRef | None:
        repo = (self.data.get("repository") or {}).get("full_name")
        issue = self.data.get("issue") or {}
        number = issue.get("number") if isinstance(issue, dict) else None
        if isinstance(repo, str) and isinstance(number, int):
            return IssueRef(repo, number)
        return None


def is_from_bot(data: dict[str, Any]) -> bool:
    sender = data.get("sender") or {}
    return sender.get("type") == "Bot" or str(sender.get("login", "")).endswith("[bot]")


def ignored_sender(ctx: HandlerContext) -> bool:
    """Our own App's events never trigger work (no loops, no replays); other bots' do unless
    ``ignore_bots`` (the default) says to skip them. When GitHub could not say which bot we
    are, every bot is skipped: better a bot's issue unlabelled than a loop."""
    if not is_from_bot(ctx.data):
        return False
    login = str((ctx.data.get("sender") or {}).get("login", "")).lower()
    if not ctx.app_login or login == ctx.app_login.lower():
        return True
    return ctx.config.settings.ignore_bots
