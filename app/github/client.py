"""The one GitHub client: installation tokens, REST and GraphQL, back-off, caches, counting.

gidgethub does the HTTP plumbing, the app JWT and the ETag cache; this module
adds what an App with many installations needs on top: one client per
installation sharing one session and one token cache, request-level retries
that never repeat a write which may have happened, GraphQL that keeps partial
data, and one place where GitHub's failures are sorted into "try again
later" and "this will not work".
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import cachetools
import gidgethub
import gidgethub.aiohttp

from ..observe.metrics import Metrics
from .errors import (
    GraphQLError,
    PermanentGitHubError,
    TransientGitHubError,
    classify,
    is_rate_limited,
    retry_after_seconds,
)
from .operations import operation_of

log = logging.getLogger("flywheel.github")

USER_AGENT = "flywheel-community-bot"
# Waits longer than this are not slept inside a request: the delivery is handed
# back to the worker, which postpones it without holding a worker slot.
MAX_INLINE_WAIT_SECONDS = 5.0
INLINE_ATTEMPTS = 3
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "PATCH"})
# POSTs whose repetition changes nothing: adding labels or assignees already there, a reaction
# already given (GitHub answers 200), a label that exists (422, which the executor accepts), a
# redelivery asked twice. Creating a comment or an issue is not among them.
_IDEMPOTENT_POST = re.compile(r"/(labels|assignees|reactions)$|/app/hook/deliveries/\d+/attempts$")


# GraphQL mutations that do something again when sent again (the others we use set a state).
ONCE_ONLY_MUTATIONS = (b"addComment(",)


def repeatable(method: str, url: str) -> bool:
    """Whether sending this request twice does no more than sending it once.

    >>> repeatable("POST", "https://api.github.com/repos/o/r/issues/4/labels")
    True
    >>> repeatable("POST", "https://api.github.com/repos/o/r/issues/4/comments")
    False
    """
    if method in IDEMPOTENT_METHODS:
        return True
    return method == "POST" and bool(_IDEMPOTENT_POST.search(url.split("?", 1)[0]))


@dataclass
class RateLimitState:
    remaining: int | None = None
    limit: int | None = None
    reset: float | None = None
    # Once GitHub says the allowance is spent (remaining 0, or a limit answer with a time to
    # wait), every call for this installation waits until then instead of being refused.
    held_until: float = 0.0

    def held_for(self, now: float) -> float:
        return max(0.0, self.held_until - now)


class GitHubClient(gidgethub.aiohttp.GitHubAPI):
    """An installation's client: counts every call, retries what is safe to retry."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        token: str | None,
        base_url: str,
        graphql_url: str,
        cache: cachetools.Cache[str, Any] | None,
        metrics: Metrics,
        rate: RateLimitState,
        timeout: float = 10.0,
        delivery_id: str | None = None,
    ) -> None:
        super().__init__(session, USER_AGENT, oauth_token=token, cache=cache, base_url=base_url)
        self.graphql_url = graphql_url
        self._metrics = metrics
        self._rate = rate
        self._timeout = timeout
        self.delivery_id = delivery_id

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        kind = "graphql" if url == self.graphql_url else "rest"
        headers = dict(headers)
        if self.delivery_id:
            # Undocumented, as Probot notes, but it lets GitHub support trace a call.
            headers["x-github-delivery"] = self.delivery_id
        attempt = 0
        while True:
            attempt += 1
            held = self._rate.held_for(time.time())
            if held > 0:  # GitHub said so already: asking again would only be refused
                self._metrics.github_calls.labels(kind=kind, status="held").inc()
                raise TransientGitHubError(
                    f"GitHub's rate limit for this installation is spent for {held:.0f} s more",
                    retry_after=held,
                )
            call_started = time.perf_counter()
            try:
                status, resp_headers, data = await asyncio.wait_for(
                    super()._request(method, url, headers, body), self._timeout
                )
            except (TimeoutError, aiohttp.ClientError) as exc:
                self._metrics.github_calls.labels(kind=kind, status="error").inc()
                if repeatable(method, url) and attempt < INLINE_ATTEMPTS:
                    await asyncio.sleep(_backoff(attempt))
                    continue
                raise TransientGitHubError(f"{method} {url}: {type(exc).__name__}") from exc
            self._metrics.github_calls.labels(kind=kind, status=str(status)).inc()
            self._metrics.github_call_seconds.labels(operation=operation_of(method, url)).observe(
                time.perf_counter() - call_started
            )
            self._note_rate_limit(resp_headers, status, data)
            wait = self._inline_retry_wait(
                method, url, kind, status, resp_headers, data, attempt, body
            )
            if wait is None:
                return status, resp_headers, data
            log.info(
                "github %s %s answered %s; retrying in %.1fs",
                method,
                url,
                status,
                wait,
                extra={"delivery": self.delivery_id},
            )
            await asyncio.sleep(wait)

    def _inline_retry_wait(
        self,
        method: str,
        url: str,
        kind: str,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        attempt: int,
        sent: bytes = b"",
    ) -> float | None:
        """A short wait before trying again, or None to hand the answer on.

        A rate-limited request was not performed, so any method may repeat it.
        A 5xx on a write may have been applied: only repeatable requests (and
        GraphQL documents whose mutations are all idempotent) repeat; a new
        comment is left to the delivery's retry, which looks before it writes.
        """
        if attempt >= INLINE_ATTEMPTS:
            return None
        if is_rate_limited(status, headers, body):
            wait = retry_after_seconds(status, headers, time.time())
            wait = _backoff(attempt) if wait is None else wait
            return wait if wait <= MAX_INLINE_WAIT_SECONDS else None
        graphql_repeatable = kind == "graphql" and not any(m in sent for m in ONCE_ONLY_MUTATIONS)
        if status >= 500 and (repeatable(method, url) or graphql_repeatable):
            return _backoff(attempt)
        return None

    def _note_rate_limit(
        self, headers: Mapping[str, str], status: int = 200, body: bytes = b""
    ) -> None:
        remaining = headers.get("x-ratelimit-remaining")
        if remaining is not None and remaining.isdigit():
            self._rate.remaining = int(remaining)
            limit = headers.get("x-ratelimit-limit", "")
            self._rate.limit = int(limit) if limit.isdigit() else self._rate.limit
            reset = headers.get("x-ratelimit-reset", "")
            self._rate.reset = float(reset) if reset.isdigit() else self._rate.reset
            if self._rate.remaining == 0 and self._rate.reset:
                self._rate.held_until = max(self._rate.held_until, self._rate.reset)
        if is_rate_limited(status, headers, body):
            wait = retry_after_seconds(status, headers, time.time())
            if wait is not None and wait > MAX_INLINE_WAIT_SECONDS:
                self._rate.held_until = max(self._rate.held_until, time.time() + wait)

    async def graphql_parts(
        self, query: str, **variables: Any
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Data and errors side by side, for a document whose parts succeed or fail alone
        (the aliases of a batch of writes); raises only when the request itself failed."""
        payload: dict[str, Any] = {"query": query}
        if variables:
            payload["variables"] = variables
        try:
            answer = await self.post(self.graphql_url, data=payload)
        except Exception as exc:
            raise classify(exc) from exc
        if not isinstance(answer, dict):
            raise PermanentGitHubError("GraphQL answer was not an object")
        errors = [e for e in answer.get("errors") or [] if isinstance(e, dict)]
        return answer.get("data") or {}, errors

    async def graphql_data(self, query: str, **variables: Any) -> dict[str, Any]:
        """Run a GraphQL document; partial data is returned, errors only raise without data.

        gidgethub's own ``graphql()`` raises on any ``errors`` entry and skips the
        request hooks, so we post through the REST machinery instead.
        """
        data, errors = await self.graphql_parts(query, **variables)
        if errors and not data:
            raise GraphQLError(errors)
        if errors:
            log.warning(
                "GraphQL partial answer: %s",
                "; ".join(str(e.get("message")) for e in errors),
                extra={"delivery": self.delivery_id},
            )
        return data or {}


def _backoff(attempt: int) -> float:
    return min(4.0, 0.25 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
