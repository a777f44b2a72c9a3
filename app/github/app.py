"""The App itself: its JWT, installation tokens cached until shortly before they expire,
and one client per installation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import cachetools
from gidgethub import apps as gh_apps

from ..observe.metrics import Metrics
from ..settings import Settings
from .client import GitHubClient, RateLimitState
from .errors import classify

TOKEN_REFRESH_MARGIN_SECONDS = 5 * 60


log = logging.getLogger("flywheel.github")


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
        self._identity: dict[str, Any] | None = None

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

    async def identity(self) -> dict[str, Any]:
        """``GET /app``: the App as GitHub knows it (its slug names its bot: ``slug[bot]``).
        Also the check that the key and id are right: GitHub refuses a JWT they did not sign."""
        if self._identity is None:
            client, jwt = self._as_app()
            try:
                self._identity = dict(await client.getitem("/app", jwt=jwt))
            except Exception as exc:
                raise classify(exc) from exc
        return self._identity

    async def bot_login(self) -> str:
        """The login our own comments and labels carry; "" when GitHub cannot say."""
        try:
            return f"{(await self.identity())['slug']}[bot]"
        except Exception as exc:  # the App's own events are then told by being a bot at all
            log.warning("could not ask GitHub which bot this App is: %s", exc)
            return ""

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
