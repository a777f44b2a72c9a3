"""``/setup``: register the GitHub App from the browser (GitHub's App-manifest flow).

Served by ``flywheel serve`` while it has no App credentials. One button posts the manifest
(permissions and events from ``github/manifest.py``) to GitHub; GitHub creates the App and sends
the browser back to ``/setup/callback?code=…``, where the code is exchanged
(``POST /app-manifests/{code}/conversions``) for the App's id, key and webhook secret. They are
written to ``.env`` in the working folder, readable by its owner only, and never over an existing
one; ``flywheel serve`` reads it at start. Nothing secret is ever shown on a page.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from ..github.manifest import app_manifest

log = logging.getLogger("flywheel.setup")

STATE = web.AppKey("flywheel_setup_state", dict)


def public_url(request: web.Request, configured: str | None) -> tuple[str, bool]:
    """Where GitHub will send webhooks, and whether it was guessed from this request."""
    if configured:
        return configured.rstrip("/"), False
    return f"{request.scheme}://{request.host}", True


def new_app_url(web_url: str, org: str | None) -> str:
    base = web_url.rstrip("/")
    return f"{base}/organizations/{org}/settings/apps/new" if org else f"{base}/settings/apps/new"


def env_text(answer: dict[str, Any]) -> str:
    """What GitHub gave, as ``.env`` lines python-dotenv reads (the key's lines quoted)."""
    pem = str(answer["pem"]).strip().replace("\r\n", "\n")
    return (
        "# Written by flywheel serve's /setup from GitHub's App-manifest flow. Keep it secret.\n"
        f"GITHUB_APP_ID={int(answer['id'])}\n"
        f"GITHUB_WEBHOOK_SECRET={answer['webhook_secret']}\n"
        f'GITHUB_PRIVATE_KEY="{pem}"\n'
        f"GITHUB_CLIENT_ID={answer.get('client_id', '')}\n"
        f"GITHUB_CLIENT_SECRET={answer.get('client_secret', '')}\n"
    )


def write_env(path: Path, text: str) -> None:
    """Created, never replaced, readable by its owner only (mode 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def add_routes(app: web.Application, sources: Any, render: Any) -> None:
    """``render(template, status, **context)`` is the dashboard's page renderer."""
    app[STATE] = {"state": secrets.token_urlsafe(24), "sources": sources, "render": render}
    app.router.add_get("/setup", setup_page)
    app.router.add_get("/setup/callback", setup_callback)


def not_finished(render: Any, status: int, problem: str) -> web.StreamResponse:
    return render("setup-done.html.j2", status=status, title="Setup not finished", problem=problem)


async def setup_page(request: web.Request) -> web.StreamResponse:
    setup = request.app[STATE]
    settings = setup["sources"].settings
    url, guessed = public_url(request, settings.public_url)
    manifest = app_manifest(url)
    return setup["render"](
        "setup.html.j2",
        title="Register the GitHub App",
        action=new_app_url(settings.web_url, settings.org),
        manifest=json.dumps(manifest),
        state=setup["state"],
        public_url=url,
        guessed=guessed,
        org=settings.org,
        permissions=manifest["default_permissions"],
        events=manifest["default_events"],
        has_credentials=settings.has_credentials,
    )


async def setup_callback(request: web.Request) -> web.StreamResponse:
    setup = request.app[STATE]
    sources, render = setup["sources"], setup["render"]
    settings = sources.settings
    code, state = request.query.get("code", ""), request.query.get("state", "")
    if not code or not secrets.compare_digest(state, setup["state"]):
        return not_finished(
            render,
            400,
            "This link did not come from this Flywheel's setup page "
            "(its state does not match). Start again from /setup.",
        )
    target = Path(settings.env_file)
    if target.exists():
        return not_finished(
            render,
            409,
            f"{target} exists already: Flywheel does not overwrite credentials. "
            "Move it away and start again from /setup, or set the variables by hand.",
        )
    api = settings.api_url.rstrip("/")
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{api}/app-manifests/{code}/conversions",
                headers={"Accept": "application/vnd.github+json", "User-Agent": "flywheel"},
                timeout=aiohttp.ClientTimeout(total=20),
            ) as response,
        ):
            answer = await response.json(content_type=None)
            status = response.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return not_finished(
            render,
            502,
            f"GitHub could not be asked for the App's credentials ({exc}). "
            "Try the button on /setup again.",
        )
    if status != 201 or not isinstance(answer, dict) or "pem" not in answer:
        return not_finished(
            render,
            400,
            f"GitHub did not hand over the App ({status}): the code has "
            "expired (it is valid for an hour) or was used already. The App may "
            "exist on GitHub now: delete it there, or set its credentials by hand, "
            "then start again from /setup.",
        )
    try:
        write_env(target, env_text(answer))
    except OSError as exc:
        return not_finished(
            render,
            500,
            f"{target} could not be written ({exc.strerror}). The App was "
            "created on GitHub: generate a key there and set the variables by hand.",
        )
    log.info("GitHub App %s (id %s) registered; credentials written to %s",
             answer.get("slug"), answer.get("id"), target)  # fmt: skip
    html_url = str(answer.get("html_url") or "")
    return render(
        "setup-done.html.j2",
        title="GitHub App registered",
        problem="",
        name=str(answer.get("name") or answer.get("slug") or "Flywheel"),
        env_file=str(target),
        install_url=f"{html_url}/installations/new" if html_url else "",
    )
