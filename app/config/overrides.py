"""A repository's own ``.github/flywheel.yml``: switch a workflow off, or send it elsewhere.

A hub repository may need its own team notified or its own board, without a
change to the central config. What it may override is deliberately small
(enabled, notify, assignees, board owner and number): enough for a team's
local needs, never enough to change what a workflow *is*. A broken override
never stops work: the central config is used and the problem is reported on
the issue that triggered it.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import re
from typing import Any

import cachetools
import yaml

from ..github.client import GitHubClient
from ..github.errors import PermanentGitHubError, classify
from . import yamlmarks
from .errors import ConfigError
from .model import HANDLE, BoardSpec, Config

log = logging.getLogger("flywheel.config")

OVERRIDE_PATH = ".github/flywheel.yml"
_FILE = OVERRIDE_PATH
_LOGIN = re.compile(r"^[A-Za-z0-9-]+$")


def _fail(container: Any, key: str | None, reason: str) -> ConfigError:
    return ConfigError(_FILE, yamlmarks.line_of(container, key), reason)


def _strings(
    container: dict[str, Any], key: str, pattern: re.Pattern[str], what: str
) -> tuple[str, ...]:
    value = container[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(container, key, f"{key!r} must be a list of {what}")
    for item in value:
        if not pattern.match(item):
            raise _fail(container, key, f"{item!r} is not {what}")
    return tuple(value)


def apply_override(text: str, base: Config) -> Config:
    """The central config with this repository's overrides; ConfigError (with line) if broken."""
    try:
        data = yamlmarks.load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ConfigError(
            _FILE, mark.line + 1 if mark else 0, f"not valid YAML: {exc.problem}"
        ) from None
    if data is None:
        return base
    if not isinstance(data, dict) or set(data) - {"workflows"}:
        raise _fail(data, None, "the file holds one key, 'workflows'")
    overrides = data.get("workflows") or {}
    if not isinstance(overrides, dict):
        raise _fail(data, "workflows", "'workflows' maps workflow names to overrides")
    workflows = dict(base.workflows)
    for name, spec in overrides.items():
        if name not in workflows:
            known = ", ".join(sorted(workflows))
            raise _fail(overrides, name, f"no workflow {name!r} to override (known: {known})")
        if not isinstance(spec, dict):
            raise _fail(overrides, name, f"the override of {name!r} must be a mapping")
        changes: dict[str, Any] = {}
        for key in spec:
            if key not in {"enabled", "notify", "assignees", "board"}:
                raise _fail(
                    spec, key, f"{key!r} cannot be overridden (enabled, notify, assignees, board)"
                )
        if "enabled" in spec:
            if not isinstance(spec["enabled"], bool):
                raise _fail(spec, "enabled", "'enabled' must be true or false")
            changes["enabled"] = spec["enabled"]
        if "notify" in spec:
            changes["notify"] = _strings(spec, "notify", HANDLE, "@user or @org/team")
        if "assignees" in spec:
            changes["assignees"] = _strings(spec, "assignees", _LOGIN, "a GitHub login")
        if "board" in spec:
            changes["board"] = _board(spec, workflows[name].board)
        workflows[name] = dataclasses.replace(workflows[name], **changes)
    return dataclasses.replace(base, workflows=workflows)


def _board(spec: dict[str, Any], current: BoardSpec | None) -> BoardSpec:
    board = spec["board"]
    if current is None:
        raise _fail(spec, "board", "this workflow has no board to move")
    if not isinstance(board, dict) or set(board) - {"owner", "number"}:
        raise _fail(spec, "board", "a board override gives 'owner' and/or 'number'")
    owner = board.get("owner", current.owner)
    number = board.get("number", current.number)
    if not isinstance(owner, str) or not _LOGIN.match(owner):
        raise _fail(board, "owner", "'owner' must be an organisation login")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise _fail(board, "number", "'number' must be a project number")
    return dataclasses.replace(current, owner=owner, number=number)


class RepoOverrides:
    """Reads each repository's override through the contents API, cached briefly."""

    def __init__(self, ttl: float = 60.0) -> None:
        self._texts: cachetools.TTLCache[str, str | None] = cachetools.TTLCache(
            maxsize=2048, ttl=ttl
        )
        self._said_forbidden = False

    async def _text(self, gh: GitHubClient, repo: str) -> str | None:
        if repo in self._texts:
            return self._texts[repo]
        try:
            answer = await gh.getitem(f"/repos/{repo}/contents/{OVERRIDE_PATH}")
        except Exception as exc:
            error = classify(exc)
            status = error.status if isinstance(error, PermanentGitHubError) else None
            if status not in (403, 404):
                raise error from exc
            if status == 403 and not self._said_forbidden:
                # The file is optional: without the permission there is simply no override.
                self._said_forbidden = True
                log.warning(
                    "GitHub refused to read %s in %s (403): the App lacks the Contents: read "
                    "permission, so repository overrides are ignored until it is granted",
                    OVERRIDE_PATH,
                    repo,
                )
            text = None
        else:
            raw = answer.get("content", "") if isinstance(answer, dict) else ""
            text = base64.b64decode(raw).decode("utf-8", errors="replace")
        self._texts[repo] = text
        return text

    async def config_for(
        self, gh: GitHubClient, repo: str, base: Config
    ) -> tuple[Config, ConfigError | None]:
        """The config for this repository, and the override's problem if it had to be ignored."""
        text = await self._text(gh, repo)
        if text is None:
            return base, None
        try:
            return apply_override(text, base), None
        except ConfigError as exc:
            return base, exc
