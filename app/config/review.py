"""A pull request's config, checked as ``flywheel check-config`` would, at its head commit.

The files a PR can break (``workflow-config/``, ``templates/``, ``.github/ISSUE_TEMPLATE/``,
``.github/flywheel.yml``) are read through the contents API at the head SHA into a scratch
folder, and checked there: the schema, the templates, the forms against the workflows and
GitHub's form syntax, the repository override. Each problem comes back with the repository
path and line GitHub annotates.
"""

from __future__ import annotations

import base64
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..github.client import GitHubClient
from ..github.errors import PermanentGitHubError, classify
from .errors import ConfigError
from .formcheck import check_forms
from .loader import load_config
from .model import Config
from .overrides import OVERRIDE_PATH, apply_override

CONFIG_DIR, TEMPLATES_DIR, FORMS_DIR = "workflow-config", "templates", ".github/ISSUE_TEMPLATE"
WATCHED = (f"{CONFIG_DIR}/", f"{TEMPLATES_DIR}/", f"{FORMS_DIR}/", OVERRIDE_PATH)


@dataclass(frozen=True)
class Finding:
    path: str  # in the repository
    line: int
    message: str


def touches_config(filenames: list[str]) -> bool:
    return any(name == OVERRIDE_PATH or name.startswith(WATCHED) for name in filenames)


async def _read(gh: GitHubClient, repo: str, path: str, ref: str) -> Any:
    try:
        return await gh.getitem(f"/repos/{repo}/contents/{path}?ref={ref}")
    except Exception as exc:
        error = classify(exc)
        if isinstance(error, PermanentGitHubError) and error.status == 404:
            return None
        raise error from exc


async def _fetch(gh: GitHubClient, repo: str, path: str, ref: str, into: Path) -> bool:
    """The file or folder (one level, and its sub-folders) at ``ref``; False when absent."""
    answer = await _read(gh, repo, path, ref)
    if answer is None:
        return False
    if isinstance(answer, list):
        (into / path).mkdir(parents=True, exist_ok=True)
        for entry in answer:
            await _fetch(gh, repo, str(entry["path"]), ref, into)
        return True
    (into / path).parent.mkdir(parents=True, exist_ok=True)
    (into / path).write_bytes(base64.b64decode(str(answer.get("content", ""))))
    return True


async def review(gh: GitHubClient, repo: str, ref: str, central: Config) -> list[Finding]:
    """Every problem in the config files of ``repo`` at ``ref``."""
    findings: list[Finding] = []
    with tempfile.TemporaryDirectory(prefix="flywheel-review-") as scratch:
        root = Path(scratch)
        has_config = await _fetch(gh, repo, CONFIG_DIR, ref, root)
        await _fetch(gh, repo, TEMPLATES_DIR, ref, root)
        has_forms = await _fetch(gh, repo, FORMS_DIR, ref, root)
        override = await _read(gh, repo, OVERRIDE_PATH, ref)
        config = central
        if has_config:
            try:
                config = load_config(root / CONFIG_DIR)
            except ConfigError as exc:
                for problem in getattr(exc, "errors", [exc]):
                    findings.append(_finding(problem, root))
        if has_forms:
            for drift in check_forms(config, root / FORMS_DIR):
                findings.append(Finding(f"{FORMS_DIR}/{drift.file}", drift.line, drift.reason))
        if isinstance(override, dict):
            text = base64.b64decode(str(override.get("content", ""))).decode("utf-8", "replace")
            try:
                apply_override(text, config)
            except ConfigError as exc:
                findings.append(Finding(OVERRIDE_PATH, exc.line, exc.reason))
    return findings


def _finding(problem: ConfigError, root: Path) -> Finding:
    """A problem's file names a YAML file of the config folder or a template."""
    for folder in (CONFIG_DIR, TEMPLATES_DIR):
        if (root / folder / problem.file).exists():
            return Finding(f"{folder}/{problem.file}", problem.line, str(problem).split(": ", 1)[1])
    return Finding(f"{CONFIG_DIR}/{problem.file}", problem.line, problem.reason)
