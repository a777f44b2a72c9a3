"""No log line, journal row, reply or open page carries the key, the secret or a token.

The real ``flywheel serve`` runs at DEBUG with deliveries that go wrong in
every way we know (bad and missing signatures, broken JSON, GitHub refusing
the token, 5xx, a 404 that fails a delivery for good, a refused command);
then everything it said or wrote is searched for the credentials.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests import payloads
from tests.commenting import replies
from tests.conftest import REPO, SECRET, sign
from tests.soak import app_env
from tests.test_commands_basic import plain_issue
from tests.test_service_process import free_port, start_flywheel


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_no_secret_in_logs_journal_replies_or_pages(
    fake: Any, fake_url: str, private_key: str, tmp_path: Path, log_format: str
) -> None:
    env = {
        **app_env(fake_url, private_key, tmp_path),
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "FLYWHEEL_LOG_FORMAT": log_format,
    }
    port = free_port()
    proc = await start_flywheel(env, port, "--log-level", "DEBUG")
    base = f"http://127.0.0.1:{port}"
    issue = plain_issue(fake)
    fake.fail_next(1, status=401, match="access_tokens")
    fake.fail_next(2, status=502, match="/labels")
    fake.fail_mutation(8, match=f"addComment {issue.node_id}")

    async def post(event: str, data: Any, *, secret: str | None = SECRET, raw: bytes = b"") -> int:
        body = raw or json.dumps(data).encode()
        headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": f"d-{len(statuses)}"}
        headers["Content-Type"] = "application/json"
        if secret is not None:
            headers["X-Hub-Signature-256"] = sign(body, secret)
        async with session.post(base + "/webhook", data=body, headers=headers) as r:
            return r.status

    statuses: list[int] = []
    pages: list[str] = []
    async with aiohttp.ClientSession() as session:
        try:
            opened = payloads.issues_event(fake, issue, "opened")
            statuses.append(await post("issues", opened))
            statuses.append(await post("issues", opened, secret="wrong"))
            statuses.append(await post("issues", opened, secret=None))
            statuses.append(await post("issues", None, raw=b"{not json"))
            cid = fake.add_comment(REPO, issue.number, "/close", user="mallory")
            refused = payloads.comment_event(
                fake, issue, "/close", author="mallory", association="NONE", comment_id=cid
            )
            statuses.append(await post("issue_comment", refused))
            other = plain_issue(fake, "Our hub needs a GPU profile")
            cid = fake.add_comment(REPO, other.number, "/close", user="mallory")
            refused = payloads.comment_event(
                fake, other, "/close", author="mallory", association="NONE", comment_id=cid
            )
            statuses.append(await post("issue_comment", refused))
            for _ in range(200):
                async with session.get(base + "/healthz") as r:
                    health = await r.json()
                if (
                    health["journal"]["depth"] == 0
                    and health["journal"]["done"] + health["journal"]["failed"] >= 3
                ):
                    break
                await asyncio.sleep(0.1)
            for path in ("/healthz", "/metrics", "/", "/nope"):
                async with session.get(base + path) as r:
                    pages.append(await r.text())
        finally:
            proc.send_signal(signal.SIGTERM)
            output = proc.communicate(timeout=30)[0].decode()
    assert statuses == [202, 401, 401, 400, 202, 202], statuses
    with sqlite3.connect(tmp_path / "flywheel.db") as conn:
        rows = conn.execute("SELECT state, error, outcome FROM deliveries").fetchall()
    assert any(state == "failed" and "NOT_FOUND" in (error or "") for state, error, _ in rows), rows
    said = "\n".join(
        [output, *pages, *(str(r) for r in rows)] + [c["body"] for c in fake.comments.values()]
    )
    if log_format == "json":
        lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        failed = [line for line in lines if "failed" in line["message"] and "delivery" in line]
        assert failed and all(line["repository"] == REPO for line in failed), "keyed lines"
    (reply,) = replies(fake, other)
    assert "was not run" in reply, "the refusal was written, and searched"
    key_lines = [line for line in private_key.splitlines() if "PRIVATE KEY" not in line]
    assert fake.credentials_seen, "the app did authenticate"
    for secret in [SECRET, *key_lines, *fake.credentials_seen, *fake.tokens]:
        assert secret not in said, f"a credential leaked: {secret[:12]}…"
