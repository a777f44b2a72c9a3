"""Shared fixtures: the fake GitHub over real HTTP, and Flywheel driven over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import settings

from app.config.loader import load_config
from app.config.model import Config
from app.github.app import GitHubApp
from app.observe.metrics import standard_metrics
from app.service import STATE, AppState, create_app
from app.settings import Settings
from tests.fakegithub import FakeGitHub

# Hypothesis: the same examples on every CI run (a failure there is reproducible);
# `--hypothesis-profile=fuzz` draws 3,000 fresh ones a test (tests/test_fuzz.py).
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("fuzz", max_examples=3000, deadline=None)
settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
SECRET = "It's a Secret to Everybody"
ORG = "example-org"
REPO = "example-org/hubs"
PRIVATE_REPO = "example-org/private-requests"


@pytest.fixture(scope="session")
def private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def fake() -> FakeGitHub:
    gh = FakeGitHub()
    gh.add_installation(1, ORG)
    gh.add_repo(REPO)
    gh.add_repo(PRIVATE_REPO, private=True)
    return gh


@pytest.fixture
async def fake_url(fake: FakeGitHub, aiohttp_server: Callable[..., Any]) -> AsyncIterator[str]:
    server: TestServer = await aiohttp_server(fake.app)
    yield str(server.make_url("")).rstrip("/")
    assert not fake.unhandled, f"calls the fake does not know: {fake.unhandled}"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Flywheel:
    """The app under test, reached over HTTP like GitHub reaches it."""

    def __init__(self, client: TestClient, app: web.Application, fake: FakeGitHub) -> None:
        self.client = client
        self.app = app
        self.fake = fake
        self.printed: list[str] = []

    @property
    def state(self) -> AppState:
        return self.app[STATE]

    async def send(
        self,
        event: str,
        payload: dict[str, Any] | bytes,
        *,
        delivery_id: str | None = None,
        secret: str | None = SECRET,
        headers: dict[str, str] | None = None,
    ) -> Any:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent = {
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
            "User-Agent": "GitHub-Hookshot/abc123",
        }
        if secret is not None:
            sent["X-Hub-Signature-256"] = sign(body, secret)
        sent.update(headers or {})
        return await self.client.post("/webhook", data=body, headers=sent)

    async def deliver(self, event: str, payload: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Send and wait until processed; returns the journal row."""
        delivery_id = kwargs.pop("delivery_id", None) or str(uuid.uuid4())
        response = await self.send(event, payload, delivery_id=delivery_id, **kwargs)
        assert response.status in (200, 202), await response.text()
        await self.idle()
        row = await self.state.journal.get(delivery_id)
        assert row is not None, "delivery was not journaled"
        return row

    async def idle(self) -> None:
        assert self.state.dispatcher is not None
        await self.state.dispatcher.wait_idle(timeout=20)


@pytest.fixture
def config_dir() -> Path:
    return ROOT / "workflow-config"


@pytest.fixture
def config(config_dir: Path) -> Config:
    return load_config(config_dir)


# FLYWHEEL_TEST_ENGINE=postgresql runs every test that builds a Flywheel on a fresh
# PostgreSQL database instead of a SQLite file (.ci/run runs the end-to-end tests so).
ON_POSTGRES = os.environ.get("FLYWHEEL_TEST_ENGINE") == "postgresql"


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Where a test's Flywheel keeps its state: a SQLite file, or a PostgreSQL database."""
    if ON_POSTGRES:
        from tests import postgres

        cluster = request.getfixturevalue("postgres_cluster")
        return {"database_url": postgres.fresh_database(cluster)}
    return {"db_path": tmp_path / "flywheel.db"}


def stored_at(database: dict[str, Any]) -> str:
    """The ``database`` fixture as FLYWHEEL_DB says it, for a ``flywheel`` command."""
    return str(database.get("database_url") or database["db_path"])


@pytest.fixture
def make_flywheel(
    aiohttp_client: Callable[..., Any], fake: FakeGitHub, private_key: str, database: dict[str, Any]
) -> Callable[..., Any]:
    async def build(
        fake_url: str | None,
        config: Config,
        *,
        live: bool = True,
        secret: str | None = SECRET,
        router: Any = None,
        start_workers: bool = True,
        **overrides: Any,
    ) -> Flywheel:
        settings = Settings(
            app_id="12345" if live else None,
            private_key=private_key if live else None,
            webhook_secret=secret,
            api_url=fake_url or "https://api.github.invalid",
            **({} if "db_path" in overrides else database),
            **overrides,
        )
        printed: list[str] = []
        app = create_app(
            settings, config, router=router, emit=printed.append, start_workers=start_workers
        )
        client = await aiohttp_client(app)
        flywheel = Flywheel(client, app, fake)
        flywheel.printed = printed
        return flywheel

    return build


@pytest.fixture
async def flywheel(make_flywheel: Callable[..., Any], fake_url: str, config: Config) -> Flywheel:
    return await make_flywheel(fake_url, config)


@pytest.fixture
async def github(fake_url: str, private_key: str) -> AsyncIterator[GitHubApp]:
    async with aiohttp.ClientSession() as session:
        yield GitHubApp(
            session,
            app_id="12345",
            private_key=private_key,
            base_url=fake_url,
            graphql_url=fake_url + "/graphql",
            metrics=standard_metrics(),
        )


@pytest.fixture(scope="session")
def postgres_cluster() -> Any:
    """A throwaway PostgreSQL for the session (tests/postgres.py), or a skip with the reason."""
    from tests import postgres

    if postgres.binaries() is None:
        if postgres.REQUIRED:
            pytest.fail("PostgreSQL is required here (FLYWHEEL_POSTGRES_TEST=required)")
        pytest.skip("no PostgreSQL here (apt-get install postgresql to run these tests)")
    with postgres.cluster() as dsn:
        yield dsn


@pytest.fixture
def postgres_dsn(postgres_cluster: str) -> str:
    from tests import postgres

    return postgres.fresh_database(postgres_cluster)
