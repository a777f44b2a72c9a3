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
from datetime import datetime
from typing import Any

import aiohttp
import cachetools
import gidgethub
import gidgethub.aiohttp
from gidgethub import apps as gh_apps

from app.observe.metrics import Metrics
from app.settings import Settings

log = logging.getLogger("flywheel.github")

USER_AGENT = "flywheel-community-bot"
TOKEN_REFRESH_MARGIN_SECONDS = 5 * 60
# Waits longer than this are not slept inside a request: the delivery is handed
# back to the worker, which postpones it without holding a worker slot.
MAX_INLINE_WAIT_SECONDS = 5.0
INLINE_ATTEMPTS = 3
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "PATCH"})
# POSTs whose repetition changes nothing: adding labels or assignees already there, a reaction
# already given (GitHub answers 200), a label that exists (422, which the executor accepts), a
# redelivery asked twice. Creating a comment or an issue is not among them.
_IDEMPOTENT_POST = re.compile(r"/(labels|assignees|reactions)$|/app/hook/deliveries/\d+/attempts$")


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


class TransientGitHubError(Exception):
    """GitHub could not do it now; the same request later probably works."""

    # Whether waiting longer after each failure helps: it does when GitHub is struggling.
    escalates = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentGitHubError(Exception):
    """GitHub refused for a reason retrying will not fix (404, 422, permissions)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GraphQLError(PermanentGitHubError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        messages = "; ".join(str(e.get("message", e)) for e in errors) or "unknown error"
        super().__init__(f"GraphQL: {messages}")
        self.errors = errors


def retry_after_seconds(status: int, headers: Mapping[str, str], now: float) -> float | None:
    """How long GitHub asked us to wait, if it said so.

    >>> retry_after_seconds(429, {"retry-after": "30"}, 0)
    30.0
    >>> retry_after_seconds(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "100"}, 40)
    60.0
    >>> retry_after_seconds(403, {}, 0) is None
    True
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after" in lowered:
        try:
            return max(0.0, float(lowered["retry-after"]))
        except ValueError:
            return None
    if lowered.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in lowered:
        try:
            return max(0.0, float(lowered["x-ratelimit-reset"]) - now)
        except ValueError:
            return None
    return None


def is_rate_limited(status: int, headers: Mapping[str, str], body: bytes = b"") -> bool:
    """Primary and secondary limits: 429 always; 403 only with limit headers or wording.

    gidgethub raises ``RateLimitExceeded`` only for a 403 with zero remaining;
    secondary limits come back as plain 403/429 ``BadRequest``s.
    """
    if status == 429:
        return True
    if status != 403:
        return False
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after" in lowered or lowered.get("x-ratelimit-remaining") == "0":
        return True
    return b"rate limit" in body.lower()


def classify(exc: BaseException) -> BaseException:
    """Map any failure met while talking to GitHub to Transient or Permanent."""
    if isinstance(exc, TransientGitHubError | PermanentGitHubError):
        return exc
    if isinstance(exc, gidgethub.RateLimitExceeded):
        reset = exc.rate_limit.reset_datetime.timestamp() if exc.rate_limit else None
        wait = max(0.0, reset - time.time()) if reset else None
        return TransientGitHubError("primary rate limit exhausted", retry_after=wait)
    if isinstance(exc, gidgethub.GitHubBroken):
        return TransientGitHubError(f"GitHub answered {int(exc.status_code)}")
    if isinstance(exc, gidgethub.BadRequest):
        status = int(exc.status_code)
        headers = exc.headers or {}
        if is_rate_limited(status, headers, str(exc).encode()):
            return TransientGitHubError(
                f"secondary rate limit ({status})",
                retry_after=retry_after_seconds(status, headers, time.time()),
            )
        return PermanentGitHubError(f"GitHub answered {status}: {exc}", status=status)
    if isinstance(exc, gidgethub.HTTPException):
        return PermanentGitHubError(f"GitHub answered {int(exc.status_code)}: {exc}")
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ClientError | ConnectionError):
        return TransientGitHubError(f"network: {type(exc).__name__}: {exc}")
    return exc


