"""What every ``flywheel`` subcommand shares: loading config and credentials or saying plainly
why not.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from ..config.errors import ConfigError
from ..config.loader import load_config
from ..config.model import Config
from ..settings import Settings, SettingsError

DEFAULT_FORMS = ".github/ISSUE_TEMPLATE"


def load_config_or_exit(directory: Path) -> Config:
    try:
        return load_config(directory)
    except ConfigError as exc:
        problems = getattr(exc, "errors", [exc])
        count = f"{len(problems)} problems" if len(problems) > 1 else "1 problem"
        print(f"flywheel: configuration refused ({count}):", file=sys.stderr)
        for problem in problems:
            print(f"  {Exception.__str__(problem)}", file=sys.stderr)
        raise SystemExit(2) from None


def live_settings_or_exit(command: str) -> Settings:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"flywheel: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if settings.dry_run:
        print(
            f"flywheel {command} reads GitHub, so it needs the App's credentials: set "
            "GITHUB_APP_ID and GITHUB_PRIVATE_KEY (or GITHUB_PRIVATE_KEY_PATH).",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return settings


def run_against_github(command: str, run: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """GitHub's refusals end the command with GitHub's reason, not a traceback."""
    from ..github.errors import PermanentGitHubError, TransientGitHubError

    try:
        return asyncio.run(run())
    except (PermanentGitHubError, TransientGitHubError) as exc:
        print(f"flywheel {command}: GitHub refused: {exc}", file=sys.stderr)
        return 2


def github_refuses_the_app(settings: Settings) -> str | None:
    """Live mode's one check at start (``GET /app`` with the App's JWT): why GitHub refuses
    these credentials, or None. A network problem is not a refusal: serve starts and says so."""
    import aiohttp

    from ..github.app import GitHubApp
    from ..github.errors import PermanentGitHubError
    from ..observe.metrics import standard_metrics

    async def ask() -> str | None:
        async with aiohttp.ClientSession() as session:
            github = GitHubApp.from_settings(session, settings, standard_metrics())
            try:
                found = await github.identity()
            except PermanentGitHubError as exc:
                if exc.status in (401, 403, 404):
                    return (
                        f"GitHub refused the App's credentials ({exc.status}): GITHUB_APP_ID "
                        f"{settings.app_id} and GITHUB_PRIVATE_KEY do not belong to one App "
                        f"on {settings.api_url}"
                    )
                raise
            except Exception as exc:
                print(f"flywheel: could not reach GitHub to check the App ({exc})", file=sys.stderr)
                return None
            print(f"GitHub App: {found.get('name', '?')} (id {found.get('id', '?')})", flush=True)
            return None

    return asyncio.run(ask())


def parse_window(text: str) -> float:
    """``6h``, ``90m``, ``2d`` or plain seconds → seconds (argparse type for --since).

    >>> parse_window("6h"), parse_window("90m"), parse_window("2d"), parse_window("30")
    (21600.0, 5400.0, 172800.0, 30.0)
    """
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    unit = units.get(text[-1:])
    number = text[:-1] if unit else text
    try:
        value = float(number) * (unit or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 6h, 90m or 2d") from None
    if not 0 < value <= 3 * 86400:
        raise argparse.ArgumentTypeError("give a window between a second and 3 days (GitHub's)")
    return value
