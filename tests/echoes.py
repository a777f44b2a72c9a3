"""GitHub's echoes: every change the App makes comes back to it as a webhook delivery.

GitHub sends ``issues.labeled`` for each label the App adds, ``issue_comment.created``
for its comment, ``issues.edited`` for a body it rewrites, and so on, each with the
App's bot as ``sender``. A fake that leaves them out measures an App that never
pays for its own writes; this module sends them, built from the fake's state at the
moment of the write (as GitHub's payload shows the issue after the change), to the
App's ``/webhook`` a moment after the write's answer.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from tests import payloads
from tests.fakegithub import FakeGitHub

BOT = "flywheel[bot]"  # the fake's GET /app answers slug "flywheel"

Send = Callable[[str, dict[str, Any]], Awaitable[Any]]


class Echoes:
    """Turns the fake's writes into deliveries and sends them; ``settled`` waits for all."""

    def __init__(self, fake: FakeGitHub, send: Send) -> None:
        self.fake = fake
        self.send = send
        self.sent: Counter[str] = Counter()  # "issues.labeled" → how many
        self._pending: set[asyncio.Task[Any]] = set()
        fake.write_listeners.append(self._on_write)

    def _on_write(self, what: str, details: dict[str, Any]) -> None:
        event, payload = self._payload(what, details)
        self.sent[f"{event}.{payload['action']}"] += 1
        task = asyncio.ensure_future(self._deliver(event, payload))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _deliver(self, event: str, payload: dict[str, Any]) -> None:
        await asyncio.sleep(0)  # after the write's answer, as GitHub's hooks are
        await self.send(event, payload)

    def _payload(self, what: str, details: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        issue = details["issue"]
        if what.startswith("comment "):
            comment = details["comment"]
            payload = payloads.comment_event(
                self.fake,
                issue,
                comment["body"],
                author=BOT,
                association="NONE",
                bot=True,
                comment_id=comment["id"],
                action=what.split()[1],
                previous=details.get("previous", ""),
            )
            return "issue_comment", payload
        payload = payloads.issues_event(
            self.fake,
            issue,
            what,
            sender=BOT,
            changes=details.get("changes"),
            label=details.get("label"),
        )
        if "assignee" in details:
            payload["assignee"] = payloads.user(details["assignee"])
        return "issues", payload

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def settled(self) -> None:
        """Every echo sent so far has been answered by the App."""
        while self._pending:
            await asyncio.gather(*list(self._pending))

    async def quiet(self, idle: Callable[[], Awaitable[None]], rounds: int = 50) -> None:
        """Until neither GitHub nor the App has anything left to do: echoes answered, the
        App's queue empty, and no new echo caused by what it did meanwhile."""
        for _ in range(rounds):
            await self.settled()
            await idle()
            if not self._pending:
                return
        raise AssertionError(f"still echoing after {rounds} rounds: {dict(self.sent)}")
