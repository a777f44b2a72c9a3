"""Many writes, one request: the mutations a plan makes at one moment go as one GraphQL document.

A plan's writes are independent (labels on an issue, its comment, its board item,
a comment on a linked issue), and the executor starts them together. Each would be
a request of its own; here each mutation waits a few turns of the event loop for
the others, and they go as aliases of one document. GitHub counts one request
against the rate limit and 5 secondary-limit points for it, instead of one request
and 5 points per write. Each alias answers (or fails) on its own: GitHub returns
the data of those that worked beside the errors of those that did not.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .client import GitHubClient
from .errors import GraphQLError, PermanentGitHubError, TransientGitHubError
from .projects import ITEM_FIELDS

# mutation → (its input type, what to ask of its answer)
MUTATIONS: dict[str, tuple[str, str]] = {
    "addLabelsToLabelable": ("AddLabelsToLabelableInput", "clientMutationId"),
    "removeLabelsFromLabelable": ("RemoveLabelsFromLabelableInput", "clientMutationId"),
    "addComment": (
        "AddCommentInput",
        "commentEdge { node { id fullDatabaseId body url } }",
    ),
    "updateIssueComment": ("UpdateIssueCommentInput", "issueComment { id }"),
    "addProjectV2ItemById": ("AddProjectV2ItemByIdInput", "item { " + ITEM_FIELDS + " }"),
}
OPERATION = "FlywheelWrites"
GATHER_TURNS = 3  # event-loop turns a write waits for the plan's other writes to join it
COMING_WAIT = 0.05  # seconds a batch waits at most for writes announced as coming
MAX_MUTATIONS = 20  # per document: GitHub's secondary limits favour small documents


def document(kinds: list[str]) -> str:
    """The mutation with one alias per write, ``m0``…, each taking its input ``$m0``…."""
    variables = ", ".join(f"$m{i}: {MUTATIONS[k][0]}!" for i, k in enumerate(kinds))
    fields = "\n".join(
        f"  m{i}: {kind}(input: $m{i}) {{ {MUTATIONS[kind][1]} }}" for i, kind in enumerate(kinds)
    )
    uses_item = any(k == "addProjectV2ItemById" for k in kinds)
    fragment = (
        "\nfragment FieldId on ProjectV2FieldConfiguration {\n"
        "  ... on ProjectV2FieldCommon { id }\n}\n"
        if uses_item
        else ""
    )
    return f"mutation {OPERATION}({variables}) {{\n{fields}\n}}\n{fragment}"


@dataclass
class _Pending:
    kind: str
    input: dict[str, Any]
    answer: asyncio.Future[dict[str, Any]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class MutationBatch:
    """Collects the writes started together and sends them as one document."""

    def __init__(self, gh: GitHubClient) -> None:
        self.gh = gh
        self._pending: list[_Pending] = []
        self._flush: asyncio.Task[None] | None = None
        self._coming = 0
        self._arrived = asyncio.Event()
        self.documents = 0  # requests sent

    def announce(self) -> Callable[[], None]:
        """A write that will join after a short wait of its own (a lock shared by replicas,
        a database round trip away): the batch holds for it, ``COMING_WAIT`` at most. What
        this returns is called once the write has joined (``run(announced=…)``) or will not
        come; calling it twice is harmless."""
        self._coming += 1
        ready = False

        def arrived() -> None:
            nonlocal ready
            if not ready:
                ready = True
                self._coming -= 1
                self._arrived.set()

        return arrived

    async def run(
        self, kind: str, input: dict[str, Any], *, announced: Callable[[], None] | None = None
    ) -> dict[str, Any]:
        """The mutation's own answer (its alias's data); raises what its failure means.
        ``announced``: what ``announce`` gave for this write, called once it has joined."""
        pending = _Pending(kind, input)
        self._pending.append(pending)
        if announced is not None:
            announced()
        if self._flush is None or self._flush.done():
            self._flush = asyncio.ensure_future(self._send_soon())
        return await pending.answer

    async def _send_soon(self) -> None:
        for _ in range(GATHER_TURNS):
            await asyncio.sleep(0)
        if self._coming:
            deadline = asyncio.get_running_loop().time() + COMING_WAIT
            while self._coming and (left := deadline - asyncio.get_running_loop().time()) > 0:
                self._arrived.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(left):
                        await self._arrived.wait()
            for _ in range(GATHER_TURNS):  # the writes now ready take a few turns to join
                await asyncio.sleep(0)
        while self._pending:
            batch, self._pending = self._pending[:MAX_MUTATIONS], self._pending[MAX_MUTATIONS:]
            await self._send(batch)

    async def _send(self, batch: list[_Pending]) -> None:
        self.documents += 1
        variables = {f"m{i}": p.input for i, p in enumerate(batch)}
        try:
            data, errors = await self.gh.graphql_parts(
                document([p.kind for p in batch]), **variables
            )
        except BaseException as exc:  # the whole request failed: every write in it did
            for p in batch:
                if not p.answer.done():
                    p.answer.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        failed = {str(e["path"][0]): e for e in errors if e.get("path")}
        # An error naming no alias (the request's own limit spent, say) is every write's.
        general = next((e for e in errors if not e.get("path")), None)
        for i, p in enumerate(batch):
            alias = f"m{i}"
            if p.answer.done():
                continue
            if alias in failed or not isinstance(data.get(alias), dict):
                error = failed.get(alias) or general or {"message": f"{p.kind} answered nothing"}
                p.answer.set_exception(error_of(error))
            else:
                p.answer.set_result(data[alias])


def error_of(error: dict[str, Any]) -> Exception:
    """One alias's GraphQL error as our error kinds: limits and server trouble are retried."""
    kind = str(error.get("type", ""))
    message = f"{kind or 'GraphQL error'}: {error.get('message', '')}"
    if kind in ("RATE_LIMITED", "INTERNAL", "SERVICE_UNAVAILABLE"):
        return TransientGitHubError(message)
    if kind:
        return PermanentGitHubError(message)
    return GraphQLError([error])