@dataclass
class RateLimitState:
    remaining: int | None = None
    limit: int | None = None
    reset: float | None = None


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
            try:
                status, resp_headers, data = await asyncio.wait_for(
                    super()._request(method, url, headers, body), self._timeout
                )
            except (TimeoutError, aiohttp.ClientError) as exc:
                self._metrics.inc("flywheel_github_calls_total", kind=kind, status="error")
                if repeatable(method, url) and attempt < INLINE_ATTEMPTS:
                    await asyncio.sleep(_backoff(attempt))
                    continue
                raise TransientGitHubError(f"{method} {url}: {type(exc).__name__}") from exc
            self._metrics.inc("flywheel_github_calls_total", kind=kind, status=str(status))
            self._note_rate_limit(resp_headers)
            wait = self._inline_retry_wait(method, url, kind, status, resp_headers, data, attempt)
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
    ) -> float | None:
        """A short wait before trying again, or None to hand the answer on.

        A rate-limited request was not performed, so any method may repeat it.
        A 5xx on a write may have been applied: only repeatable requests (and
        GraphQL, whose mutations we only use in idempotent forms) repeat.
        """
        if attempt >= INLINE_ATTEMPTS:
            return None
        if is_rate_limited(status, headers, body):
            wait = retry_after_seconds(status, headers, time.time())
            wait = _backoff(attempt) if wait is None else wait
            return wait if wait <= MAX_INLINE_WAIT_SECONDS else None
        if status >= 500 and (repeatable(method, url) or kind == "graphql"):
            return _backoff(attempt)
        return None

    def _note_rate_limit(self, headers: Mapping[str, str]) -> None:
        remaining = headers.get("x-ratelimit-remaining")
        if remaining is not None and remaining.isdigit():
            self._rate.remaining = int(remaining)
            limit = headers.get("x-ratelimit-limit", "")
            self._rate.limit = int(limit) if limit.isdigit() else self._rate.limit
            reset = headers.get("x-ratelimit-reset", "")
            self._rate.reset = float(reset) if reset.isdigit() else self._rate.reset

    async def graphql_data(self, query: str, **variables: Any) -> dict[str, Any]:
        """Run a GraphQL document; partial data is returned, errors only raise without data.

        gidgethub's own ``graphql()`` raises on any ``errors`` entry and skips the
        request hooks, so we post through the REST machinery instead.
        """
        payload: dict[str, Any] = {"query": query}
        if variables:
            payload["variables"] = variables
        try:
            answer = await self.post(self.graphql_url, data=payload)
        except Exception as exc:
            raise classify(exc) from exc
        if not isinstance(answer, dict):
            raise PermanentGitHubError("GraphQL answer was not an object")
        errors = answer.get("errors") or []
        data = answer.get("data")
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


@dataclass
class _Token:
    token: str
    refresh_at: float


