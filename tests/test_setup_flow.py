"""Zero to a running App: /setup posts the manifest to GitHub, /setup/callback exchanges the code
and writes .env (0600, never over an existing one), and the next start reads it."""

from __future__ import annotations

import json
import re
import stat
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from app.github.manifest import EVENTS, PERMISSIONS, app_manifest
from tests.conftest import Flywheel


@pytest.fixture
async def bare(make_flywheel: Any, fake_url: str, config: Any, tmp_path: Path) -> Flywheel:
    """Flywheel as a new user starts it: no credentials, dry-run."""
    return await make_flywheel(
        fake_url,
        config,
        live=False,
        env_file=tmp_path / ".env",
        public_url="https://flywheel.example.org",
        org="acme",
    )


async def test_setup_page_posts_the_manifest_built_from_the_table(bare: Flywheel) -> None:
    response = await bare.client.get("/setup")
    assert response.status == 200
    page = await response.text()
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    assert action and action.group(1).endswith("/organizations/acme/settings/apps/new")
    manifest = json.loads(unescape(re.search(r'name="manifest" value="([^"]+)"', page).group(1)))
    assert manifest == app_manifest("https://flywheel.example.org")
    assert manifest["default_permissions"] == {p.name: p.access for p in PERMISSIONS}
    assert set(manifest["default_events"]) == set(EVENTS)
    assert manifest["hook_attributes"]["url"] == "https://flywheel.example.org/webhook"
    assert manifest["redirect_url"] == "https://flywheel.example.org/setup/callback"
    assert re.search(r'name="state" value="[\w-]{20,}"', page)


async def state_of(flywheel: Flywheel) -> str:
    page = await (await flywheel.client.get("/setup")).text()
    return re.search(r'name="state" value="([\w-]+)"', page).group(1)  # type: ignore[union-attr]


async def test_the_callback_writes_env_once_and_the_next_start_reads_it(
    bare: Flywheel, fake: Any, tmp_path: Path, private_key: str
) -> None:
    fake.manifest_codes.add("code-1")
    fake.manifest_pem = private_key
    state = await state_of(bare)
    response = await bare.client.get(f"/setup/callback?code=code-1&state={state}")
    page = await response.text()
    assert response.status == 200, page
    assert "https://github.com/apps/flywheel-acme/installations/new" in page
    assert "wh-456" not in page and "PRIVATE KEY" not in page, "no secret on a page"
    env_file = tmp_path / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600

    from dotenv import dotenv_values

    values = dotenv_values(env_file)
    assert values["GITHUB_APP_ID"] == "424242"
    assert values["GITHUB_WEBHOOK_SECRET"] == "wh-456"
    assert values["GITHUB_PRIVATE_KEY"] == private_key.strip()
    from app.settings import Settings

    settings = Settings.from_env({k: v for k, v in values.items() if v is not None})
    assert settings.has_credentials and not settings.dry_run

    # Again (a reload, a second tab): the credentials are never overwritten.
    fake.manifest_codes.add("code-2")
    again = await bare.client.get(f"/setup/callback?code=code-2&state={state}")
    assert again.status == 409 and "does not overwrite" in await again.text()
    assert dotenv_values(env_file)["GITHUB_APP_ID"] == "424242"


async def test_a_forged_or_expired_code_gets_a_clear_page(bare: Flywheel, tmp_path: Path) -> None:
    forged = await bare.client.get("/setup/callback?code=x&state=not-ours")
    assert forged.status == 400 and "did not come from this Flywheel" in await forged.text()
    state = await state_of(bare)
    expired = await bare.client.get(f"/setup/callback?code=old&state={state}")
    assert expired.status == 400 and "expired" in await expired.text()
    assert not (tmp_path / ".env").exists()


async def test_no_setup_once_the_app_has_credentials(flywheel: Flywheel) -> None:
    assert (await flywheel.client.get("/setup")).status == 404


def test_app_yml_is_the_manifest_table() -> None:
    import yaml

    from tests.conftest import ROOT

    shipped = yaml.safe_load((ROOT / "app.yml").read_text())
    wanted = app_manifest("https://flywheel.example.org")
    assert shipped["default_permissions"] == wanted["default_permissions"]
    assert shipped["default_events"] == wanted["default_events"]


async def test_readyz_says_what_is_not_ready(flywheel: Flywheel, fake: Any) -> None:
    ready = await flywheel.client.get("/readyz")
    body = await ready.json()
    assert ready.status == 200 and body["ready"] and body["checks"]["credentials"] is True
    await flywheel.state.journal.close()  # the journal stops taking writes
    broken = await flywheel.client.get("/readyz")
    assert broken.status == 503 and (await broken.json())["checks"]["journal"] is False
    assert (await flywheel.client.get("/healthz")).status == 200, "alive all the same"
