"""Our webhook fixtures have GitHub's shape: every key GitHub's own examples carry, in every part
Flywheel reads (the payload, issue, comment, repository, sender, label).

The key lists come from ``@octokit/webhooks-examples`` (``tests/data/webhook_keys.py`` says how
to refresh them). Keys GitHub sends only sometimes are named here with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests import payloads
from tests.conftest import REPO, ROOT
from tests.fakegithub import FakeGitHub

KEYS = json.loads((ROOT / "tests" / "data" / "webhook-keys.json").read_text())
# Sent only in some deliveries of that kind: `changes` on `issues.opened` when the issue was
# transferred here; `installation` is absent from the examples (they are not App deliveries).
SOMETIMES = {("issues.opened", "", "changes")}


def builders(fake: FakeGitHub) -> dict[str, Callable[[], dict[str, Any]]]:
    issue = fake.add_issue(REPO, "Hub", "Body", labels=("support",))
    return {
        "issues.opened": lambda: payloads.issues_event(fake, issue, "opened"),
        "issues.edited": lambda: payloads.issues_event(
            fake, issue, "edited", changes={"body": {"from": "Before"}}
        ),
        "issues.labeled": lambda: payloads.issues_event(fake, issue, "labeled", label="support"),
        "issues.unlabeled": lambda: payloads.issues_event(fake, issue, "unlabeled", label="x"),
        "issues.reopened": lambda: payloads.issues_event(fake, issue, "reopened"),
        "issue_comment.created": lambda: payloads.comment_event(fake, issue, "/help"),
        "issue_comment.edited": lambda: payloads.comment_event(
            fake, issue, "- [x] done", action="edited"
        ),
    }


@pytest.mark.parametrize(
    "kind",
    ["issues.opened", "issues.edited", "issues.labeled", "issues.unlabeled", "issues.reopened",
     "issue_comment.created", "issue_comment.edited"],
)  # fmt: skip
def test_fixtures_carry_every_key_github_sends(kind: str, fake: FakeGitHub) -> None:
    ours = builders(fake)[kind]()
    missing = []
    for part, keys in KEYS[kind].items():
        have = ours if part == "" else ours.get(part) or {}
        for key in keys:
            if key not in have and (kind, part, key) not in SOMETIMES:
                missing.append(f"{part or '(payload)'}.{key}")
    assert missing == []