class GitHubApp:
    """Mints and caches installation tokens and hands out per-installation clients.

    Tokens are reused until shortly before they expire, so the ETag cache (keyed
    by URL, but valid per token) can actually answer with 304s.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        app_id: str,
        private_key: str,
        base_url: str,
        graphql_url: str,
        metrics: Metrics,
        timeout: float = 10.0,
    ) -> None:
        self._session = session
        self._app_id = app_id
        self._private_key = private_key
        self.base_url = base_url
        self.graphql_url = graphql_url
        self._metrics = metrics
        self._timeout = timeout
        self._tokens: cachetools.TLRUCache[int, _Token] = cachetools.TLRUCache(
            maxsize=4096, ttu=lambda _key, value, _now: value.refresh_at, timer=time.time
        )
        self._locks: dict[int, asyncio.Lock] = {}
        self.etag_cache: cachetools.LRUCache[str, Any] = cachetools.LRUCache(maxsize=4096)
        self.rate_limits: dict[int, RateLimitState] = {}

    @classmethod
    def from_settings(
        cls, session: aiohttp.ClientSession, settings: Settings, metrics: Metrics
    ) -> GitHubApp:
        assert settings.app_id and settings.private_key, "live mode needs App credentials"
        return cls(
            session,
            app_id=settings.app_id,
            private_key=settings.private_key,
            base_url=settings.api_url,
            graphql_url=settings.graphql_url,
            metrics=metrics,
            timeout=settings.github_timeout_seconds,
        )

    def _client(
        self, token: str | None, installation_id: int, delivery_id: str | None
    ) -> GitHubClient:
        return GitHubClient(
            self._session,
            token=token,
            base_url=self.base_url,
            graphql_url=self.graphql_url,
            cache=self.etag_cache,
            metrics=self._metrics,
            rate=self.rate_limits.setdefault(installation_id, RateLimitState()),
            timeout=self._timeout,
            delivery_id=delivery_id,
        )

    async def installation_token(self, installation_id: int) -> str:
        cached = self._tokens.get(installation_id)
        if cached is not None:
            return cached.token
        lock = self._locks.setdefault(installation_id, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(installation_id)
            if cached is not None:
                return cached.token
            minting = self._client(None, installation_id, None)
            try:
                answer = await gh_apps.get_installation_access_token(
                    minting,
                    installation_id=str(installation_id),
                    app_id=self._app_id,
                    private_key=self._private_key,
                )
            except Exception as exc:
                raise classify(exc) from exc
            expires = _parse_time(answer.get("expires_at")) or time.time() + 3600
            self._tokens[installation_id] = _Token(
                answer["token"], expires - TOKEN_REFRESH_MARGIN_SECONDS
            )
            return answer["token"]

    def _as_app(self) -> tuple[GitHubClient, str]:
        """A client and a fresh JWT, for the few endpoints answered to the App itself."""
        jwt = gh_apps.get_jwt(app_id=self._app_id, private_key=self._private_key)
        return self._client(None, 0, None), jwt

    async def installation_ids(self) -> list[int]:
        """Every installation of the App (for sweeps that no webhook starts, like reminders)."""
        client, jwt = self._as_app()
        try:
            return [i["id"] async for i in client.getiter("/app/installations", jwt=jwt)]
        except Exception as exc:
            raise classify(exc) from exc

    async def installation_for(self, org: str) -> int:
        """The id of the App's installation on an organisation (for ``flywheel setup``)."""
        client, jwt = self._as_app()
        try:
            answer = await client.getitem(f"/orgs/{org}/installation", jwt=jwt)
        except Exception as exc:
            raise classify(exc) from exc
        return int(answer["id"])

    async def hook_deliveries(self, since: float) -> list[dict[str, Any]]:
        """The App's webhook deliveries (attempts, redeliveries too) since a time, newest first.

        GitHub lists newest first and keeps three days; we stop at the first
        page that reaches back past ``since`` rather than reading them all.
        """
        client, jwt = self._as_app()
        found: list[dict[str, Any]] = []
        try:
            async for delivery in client.getiter("/app/hook/deliveries?per_page=100", jwt=jwt):
                delivered = _parse_time(delivery.get("delivered_at"))
                if delivered is not None and delivered < since:
                    break
                found.append(delivery)
        except Exception as exc:
            raise classify(exc) from exc
        return found

    async def redeliver(self, hook_delivery_id: int) -> None:
        """Ask GitHub to send a delivery again (same X-GitHub-Delivery guid, fresh signature)."""
        client, jwt = self._as_app()
        try:
            await client.post(f"/app/hook/deliveries/{hook_delivery_id}/attempts", data={}, jwt=jwt)
        except Exception as exc:
            raise classify(exc) from exc

    async def for_installation(
        self, installation_id: int, delivery_id: str | None = None
    ) -> GitHubClient:
        token = await self.installation_token(installation_id)
        return self._client(token, installation_id, delivery_id)


async def installation_repositories(gh: GitHubClient) -> list[str]:
    """The repositories an installation reaches, archived ones left out (nothing happens there)."""
    return [r["full_name"] for r in await installation_repository_objects(gh)]


async def installation_repository_objects(gh: GitHubClient) -> list[dict[str, Any]]:
    """The same repositories as GitHub describes them (``private`` matters to linking)."""
    return [
        r
        async for r in gh.getiter(
            "/installation/repositories?per_page=100", iterable_key="repositories"
        )
        if not r.get("archived")
    ]


def _parse_time(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
